#include "app/mcp_command.hpp"

#include "app/http_client.hpp"
#include "mcp/jsonrpc.hpp"
#include "telemetry/log.hpp"

#include <boost/algorithm/string/predicate.hpp>
#include <iostream>
#include <memory>
#include <sstream>

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

// The JSON-RPC messages of the events of a text/event-stream body that are complete past
// `consumed` (each ends with a blank line), moving `consumed` past them; `at_end`: the body is
// whole, a last event without its blank line counts too.
std::vector<std::string> sse_messages(const std::string& body, std::size_t& consumed, bool at_end)
{
    std::vector<std::string> out;
    std::string data;
    std::size_t at = consumed;
    while (at < body.size())
    {
        const std::size_t end = body.find('\n', at);
        if (end == std::string::npos)
        {
            break; // a line still coming
        }
        std::string line = body.substr(at, end - at);
        at = end + 1;
        if (!line.empty() && line.back() == '\r')
        {
            line.pop_back();
        }
        if (line.empty())
        {
            if (!data.empty())
            {
                out.push_back(std::move(data));
            }
            data.clear();
            consumed = at;
        }
        else if (line.rfind("data:", 0) == 0)
        {
            const std::string value = line.substr(line.size() > 5 && line[5] == ' ' ? 6 : 5);
            data += data.empty() ? value : "\n" + value;
        }
    }
    if (at_end && !data.empty())
    {
        out.push_back(std::move(data));
        consumed = body.size();
    }
    return out;
}

bool is_sse(const http_client::response& res)
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
        : m_url(parse_http_url(options.url)), m_token(options.token),
          m_client(m_url.host, m_url.port,
                   std::chrono::seconds(static_cast<long long>(options.timeout_s)))
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
            {"Authorization", "Bearer " + m_token},
            {"Content-Type", "application/json"},
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
        std::size_t consumed = 0;
        const auto on_body = [&](const http_client::response& so_far)
        {
            if (is_sse(so_far))
            {
                for (const auto& data : sse_messages(so_far.body(), consumed, false))
                {
                    relay(data, initialize);
                }
            }
        };
        http_client::response res;
        try
        {
            res = m_client.request(http::verb::post, m_url.path + "mcp", headers, line, on_body);
        }
        catch (const http_client_error& e)
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
            for (const auto& data : sse_messages(res.body(), consumed, true))
            {
                relay(data, initialize);
            }
            return;
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
            m_client.request(
                http::verb::delete_, m_url.path + "mcp",
                {{"Authorization", "Bearer " + m_token}, {"Mcp-Session-Id", m_session}}, "");
        }
        catch (const http_client_error& e)
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

    parsed_url m_url;
    std::string m_token;
    http_client m_client;
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
    catch (const http_client_error& e)
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
