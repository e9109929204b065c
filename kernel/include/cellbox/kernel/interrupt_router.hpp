#pragma once

#include "cellbox/unique_fd.hpp"

#include <mutex>
#include <pthread.h>
#include <thread>

namespace cellbox::kernel
{

enum class interrupt_reason
{
    none,
    user,    // SIGINT from the frontend (interrupt_mode: signal)
    timeout, // the cell's time limit passed
};

// Routes interruptions to the cell running on the main thread, and only to it.
//
// xeus 2.4.1 dies when SIGINT reaches its idle poll loop (EINTR becomes an uncaught
// zmq::error_t), so SIGINT is blocked in every thread and collected by a waiting thread (a
// signalfd). While a cell runs, an interruption sends the private signal SIGUSR2 to the main
// thread; its handler (installed without SA_RESTART, so blocking calls return EINTR) calls
// `on_signal`, which for the Python kernel is PyErr_SetInterrupt(). SIGUSR2 stays blocked on the
// main thread outside cells, so no xeus syscall ever sees EINTR from us.
class interrupt_router
{
public:
    using signal_callback = void (*)();

    // Must run in the main thread before any other thread starts: threads inherit the mask.
    static void block_signals_in_this_thread();

    // One instance per process (signal handlers are process-wide). `on_signal` must be
    // async-signal-safe.
    explicit interrupt_router(signal_callback on_signal);
    ~interrupt_router();

    interrupt_router(const interrupt_router&) = delete;
    interrupt_router& operator=(const interrupt_router&) = delete;

    // Called on the main thread around each cell.
    void cell_started();
    void cell_finished();

    // Interrupts the running cell, if any; returns whether one was running.
    bool interrupt(interrupt_reason reason);

    // The reason of the last delivered interruption, reset to none.
    interrupt_reason take_reason();

    // Drops an interruption that was requested but not yet consumed.
    void clear_reason();

private:
    void wait_for_sigint();
    void wake_waiting_thread();

    pthread_t m_main_thread;
    std::mutex m_mutex;
    bool m_cell_running = false;
    bool m_stopping = false;
    interrupt_reason m_reason = interrupt_reason::none;
    unique_fd m_sigint; // signalfd of SIGINT
    unique_fd m_wakeup; // eventfd: an interruption is pending, or the router stops
    std::thread m_waiting_thread;
};

} // namespace cellbox::kernel
