// The closed loop of tests/bench/load.py in C++: its Python client (asyncio + websockets) cost
// more CPU per cell than the gateway it measures (0.42-0.51 ms against 0.34-0.48), so a third of
// the machine's total per cell was the client. Not a product binary: load.py runs it.
//
// Input (argv[1], a JSON file): {"host", "port", "concurrency", "rounds", "sessions":
// [{"kernel_id", "token", "index"}], and "auth" (the gateway's token) if it needs one}. Each
// session gets a WebSocket of its own speaking v1.kernel.websocket.jupyter.org, with a session id
// of its own (so nothing load.py's own connections asked for is answered here). Once all are open
// it prints "ready" and waits for a line on stdin, so that load.py can read every process's CPU
// time right before the loop; then it runs `rounds` cells in every session, `concurrency` executing
// at once (a session waiting for a slot queues behind the others, as asyncio.Semaphore's waiters
// do), checks every cell's stdout and every message's parent as load_session.run_cell does,
// and prints one JSON object as the last cell ends, before it closes the connections:
// latencies (s), wrong, lost, crossed, stale, foreign, peak, errors,
// run_time and the loop's own CPU seconds.
#include "protocol/kernel_message.hpp"
#include "protocol/message_fields.hpp"
#include "protocol/websocket_framing.hpp"

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <cstddef>
#include <deque>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <sys/resource.h>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using cellbox::gateway::kernel_message;
using clock_type = std::chrono::steady_clock;

namespace
{

constexpr auto cell_timeout = std::chrono::seconds(30);
constexpr auto connect_timeout = std::chrono::seconds(30);
constexpr const char* check_cell = "print(SESSION_TOKEN * 3, SESSION_N * SESSION_N)";
constexpr const char* v1_protocol = "v1.kernel.websocket.jupyter.org";

std::string random_hex(std::mt19937_64& random)
{
    static constexpr char digits[] = "0123456789abcdef";
    std::string text(32, '0');
    for (auto& c : text)
    {
        c = digits[random() % 16];
    }
    return text;
}

double cpu_seconds()
{
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    const auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
    return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// One kernel's WebSocket and the cell it is running, if any.
struct session
{
    int index = 0;
    std::string kernel_id;
    std::string expected; // the check cell's exact stdout in this session
    std::string client_session;
    int rounds_left = 0;
    websocket::stream<beast::tcp_stream> ws;
    beast::flat_buffer inbox;
    std::unordered_set<std::string> sent;
    // the running cell
    bool running = false;
    std::string msg_id;
    clock_type::time_point started;
    bool got_reply = false;
    bool got_idle = false;
    std::string stdout_text;
    std::vector<std::string> problems;
    std::string outgoing;             // the frame being written (Beast keeps a reference)
    bool writing = false;             // a write is outstanding (Beast allows one at a time)
    bool gone = false;                // its connection failed: said once, no more cells
    websocket::response_type upgrade; // the gateway's answer to the handshake

    session(asio::io_context& io, int n) : index(n), ws(io) {}
};

class load_loop
{
public:
    load_loop(const nlohmann::json& input, asio::io_context& io)
        : m_io(io), m_host(input.at("host").get<std::string>()),
          m_port(std::to_string(input.at("port").get<int>())),
          m_concurrency(input.at("concurrency").get<int>()),
          m_rounds(input.at("rounds").get<int>()), m_auth(input.value("auth", "")), m_watchdog(io),
          m_random(std::random_device{}())
    {
        if (m_concurrency < 1 || m_rounds < 1)
        {
            throw std::invalid_argument("concurrency and rounds must be at least 1");
        }
        for (const auto& entry : input.at("sessions"))
        {
            auto s = std::make_unique<session>(io, entry.at("index").get<int>());
            s->kernel_id = entry.at("kernel_id").get<std::string>();
            const auto token = entry.at("token").get<std::string>();
            s->expected = token + token + token + " " + std::to_string(s->index * s->index) + "\n";
            s->client_session = random_hex(m_random);
            s->rounds_left = m_rounds;
            m_sessions.push_back(std::move(s));
        }
    }

    // Opens every WebSocket (none reads yet); run the io_context until it returns.
    void open_all()
    {
        asio::ip::tcp::resolver resolver(m_io);
        const auto endpoints = resolver.resolve(m_host, m_port);
        for (auto& s : m_sessions)
        {
            open(*s, endpoints);
        }
    }

    // Starts the closed loop; run the io_context until it returns.
    void start()
    {
        m_started = clock_type::now();
        m_cpu_before = cpu_seconds();
        for (auto& s : m_sessions)
        {
            if (s->ws.is_open())
            {
                read(*s);
                m_waiting.push_back(s.get());
            }
        }
        start_cells();
        if (!m_closing)
        {
            arm_watchdog();
        }
    }

    nlohmann::json report() const
    {
        return {{"latencies", m_latencies}, {"wrong", m_wrong},   {"lost", m_lost},
                {"crossed", m_crossed},     {"stale", m_stale},   {"foreign", m_foreign},
                {"peak", m_peak},           {"errors", m_errors}, {"run_time", m_run_time},
                {"cpu_seconds", m_cpu_used}};
    }

    std::size_t open_sessions() const
    {
        std::size_t n = 0;
        for (const auto& s : m_sessions)
        {
            n += s->ws.is_open() ? 1 : 0;
        }
        return n;
    }

private:
    void error(const session& s, const std::string& text) { m_errors.push_back({s.index, text}); }

    // Before the loop, as load.py's client does too: a session that did not open is said on
    // stderr at once (load.py stops when fewer than all open, and the report never comes).
    void open_failed(const session& s, const std::string& text)
    {
        std::cerr << "cellbox-load-driver: session " << s.index << ": " << text << std::endl;
        error(s, text);
    }

    void open(session& s, const asio::ip::tcp::resolver::results_type& endpoints)
    {
        // Every step has a time limit, so that the driver (and load.py waiting for it) ends
        // whatever the gateway does: the TCP connect here, the handshake and the closing
        // handshake by Beast's suggested client timeouts.
        beast::get_lowest_layer(s.ws).expires_after(connect_timeout);
        beast::get_lowest_layer(s.ws).async_connect(
            endpoints,
            [this, &s](beast::error_code ec, const auto&)
            {
                if (ec)
                {
                    return open_failed(s, "connect: " + ec.message());
                }
                beast::get_lowest_layer(s.ws).expires_never();
                s.ws.set_option(
                    websocket::stream_base::timeout::suggested(beast::role_type::client));
                beast::get_lowest_layer(s.ws).socket().set_option(asio::ip::tcp::no_delay(true));
                // The token in a header, as JupyterLab sends it: no URL encoding to get wrong.
                s.ws.set_option(websocket::stream_base::decorator(
                    [auth = m_auth](websocket::request_type& req)
                    {
                        req.set(beast::http::field::sec_websocket_protocol, v1_protocol);
                        if (!auth.empty())
                        {
                            req.set(beast::http::field::authorization, "token " + auth);
                        }
                    }));
                s.ws.binary(true);
                s.ws.read_message_max(64 << 20);
                const auto target =
                    "/api/kernels/" + s.kernel_id + "/channels?session_id=" + s.client_session;
                s.ws.async_handshake(
                    s.upgrade, m_host + ":" + m_port, target,
                    [this, &s](beast::error_code ec)
                    {
                        if (ec)
                        {
                            return open_failed(s, "handshake: " + ec.message());
                        }
                        if (s.upgrade[beast::http::field::sec_websocket_protocol] != v1_protocol)
                        {
                            open_failed(s,
                                        "the gateway did not choose " + std::string(v1_protocol));
                            beast::get_lowest_layer(s.ws).close();
                        }
                    });
            });
    }

    void read(session& s)
    {
        s.ws.async_read(s.inbox,
                        [this, &s](beast::error_code ec, std::size_t)
                        {
                            if (ec)
                            {
                                if (!m_closing)
                                {
                                    connection_lost(s, ec.message());
                                }
                                return;
                            }
                            const auto data = s.inbox.cdata();
                            const std::string_view frame(static_cast<const char*>(data.data()),
                                                         data.size());
                            try
                            {
                                on_message(s, cellbox::gateway::decode_v1(frame));
                            }
                            catch (const std::exception& e)
                            {
                                // As load.py's client: a frame it cannot read ends the session.
                                connection_lost(s, std::string("bad frame: ") + e.what());
                                beast::get_lowest_layer(s.ws).close();
                                return;
                            }
                            s.inbox.consume(s.inbox.size());
                            read(s);
                        });
    }

    // The session's connection is gone: its cell, if one runs, is lost (what it printed so far
    // does not count, as in load.py's client) and the session runs no more cells.
    void connection_lost(session& s, const std::string& why)
    {
        if (s.gone)
        {
            return;
        }
        s.gone = true;
        if (!s.running)
        {
            error(s, "connection: " + why);
            return;
        }
        s.problems.push_back("connection: " + why);
        s.stdout_text.clear();
        finish_cell(s, false);
    }

    void on_message(session& s, const kernel_message& m)
    {
        const auto info = cellbox::gateway::describe(m);
        if (!s.running || info.parent_msg_id != s.msg_id)
        {
            const auto owner = m_owner.find(info.parent_msg_id);
            if (s.sent.count(info.parent_msg_id) != 0)
            {
                ++m_stale;
            }
            else if (owner != m_owner.end())
            {
                ++m_crossed;
                if (s.running)
                {
                    s.problems.push_back("crossed: " + info.msg_type + " of session " +
                                         std::to_string(owner->second));
                }
            }
            else
            {
                ++m_foreign;
            }
            return;
        }
        if (info.msg_type == "stream")
        {
            const auto content = nlohmann::json::parse(m.content);
            if (content.value("name", "") == "stdout")
            {
                s.stdout_text += content.value("text", "");
            }
            else
            {
                s.problems.push_back("stderr: " + content.value("text", "").substr(0, 200));
            }
        }
        else if (info.msg_type == "error")
        {
            const auto content = nlohmann::json::parse(m.content);
            s.problems.push_back("error: " + content.value("ename", "") + ": " +
                                 content.value("evalue", ""));
        }
        else if (m.channel == "shell")
        {
            s.got_reply = true;
            const auto content = nlohmann::json::parse(m.content);
            if (content.value("status", "") != "ok")
            {
                s.problems.push_back("reply status " + content.value("status", ""));
            }
        }
        else if (info.msg_type == "status" && info.execution_state == "idle")
        {
            s.got_idle = true;
        }
        if (s.got_reply && s.got_idle)
        {
            finish_cell(s, true);
        }
    }

    void start_cells()
    {
        while (m_in_flight < m_concurrency && !m_waiting.empty())
        {
            session& s = *m_waiting.front();
            m_waiting.pop_front();
            send_cell(s);
        }
        if (m_in_flight == 0 && m_waiting.empty() && !m_closing)
        {
            end_loop();
        }
    }

    void send_cell(session& s)
    {
        ++m_in_flight;
        m_peak = std::max(m_peak, m_in_flight);
        s.running = true;
        s.got_reply = s.got_idle = false;
        s.stdout_text.clear();
        s.problems.clear();
        s.msg_id = random_hex(m_random);
        s.sent.insert(s.msg_id);
        m_owner.emplace(s.msg_id, s.index);
        kernel_message m;
        m.channel = "shell";
        m.header = nlohmann::json{{"msg_id", s.msg_id},
                                  {"msg_type", "execute_request"},
                                  {"session", s.client_session},
                                  {"username", "load"},
                                  {"version", "5.3"},
                                  {"date", "2026-01-01T00:00:00.000000Z"}}
                       .dump();
        m.parent_header = m.metadata = "{}";
        m.content = nlohmann::json{
            {"code", check_cell},
            {"silent", false},
            {"store_history", false},
            {"allow_stdin", false},
            {"stop_on_error",
             false}}.dump();
        s.outgoing = cellbox::gateway::encode_v1(m);
        s.started = clock_type::now();
        s.writing = true;
        s.ws.async_write(asio::buffer(s.outgoing),
                         [this, &s](beast::error_code ec, std::size_t)
                         {
                             s.writing = false;
                             if (ec && s.running && !m_closing)
                             {
                                 connection_lost(s, ec.message());
                             }
                         });
    }

    void finish_cell(session& s, bool connected)
    {
        s.running = false;
        --m_in_flight;
        m_latencies.push_back(std::chrono::duration<double>(clock_type::now() - s.started).count());
        std::string problems;
        for (const auto& p : s.problems)
        {
            problems += (problems.empty() ? "" : "; ") + p;
        }
        if (!problems.empty())
        {
            error(s, problems);
            m_lost += s.stdout_text.empty() ? 1 : 0;
        }
        if (s.stdout_text != s.expected)
        {
            m_wrong.push_back({s.index, s.expected, s.stdout_text});
            if (!s.stdout_text.empty())
            {
                error(s, "wrong output " + s.stdout_text + ", expected " + s.expected);
            }
        }
        if (connected && --s.rounds_left > 0)
        {
            m_waiting.push_back(&s);
        }
        start_cells();
    }

    // Ends cells that ran past cell_timeout (their late messages then count as stale).
    void arm_watchdog()
    {
        m_watchdog.expires_after(std::chrono::seconds(1));
        m_watchdog.async_wait(
            [this](beast::error_code ec)
            {
                if (ec || m_closing)
                {
                    return;
                }
                const auto now = clock_type::now();
                for (auto& s : m_sessions)
                {
                    if (s->running && now - s->started > cell_timeout)
                    {
                        const auto said = [](bool b) { return b ? "True" : "False"; };
                        s->problems.push_back(std::string("timeout (reply ") + said(s->got_reply) +
                                              ", idle " + said(s->got_idle) + ")");
                        // A request the socket has not even taken: the connection is stuck,
                        // and a next cell could not be written beside it.
                        finish_cell(*s, !s->writing);
                    }
                }
                if (!m_closing)
                {
                    arm_watchdog();
                }
            });
    }

    // The report goes out before the connections close, so that load.py reads every process's
    // CPU time and the TCP counters at the loop's end, not after N closing handshakes.
    void end_loop()
    {
        m_run_time = std::chrono::duration<double>(clock_type::now() - m_started).count();
        m_cpu_used = cpu_seconds() - m_cpu_before;
        m_closing = true;
        m_watchdog.cancel();
        // Replaced, not thrown on: a cell's stderr is cut at 200 bytes, maybe inside a
        // character.
        std::cout << report().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                  << std::endl;
        for (auto& s : m_sessions)
        {
            if (s->ws.is_open() && s->writing)
            {
                // A closing handshake would be a second write beside the stuck one.
                beast::get_lowest_layer(s->ws).close();
            }
            else if (s->ws.is_open())
            {
                s->ws.async_close(websocket::close_code::normal, [](beast::error_code) {});
            }
        }
    }

    asio::io_context& m_io;
    std::string m_host, m_port;
    int m_concurrency, m_rounds;
    std::string m_auth;
    asio::steady_timer m_watchdog;
    std::mt19937_64 m_random;
    std::vector<std::unique_ptr<session>> m_sessions;
    std::deque<session*> m_waiting;
    std::unordered_map<std::string, int> m_owner; // msg_id -> the index of the session sending it
    int m_in_flight = 0, m_peak = 0;
    bool m_closing = false;
    clock_type::time_point m_started;
    double m_cpu_before = 0, m_cpu_used = 0, m_run_time = 0;
    std::vector<double> m_latencies;
    nlohmann::json m_wrong = nlohmann::json::array(), m_errors = nlohmann::json::array();
    int m_lost = 0, m_crossed = 0, m_stale = 0, m_foreign = 0;
};

} // namespace

int main(int argc, char** argv)
{
    if (argc != 2)
    {
        std::cerr << "usage: cellbox-load-driver INPUT.json (run by tests/bench/load.py)\n";
        return 2;
    }
    try
    {
        std::ifstream file(argv[1]);
        const auto input = nlohmann::json::parse(file);
        asio::io_context io(1);
        load_loop loop(input, io);
        loop.open_all();
        io.run();
        std::cout << "ready " << loop.open_sessions() << std::endl;
        std::string go;
        std::getline(std::cin, go);
        io.restart();
        loop.start(); // prints the report when the last cell ends
        io.run();
        return 0;
    }
    catch (const std::exception& e)
    {
        std::cerr << "cellbox-load-driver: " << e.what() << std::endl;
        return 1;
    }
}
