#pragma once
// The one seam for whoever talks to a kernel on a user's behalf: a WebSocket now, a streamed
// HTTP execution and an MCP session next. Each is a connection of a client session (the
// session id; a connection that comes back with it gets what it missed, from the kernel's
// replay buffer), with an id from one allocator (kernel_io routes by it) and a byte-bounded
// inbox that drops it if it stops reading.
#include "streams/client_inbox.hpp"
#include "streams/kernel_io.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace cellbox::gateway
{

// Every kernel client's connection id: unique in the gateway's life, never 0.
std::uint64_t next_connection_id();

class kernel_client
{
public:
    // `session_id` empty: the connection is a session of its own ("cellbox-<connection>").
    // `inbox_limit`: bytes waiting for the client before it is dropped (0: no limit).
    kernel_client(std::string user, std::string session_id, std::size_t inbox_limit);
    virtual ~kernel_client() = default;
    kernel_client(const kernel_client&) = delete;
    kernel_client& operator=(const kernel_client&) = delete;

    const std::string& user() const { return m_user; }
    std::uint64_t connection() const { return m_connection; }
    const std::string& session_id() const { return m_session_id; }

protected:
    client_inbox& inbox() const { return *m_inbox; }
    // For kernel_io::attach: puts the kernel's messages into the inbox on the I/O thread and
    // calls `wake` (which must only post to the client's executor) when the client must look
    // at it. Holds the inbox, not the client, which may go first.
    kernel_io::deliver_fn deliverer(std::function<void()> wake) const;
    // Stops taking messages: what was taken but not yet taken out, for kernel_io::detach,
    // which replays it to the session's next connection.
    std::vector<shared_message> stop_taking() { return m_inbox->close(); }

private:
    std::string m_user;
    std::uint64_t m_connection;
    std::string m_session_id;
    std::shared_ptr<client_inbox> m_inbox;
};

} // namespace cellbox::gateway
