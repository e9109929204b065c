#pragma once
// One execution of the execute API as a kernel client: attached to the kernel for as long as
// its cell runs, whether or not an HTTP client follows it (a client that leaves does not stop
// the cell unless it asked to), feeding the kernel's answers to the execution model
// (executions/execution) and waking whoever follows it (api/execution_stream).
#include "api/api_context.hpp"
#include "executions/execute_request.hpp"
#include "executions/execution.hpp"
#include "streams/kernel_client.hpp"

#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace cellbox::gateway
{

class execution_runner : public kernel_client, public std::enable_shared_from_this<execution_runner>
{
public:
    // Someone following the execution: told on the server's thread when it has news.
    class watcher
    {
    public:
        virtual ~watcher() = default;
        virtual void changed() = 0;
    };

    execution_runner(const std::shared_ptr<api_context>& ctx, std::string kernel_id,
                     std::string user, execute_params params);

    // Attaches to the kernel and sends the cell; false when the kernel is gone.
    bool start();

    const execution& model() const { return m_model; }
    const std::string& id() const { return m_model.id(); }
    const std::string& kernel_id() const { return m_kernel_id; }
    const execute_params& params() const { return m_params; }
    boost::asio::io_context& io() const { return m_io; }
    void watch(const std::weak_ptr<watcher>& w);

    // DELETE: interrupts the kernel if the cell has not ended; a cell still waiting in the
    // kernel's queue is interrupted once it starts (an interrupt now would hit another cell,
    // or none).
    void interrupt();
    // The client that started it left: interrupts if it asked for that.
    void client_left();
    // The kernel went away under it.
    void kernel_removed();

private:
    void send_cell(api_context& ctx);
    void send_interrupt();
    void drain();
    void on_kernel_message(const kernel_message& message);
    void answer_input(const kernel_message& request);
    void notify();
    // The cell is over: detaches, and the registry forgets it after the keep time.
    void ended();

    std::weak_ptr<api_context> m_ctx;
    boost::asio::io_context& m_io;
    std::string m_kernel_id;
    execute_params m_params;
    execution m_model;
    std::size_t m_next_stdin = 0;
    std::string m_probe_id; // the kernel_info_request sent before a cell that reads stdin
    bool m_attached = false;
    bool m_interrupt_pending = false;
    std::vector<std::weak_ptr<watcher>> m_watchers;
    // After the reply, how long to wait for the idle status that closes the cell.
    boost::asio::steady_timer m_grace;
    boost::asio::steady_timer m_reinterrupt;
    int m_interrupts = 0;
    boost::asio::steady_timer m_expiry;
};

// Calls `done` once `run` has ended (at once if it has), and `changed` (may be empty) at each
// change before that: for callers waiting on an execution rather than streaming it (one-shot
// file writes, MCP tool calls).
void when_done(std::shared_ptr<execution_runner> run, std::function<void(const execution&)> done,
               std::function<void(const execution&)> changed = nullptr);

} // namespace cellbox::gateway
