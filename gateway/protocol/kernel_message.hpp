#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace cellbox::gateway
{

// A Jupyter message as the gateway relays it: the four dict parts stay the exact JSON bytes
// they arrived as (the v1 WebSocket protocol forwards them unchanged and the HMAC covers
// those bytes), buffers are raw bytes.
struct kernel_message
{
    std::string channel; // shell, iopub, stdin, control
    std::string header;
    std::string parent_header;
    std::string metadata;
    std::string content;
    std::vector<std::string> buffers;
};

// A message from a kernel on its way to clients: one immutable copy, shared by every replay
// buffer and WebSocket outbox that holds it (N sessions cost N pointers, not N copies).
using shared_message = std::shared_ptr<const kernel_message>;

// A frame or wire message that cannot be decoded; the text is meant for a log line.
class protocol_error : public std::runtime_error
{
public:
    using std::runtime_error::runtime_error;
};

} // namespace cellbox::gateway
