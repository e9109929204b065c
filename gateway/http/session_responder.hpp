#pragma once
// The responder (responder.hpp) of one request of an http_session: it answers once, with a
// whole response or a streamed one. A template over the session type, so that it needs only
// the session's send(), start_stream() and executor(); included by http_session.cpp alone.
#include "http/responder.hpp"
#include "http/response_stream.hpp"

#include <boost/asio/post.hpp>
#include <functional>
#include <memory>
#include <string>
#include <utility>

namespace cellbox::gateway
{

// A handler's way to answer one request of a session (responder.hpp): once, whole or streamed.
template <class Session, class Stream> class session_responder : public responder
{
public:
    explicit session_responder(std::shared_ptr<Session> session) : m_session(std::move(session)) {}
    ~session_responder() override
    {
        if (m_stream)
        {
            m_stream->abandon(); // a no-op once finished
        }
    }
    session_responder(const session_responder&) = delete;
    session_responder& operator=(const session_responder&) = delete;

    void send(http_response res) override
    {
        if (!std::exchange(m_answered, true))
        {
            m_session->send(std::move(res));
        }
    }

    void start(boost::beast::http::status status, boost::beast::http::fields headers) override
    {
        if (std::exchange(m_answered, true))
        {
            return;
        }
        m_stream = m_session->start_stream(status, std::move(headers));
        if (m_on_gone)
        {
            m_stream->on_gone(std::move(m_on_gone));
        }
    }

    void write(std::string chunk, std::function<void(bool)> on_written) override
    {
        if (m_stream)
        {
            m_stream->write(std::move(chunk), std::move(on_written));
        }
        else if (on_written) // not started: nothing to write to
        {
            boost::asio::post(m_session->executor(), [on_written] { on_written(false); });
        }
    }

    void finish() override
    {
        if (m_stream)
        {
            m_stream->finish();
        }
    }

    void on_client_gone(std::function<void()> callback) override
    {
        if (m_stream)
        {
            m_stream->on_gone(std::move(callback));
        }
        else
        {
            m_on_gone = std::move(callback); // noticed once streaming
        }
    }

    bool client_gone() const override { return m_stream && m_stream->gone(); }

private:
    std::shared_ptr<Session> m_session;
    std::shared_ptr<response_stream<Stream>> m_stream;
    std::function<void()> m_on_gone;
    bool m_answered = false;
};

} // namespace cellbox::gateway
