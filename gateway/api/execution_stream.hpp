#pragma once
// An HTTP client following an execution: the whole JSON answer when the cell ends, or its
// events as they come, NDJSON or Server-Sent Events, from any point (a client that comes
// back replays what it missed). Keepalives while the cell is silent, and the pace of the
// client: the next chunk is written once the last is on the wire.
#include "api/execution_runner.hpp"
#include "http/responder.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace cellbox::gateway
{

enum class stream_format
{
    json,   // application/json: the answer when the cell ends
    ndjson, // application/x-ndjson: one event per line
    sse,    // text/event-stream
};

// The format an Accept header asks for, or nothing when none of ours is acceptable.
std::optional<stream_format> negotiate_format(std::string_view accept);

struct follow_options
{
    stream_format format = stream_format::json;
    std::size_t from = 0; // the first event to send
    std::chrono::milliseconds keepalive{15000};
    // Called once if the client leaves before the end.
    std::function<void()> on_client_gone;
    // Called once when the whole answer was sent (or the client is gone).
    std::function<void()> on_over;
};

// Answers the request through `respond` by following `run` until it ends.
void follow_execution(const std::shared_ptr<execution_runner>& run,
                      std::shared_ptr<responder> respond, const std::string& location,
                      follow_options options);

// When the gateway's loop has stopped: every execution answer still being written is let go
// (its writes can no longer complete). Only on the server's thread, after its loop.
void release_followers();

} // namespace cellbox::gateway
