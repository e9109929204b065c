#pragma once

#include "protocol/kernel_message.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace cellbox::gateway
{

// A WebSocket frame of a kernel message as the pieces to send one after the other: the few
// bytes the framing adds (offset tables, the legacy JSON's keys) and the message's own parts,
// referred to, never copied. Every connection that relays a message builds its own small
// frame over the one shared copy (a 16 MiB output sent to 32 clients stays 16 MiB), and the
// socket writes the pieces as they are (scatter/gather).
//
// The frame points into `message`: it must outlive the frame (the outbox keeps the
// shared_message beside it). Moving a frame keeps its pieces valid.
class spliced_frame
{
public:
    // The pieces in order, valid until the frame is changed or destroyed.
    std::vector<std::string_view> pieces() const;
    std::size_t size() const { return m_size; }
    bool binary() const { return m_binary; }
    // The frame in one string (tests, and encode_v1 / encode_legacy).
    std::string flatten() const;

    // v1.kernel.websocket.jupyter.org: always binary.
    static spliced_frame v1(const kernel_message& message);
    // Legacy: JSON text, or binary with buffers. Throws protocol_error when a dict part is not
    // a JSON object (it would break out of its field).
    static spliced_frame legacy(const kernel_message& message);

private:
    // Into m_glue when `part` is null, else the whole of *part.
    struct piece
    {
        const std::string* part;
        std::size_t offset;
        std::size_t size;
    };
    void add_glue(std::string_view bytes);
    void add_part(const std::string& part);

    std::string m_glue; // every byte the framing adds
    std::vector<piece> m_pieces;
    std::size_t m_size = 0;
    bool m_binary = false;
};

} // namespace cellbox::gateway
