#pragma once

#include "protocol/kernel_message.hpp"
#include "protocol/message_fields.hpp"

#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace cellbox::gateway
{

// The per-cell output cap: the content bytes of a cell's outputs (stream, display data,
// results, errors), counted by the execute request they answer. Past the cap the cell's
// further output is discarded and its clients get one stderr notice instead, so a runaway
// print loop cannot flood them; the cell itself keeps running, and its status and reply
// (not outputs) still pass.
class output_limiter
{
public:
    explicit output_limiter(std::size_t max_bytes); // 0: no cap

    // What to forward in place of `message`: itself, nothing, or the notice.
    std::vector<kernel_message> filter(kernel_message message, const message_info& info);
    // Whether filter() may put the notice in its place (else what it forwards is `message`,
    // described by the same `info`).
    static bool may_replace(const message_info& info);

private:
    struct cell
    {
        std::size_t bytes = 0;
        bool over = false;
    };

    std::size_t m_max_bytes;
    std::map<std::string, cell> m_cells; // by parent msg_id, until the cell goes idle
};

} // namespace cellbox::gateway
