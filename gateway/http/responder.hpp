#pragma once
// How a route's handler answers its request: one whole response, or a streamed one whose body
// goes out in chunks as the handler produces them (Transfer-Encoding: chunked), over plain
// TCP or TLS alike. The transport behind it is http_session; handlers never see the socket.
#include "http/http_util.hpp"

#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/status.hpp>
#include <functional>
#include <string>

namespace cellbox::gateway
{

class responder
{
public:
    virtual ~responder() = default;

    // The whole response, at once or later. A responder answers once: either send(), or
    // start() with its writes and finish(); later calls are ignored.
    virtual void send(http_response res) = 0;

    // A streamed response: the status and headers (CORS and Transfer-Encoding are added), then
    // the body chunk by chunk. The connection closes after finish(): while streaming, the
    // transport reads the client's side only to notice it leaving.
    virtual void start(boost::beast::http::status status, boost::beast::http::fields headers) = 0;
    // Queues `chunk` (an empty one is skipped); `on_written(true)` once it is on the wire, or
    // `on_written(false)` when it never will be (the client left or was dropped). Always
    // called later, never from inside write(). Writing the next chunk from on_written is
    // the way to keep pace with the client; a client that stops reading is dropped once more
    // than the transport's queue limit waits for it, or when a chunk takes longer than the
    // write timeout.
    virtual void write(std::string chunk, std::function<void(bool written)> on_written) = 0;
    // Ends the body (the last chunk) once everything queued is written.
    virtual void finish() = 0;

    // `callback` runs once if the client goes away (closed, reset, dropped, timed out) before
    // the response is complete, so that work started for it can carry on without it, or stop.
    virtual void on_client_gone(std::function<void()> callback) = 0;
    virtual bool client_gone() const = 0;
};

} // namespace cellbox::gateway
