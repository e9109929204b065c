#include "backends/zygote_pool.hpp"

#include "backends/child_output.hpp"
#include "backends/child_process.hpp"
#include "backends/process_shutdown.hpp"
#include "cellbox/bounded_json.hpp"
#include "cellbox/contract/zygote.hpp"
#include "telemetry/log.hpp"
#include "telemetry/metrics.hpp"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <csignal>
#include <filesystem>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace cellbox::gateway
{
namespace
{

namespace fs = std::filesystem;

std::string output_path_of(const std::string& directory)
{
    return directory + "/output";
}

pool_sizing sizing_of(const pool_options& options)
{
    pool_sizing sizing;
    sizing.min = options.size;
    sizing.max = std::max(options.max, options.size);
    sizing.window = options.window;
    sizing.session_memory_bytes = options.memory_bytes;
    return sizing;
}

// The answer to a request the zygote never saw.
contract::zygote_answer refusal(const std::string& why)
{
    contract::zygote_answer answer;
    answer.error = why;
    return answer;
}

} // namespace

zygote_pool::zygote_pool(boost::asio::io_context& io, zmq::context_t& zmq, std::string name,
                         pool_options options)
    : m_io(io), m_zmq(zmq), m_name(std::move(name)), m_options(std::move(options)),
      m_socket_path(m_options.runtime_dir + "/zygote-" + m_name + ".sock"),
      m_pool(io, zmq, m_name, m_options.streams), m_sizer(sizing_of(m_options)),
      m_target(m_options.size), m_resize_timer(io), m_restart_timer(io), m_refill_timer(io)
{
    if (m_options.parallel == 0)
    {
        m_options.parallel = std::max(1U, std::thread::hardware_concurrency());
    }
    // A session that answers goes to a start waiting for it, and frees a starting slot: the
    // next one is forked.
    m_pool.on_ready = [this]
    {
        serve_waiters();
        refill_when_free();
    };
    metric::pool_target(m_name, m_target);
}

zygote_pool::~zygote_pool()
{
    stop();
}

void zygote_pool::start()
{
    fs::create_directories(m_options.runtime_dir);
    launch_zygote();
    if (m_sizer.adaptive())
    {
        resize_every_tick();
    }
}

void zygote_pool::launch_zygote()
{
    std::error_code ignored;
    fs::remove(m_socket_path, ignored);
    // The zygote connects to us: nothing else can talk to it. Only root can connect here.
    m_acceptor.emplace(m_io, boost::asio::local::stream_protocol::endpoint(m_socket_path));
    chmod(m_socket_path.c_str(), 0600);
    // The zygote refuses to fork with stray descriptors: none of the gateway's follow it.
    const pid_t pid = spawn_logged(m_io,
                                   {m_options.kernel_program, "--zygote", m_socket_path,
                                    "--warm-modules", m_options.warm_modules, "--memory-limit",
                                    std::to_string(m_options.soft_memory_bytes)},
                                   "the zygote", {"zygote", m_name, ""})
                          .pid;
    m_zygote = pid;
    log::info("zygote starting", {{"kernelspec", m_name},
                                  {"pid", pid},
                                  {"warm_modules", m_options.warm_modules},
                                  {"pool_size", m_options.size},
                                  {"pool_max", m_sizer.sizing().max}});
    accept();
}

void zygote_pool::accept()
{
    m_acceptor->async_accept(
        [this](const boost::system::error_code& error,
               boost::asio::local::stream_protocol::socket socket)
        {
            m_acceptor.reset();
            std::error_code ignored;
            fs::remove(m_socket_path, ignored);
            if (error || m_stopping)
            {
                return;
            }
            m_connection.emplace(std::move(socket));
            read();
        });
}

void zygote_pool::read()
{
    boost::asio::async_read_until(
        *m_connection, m_input, '\n',
        [this](const boost::system::error_code& error, std::size_t length)
        {
            if (error)
            {
                if (error != boost::asio::error::operation_aborted)
                {
                    zygote_lost("its control connection closed");
                }
                return;
            }
            std::string line(length, '\0');
            m_input.sgetn(line.data(), static_cast<std::streamsize>(length));
            const auto message = contract::decode_zygote_message(line);
            if (message)
            {
                handle(*message);
            }
            else
            {
                log::warn("zygote sent a malformed line",
                          {{"kernelspec", m_name}, {"error", message.error()}});
            }
            if (m_connection)
            {
                read();
            }
        });
}

void zygote_pool::handle(const contract::zygote_message& message)
{
    if (const auto* ready = std::get_if<contract::zygote_ready>(&message))
    {
        m_restart_delay = std::chrono::seconds(1);
        // Huge pages make its forks cheaper (kernel/include/cellbox/kernel/huge_pages.hpp);
        // without them sessions start as before, only slower.
        log::info("zygote ready", {{"kernelspec", m_name},
                                   {"pid", m_zygote},
                                   {"warm_ms", ready->warm_ms},
                                   {"heap_in_huge_pages_mib", ready->huge_page_bytes >> 20},
                                   {"huge_pages_error", ready->huge_page_error}});
        refill();
        return;
    }
    if (const auto* exit = std::get_if<contract::zygote_exit>(&message))
    {
        const pid_t pid = exit->pid;
        session_ended(pid);
        if (const auto retired = m_retiring.find(pid); retired != m_retiring.end())
        {
            std::error_code ignored;
            fs::remove_all(retired->second, ignored);
            m_retiring.erase(retired);
        }
        else if (m_pool.remove(pid))
        {
            log::warn("pooled session ended before use",
                      {{"kernelspec", m_name},
                       {"pid", pid},
                       {"verdict", contract::encode(exit->verdict)}});
            release_excess_waiters();
            refill();
        }
        else if (const auto out = std::find(m_handed_out.begin(), m_handed_out.end(), pid);
                 out != m_handed_out.end())
        {
            m_handed_out.erase(out);
            m_cold_starting.erase(pid);
            if (on_session_exit)
            {
                on_session_exit(pid);
            }
        }
        return;
    }
    const auto& answer = std::get<contract::zygote_answer>(message);
    if (answer.id.is_number_unsigned())
    {
        const auto waiting = m_answers.find(answer.id.get<std::uint64_t>());
        if (waiting != m_answers.end())
        {
            auto handler = std::move(waiting->second);
            m_answers.erase(waiting);
            handler(answer);
        }
    }
}

void zygote_pool::request(contract::zygote_op op, answer_handler answer)
{
    if (!m_connection)
    {
        boost::asio::post(m_io, [answer] { answer(refusal("the zygote is not running")); });
        return;
    }
    const std::uint64_t id = m_next_request++;
    m_answers[id] = std::move(answer);
    m_output.push_back(contract::encode(contract::zygote_request{id, std::move(op)}) + "\n");
    if (m_output.size() == 1) // else a write is under way and goes on to this line
    {
        write_next();
    }
}

// One line at a time. (A self-referencing std::function held by a shared_ptr did this before and
// leaked itself on every burst of requests: found by LeakSanitizer.)
void zygote_pool::write_next()
{
    boost::asio::async_write(*m_connection, boost::asio::buffer(m_output.front()),
                             [this](const boost::system::error_code& error, std::size_t)
                             {
                                 if (error || !m_connection)
                                 {
                                     m_output.clear();
                                     return;
                                 }
                                 m_output.pop_front();
                                 if (!m_output.empty())
                                 {
                                     write_next();
                                 }
                             });
}

contract::zygote_spawn zygote_pool::spawn_request(session& s)
{
    contract::zygote_spawn spawn;
    spawn.ipc_dir = ipc_dir_of(s.directory);
    spawn.connection_file = connection_file_of(s.directory);
    spawn.verdict_file = verdict_file_of(s.directory);
    if (m_options.next_uid)
    {
        spawn.uid = m_options.next_uid();
    }
    give_output(s, spawn);
    return spawn;
}

void zygote_pool::spawn(const std::string& workdir, std::uint32_t owner_uid,
                        std::uint64_t memory_bytes, spawn_handler done)
{
    session s = pooled_sessions::prepare(m_options.runtime_dir);
    contract::zygote_spawn spawn = spawn_request(s);
    spawn.workdir = workdir;
    spawn.owner = contract::workdir_owner{owner_uid, owner_uid};
    spawn.limits.memory_bytes = memory_bytes;
    request(std::move(spawn),
            [this, s, done](const contract::zygote_answer& answer) mutable
            {
                if (!answer.ok || !answer.pid)
                {
                    abandon(s);
                    done(std::nullopt,
                         answer.error.empty() ? "the zygote did not fork" : answer.error);
                    return;
                }
                s.pid = *answer.pid;
                session_started(s);
                m_handed_out.push_back(s.pid);
                m_cold_starting.insert(s.pid);
                done(s, "");
            });
}

void zygote_pool::go(pid_t pid, const contract::late_binding_request& binding, go_handler done)
{
    request(contract::zygote_go{pid, binding},
            [done](const contract::zygote_answer& answer) { done(answer.ok, answer.error); });
}

// A session's stdout and stderr: a FIFO in its private directory, which its supervisor opens
// by name (log_file) before entering the sandbox, so that its lines are logged as its own and
// not as the zygote's, whose output every session would otherwise share. Without it (it could
// not be made), the session writes to the zygote's.
void zygote_pool::give_output(session& s, contract::zygote_spawn& request)
{
    try
    {
        s.output = child_output::fifo(m_io, output_path_of(s.directory), {"kernel", m_name, ""});
        request.log_file = output_path_of(s.directory);
    }
    catch (const std::exception& e)
    {
        log::error("cannot make a session's output", {{"kernelspec", m_name}, {"error", e.what()}});
    }
}

void zygote_pool::session_started(session& s)
{
    if (s.output)
    {
        s.output->set_pid(s.pid);
        m_outputs[s.pid] = s.output;
    }
}

void zygote_pool::session_ended(pid_t pid)
{
    if (const auto output = m_outputs.find(pid); output != m_outputs.end())
    {
        output->second->close_child_end(); // read to the end of what it wrote
        m_outputs.erase(output);
    }
}

void zygote_pool::abandon(session& s)
{
    if (s.output)
    {
        s.output->close_child_end(); // never forked: nothing else will write to it
    }
    std::error_code ignored;
    fs::remove_all(s.directory, ignored);
}

void zygote_pool::kill(pid_t pid)
{
    request(contract::zygote_kill{pid}, [](const contract::zygote_answer&) {});
}

void zygote_pool::zygote_lost(const std::string& why)
{
    if (m_connection)
    {
        boost::system::error_code ignored;
        m_connection->close(ignored);
        m_connection.reset();
    }
    m_output.clear();
    for (auto& [id, answer] : std::exchange(m_answers, {}))
    {
        answer(refusal("the zygote went away (" + why + ")"));
    }
    m_pool.remove_all();
    m_spawning = 0;
    release_excess_waiters(); // all of them: nothing is starting now
    for (const auto& [pid, directory] : std::exchange(m_retiring, {}))
    {
        std::error_code ignored;
        fs::remove_all(directory, ignored);
    }
    // Their supervisors end the sessions: the outputs end with them.
    for (const auto& [pid, output] : std::exchange(m_outputs, {}))
    {
        output->close_child_end();
    }
    m_cold_starting.clear();
    // Without the zygote, its supervisors end their sessions.
    for (const pid_t pid : std::exchange(m_handed_out, {}))
    {
        if (on_session_exit)
        {
            on_session_exit(pid);
        }
    }
    if (m_stopping)
    {
        return;
    }
    log::error("zygote lost, restarting it",
               {{"kernelspec", m_name}, {"why", why}, {"in_s", m_restart_delay.count()}});
    if (m_zygote > 0)
    {
        ::kill(m_zygote, SIGKILL); // reaped through SIGCHLD (on_child_exit)
    }
    m_restart_timer.expires_after(m_restart_delay);
    m_restart_delay = std::min(m_restart_delay * 2, std::chrono::seconds(30));
    m_restart_timer.async_wait(
        [this](const boost::system::error_code& error)
        {
            if (!error && !m_stopping && !m_connection && !m_acceptor)
            {
                launch_zygote();
            }
        });
}

bool zygote_pool::on_child_exit(pid_t pid)
{
    if (pid != m_zygote)
    {
        return false;
    }
    m_zygote = -1;
    if (m_connection || !m_stopping)
    {
        zygote_lost("the zygote exited");
    }
    return true;
}

void zygote_pool::stop()
{
    if (m_stopping)
    {
        return;
    }
    m_stopping = true;
    m_restart_timer.cancel();
    m_refill_timer.cancel();
    m_resize_timer.cancel();
    std::vector<pid_t> sessions = m_handed_out;
    for (const auto& [pid, directory] : m_retiring)
    {
        sessions.push_back(pid);
    }
    for (const pid_t pid : m_pool.pids())
    {
        sessions.push_back(pid);
    }
    for (const pid_t pid : sessions)
    {
        ::kill(pid, SIGTERM); // each supervisor stops its session and removes its cgroups
    }
    zygote_lost("the gateway is shutting down");
    m_acceptor.reset();
    const auto zygote_gone = [this]
    {
        if (m_zygote > 0 && waitpid(m_zygote, nullptr, WNOHANG) == m_zygote)
        {
            m_zygote = -1; // it exited on losing its connection
        }
        return m_zygote <= 0;
    };
    kill_when_late(sessions, process_gone, std::chrono::steady_clock::now() + shutdown_grace,
                   "a session's supervisor", zygote_gone);
    if (m_zygote > 0)
    {
        ::kill(m_zygote, SIGKILL);
        waitpid(m_zygote, nullptr, 0);
        m_zygote = -1;
    }
}

} // namespace cellbox::gateway
