#include "app/mcp_command.hpp"

#include "client/http_client.hpp"
#include "mcp/jsonrpc.hpp"
#include "telemetry/log.hpp"

#include <boost/algorithm/string/predicate.hpp>
#include <functional>
#include <iostream>
#include <memory>
#include <sstream>
#include <string_view>

namespace cellbox::gateway
{
namespace
{

namespace http = boost::beast::http;
using json = nlohmann::json;

struct bridge_options
{
    std::string url;
    std::string token;
    double timeout_s = 3600;
};

// The messages of a text/event-stream body, read line by line: an event's data lines joined,
// handed on at its blank line (a last event without one: at flush()). An event is bounded as a
// line is: a hostile gateway cannot grow one without end.
class sse_events
{
public:
    explicit sse_events(std::function<void(const std::string&)> on_message)
        : m_on_message(std::move(on_message))
    {
    }

    void line(std::string_view text)
    {
        if (!text.empty() && text.back() == '\r')
        {
            text.remove_suffix(1);
        }
        if (text.empty())
        {
            flush();
        }
        else if (text.substr(0, 5) == "data:")
        {
            const std::string_view value = text.substr(text.size() > 5 && text[5] == ' ' ? 6 : 5);
            if (!m_data.empty())
            {
                m_data += '\n';
            }
            m_data += value;
            if (m_data.size() > client::http_client::max_body_bytes)
            {
                throw client::gateway_error("the gateway sent an event larger than " +
                                            std::to_string(client::http_client::max_body_bytes) +
                                            " bytes");
            }
        }
    }

    void flush()
    {
        if (!m_data.empty())
        {
            m_on_message(m_data);
        }
        m_data.clear();
    }

private:
    std::function<void(const std::string&)> m_on_message;
    std::string m_data;
};

bool is_sse(const client::response& res)
{
    return boost::algorithm::istarts_with(std::string(res[http::field::content_type]),
                                          "text/event-stream");
}

// One message per line on stdout: compact JSON has no newline in it.
void emit(const json& message)
{
    std::cout << message.dump(-1, ' ', false, json::error_handler_t::replace) << '\n' << std::flush;
}

class bridge
{
public:
    explicit bridge(const bridge_options& options)
        : m_client(client::parse_gateway_url(options.url), client_options_of(options))
    {
    }

    void forward(const std::string& line)
    {
        mcp::rpc_failure failure{};
        const auto message = mcp::parse_message(line, failure);
        if (!message)
        {
            // Answered here as the gateway would: the line never leaves this process.
            emit(mcp::error_message(failure.id, failure.code, failure.message));
            return;
        }
        const bool initialize = message->method == "initialize";
        if (initialize && !m_session.empty())
        {
            end_session(); // a client starting over
        }
        std::map<std::string, std::string> headers{
            {"Accept", "application/json, text/event-stream"}};
        if (!m_session.empty())
        {
            headers["Mcp-Session-Id"] = m_session;
        }
        if (!m_version.empty())
        {
            headers["MCP-Protocol-Version"] = m_version;
        }
        // An SSE answer (progress, then the result) is relayed event by event as it comes:
        // a client handles progress only while its request is pending.
        sse_events events([&](const std::string& data) { relay(data, initialize); });
        const client::line_reader sse{is_sse, [&](std::string_view text) { events.line(text); }};
        client::response res;
        try
        {
            res = m_client.request(client::verb::post, "mcp", line, headers, &sse);
            if (is_sse(res))
            {
                events.flush();
            }
        }
        catch (const client::gateway_error& e)
        {
            log::error("the gateway cannot be reached", {{"error", e.what()}});
            answer_error(*message,
                         std::string("the cellbox gateway cannot be reached: ") + e.what());
            return;
        }
        if (initialize && res.result() == http::status::ok)
        {
            m_session = std::string(res["Mcp-Session-Id"]);
        }
        if (is_sse(res))
        {
            return; // relayed as it came
        }
        if (res.result() == http::status::accepted)
        {
            return; // a notification or a response
        }
        if (boost::algorithm::istarts_with(std::string(res[http::field::content_type]),
                                           "application/json") &&
            relay(res.body(), initialize))
        {
            return;
        }
        log::warn("the gateway refused a message",
                  {{"status", res.result_int()}, {"body", mcp::clip(res.body(), 300)}});
        answer_error(*message, "the cellbox gateway answered HTTP " +
                                   std::to_string(res.result_int()) + ": " +
                                   mcp::clip(res.body(), 300));
    }

    void end_session()
    {
        if (m_session.empty())
        {
            return;
        }
        try
        {
            m_client.request(client::verb::delete_, "mcp", "", {{"Mcp-Session-Id", m_session}});
        }
        catch (const client::gateway_error& e)
        {
            log::warn("the MCP session could not be ended", {{"error", e.what()}});
        }
        m_session.clear();
        m_version.clear();
    }

private:
    // Writes a JSON-RPC message from the gateway to stdout; false when `text` is not one.
    bool relay(const std::string& text, bool initialize)
    {
        const json message = json::parse(text, nullptr, false);
        if (!message.is_object() || mcp::text_member(message, "jsonrpc") != "2.0")
        {
            return false;
        }
        if (initialize && message.contains("result") && message["result"].is_object())
        {
            m_version = mcp::text_member(message["result"], "protocolVersion");
        }
        emit(message);
        return true;
    }

    static void answer_error(const mcp::rpc_message& message, const std::string& text)
    {
        if (message.type == mcp::rpc_message::kind::request)
        {
            emit(mcp::error_message(message.id, mcp::internal_error, text));
        }
    }

    // A kept connection: an assistant's messages come one after another.
    static client::client_options client_options_of(const bridge_options& options)
    {
        client::client_options out;
        out.token = options.token;
        out.auth_scheme = "Bearer";
        out.user_agent = "cellbox-mcp-bridge";
        out.timeout = std::chrono::seconds(static_cast<long long>(options.timeout_s));
        out.keep_alive = true;
        return out;
    }

    client::http_client m_client;
    std::string m_session;
    std::string m_version;
};

int run(const bridge_options& options)
{
    try
    {
        bridge relay(options);
        log::info("cellbox mcp: bridging stdio to the gateway", {{"url", options.url}});
        std::string line;
        while (std::getline(std::cin, line))
        {
            if (!line.empty() && line.back() == '\r')
            {
                line.pop_back();
            }
            if (line.find_first_not_of(" \t") == std::string::npos)
            {
                continue;
            }
            relay.forward(line);
        }
        relay.end_session(); // stdin closed: the client is done
        return 0;
    }
    catch (const client::gateway_error& e)
    {
        log::error("cellbox mcp cannot start", {{"error", e.what()}});
        return 2;
    }
}

} // namespace

void add_mcp_command(CLI::App& app)
{
    auto options = std::make_shared<bridge_options>();
    CLI::App* command = app.add_subcommand(
        "mcp", "An MCP server on stdin/stdout for desktop assistants, bridged to a gateway's "
               "MCP endpoint");
    command->add_option("--url", options->url, "The gateway's URL, e.g. http://127.0.0.1:8888/")
        ->required()
        ->envname("CELLBOX_URL");
    command->add_option("--token", options->token, "A token of the gateway (admin or user)")
        ->required()
        ->envname("CELLBOX_TOKEN");
    command
        ->add_option("--timeout", options->timeout_s,
                     "Seconds one request (a cell included) may take")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    command->callback([options] { std::exit(run(*options)); });
}

} // namespace cellbox::gateway
