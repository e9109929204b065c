#include "cellbox/kernel/interrupt_router.hpp"

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <poll.h>
#include <stdexcept>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <system_error>

namespace cellbox::kernel
{
namespace
{

// Signal handlers can only reach process-wide state.
interrupt_router::signal_callback g_on_signal = nullptr;

extern "C" void on_interrupt_signal(int)
{
    if (g_on_signal != nullptr)
    {
        g_on_signal();
    }
}

sigset_t signal_set(std::initializer_list<int> signals)
{
    sigset_t set;
    sigemptyset(&set);
    for (int sig : signals)
    {
        sigaddset(&set, sig);
    }
    return set;
}

void change_mask(int how, std::initializer_list<int> signals)
{
    const sigset_t set = signal_set(signals);
    if (int err = pthread_sigmask(how, &set, nullptr); err != 0)
    {
        throw std::system_error(err, std::generic_category(), "pthread_sigmask");
    }
}

} // namespace

void interrupt_router::block_signals_in_this_thread()
{
    change_mask(SIG_BLOCK, {SIGINT, SIGUSR2});
}

interrupt_router::interrupt_router(signal_callback on_signal) : m_main_thread(pthread_self())
{
    if (g_on_signal != nullptr)
    {
        throw std::logic_error("only one interrupt_router may exist in a process");
    }
    g_on_signal = on_signal;
    block_signals_in_this_thread();
    const sigset_t sigint = signal_set({SIGINT});
    m_sigint.reset(signalfd(-1, &sigint, SFD_CLOEXEC | SFD_NONBLOCK));
    m_wakeup.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!m_sigint || !m_wakeup)
    {
        throw std::system_error(errno, std::generic_category(), "signalfd/eventfd");
    }

    struct sigaction action = {};
    action.sa_handler = on_interrupt_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0; // no SA_RESTART: a blocked sleep/read/select must return EINTR
    if (sigaction(SIGUSR2, &action, nullptr) != 0)
    {
        throw std::system_error(errno, std::generic_category(), "sigaction(SIGUSR2)");
    }
    m_waiting_thread = std::thread([this] { wait_for_sigint(); });
}

interrupt_router::~interrupt_router()
{
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_stopping = true;
    }
    wake_waiting_thread();
    m_waiting_thread.join();
    signal(SIGUSR2, SIG_DFL);
    g_on_signal = nullptr;
}

void interrupt_router::wake_waiting_thread()
{
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = write(m_wakeup.get(), &one, sizeof one);
}

void interrupt_router::wait_for_sigint()
{
    // A signal that lands between Python's last check and a blocking call (time.sleep enters
    // clock_nanosleep after the check) would wait for the call to end. So an interruption is
    // sent again every tick until the cell's handler has taken its reason. Without one pending
    // the thread sleeps: idle kernels must not wake (a thousand of them ticking would cost a
    // core).
    constexpr int tick_ms = 50;
    while (true)
    {
        bool resend = false;
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            if (m_stopping)
            {
                return;
            }
            resend = m_cell_running && m_reason != interrupt_reason::none;
        }
        pollfd fds[2] = {{m_sigint.get(), POLLIN, 0}, {m_wakeup.get(), POLLIN, 0}};
        const int ready = poll(fds, 2, resend ? tick_ms : -1);
        if (ready < 0 && errno != EINTR)
        {
            return;
        }
        if (fds[1].revents != 0)
        {
            std::uint64_t count = 0;
            [[maybe_unused]] const ssize_t n = read(m_wakeup.get(), &count, sizeof count);
        }
        signalfd_siginfo info{};
        bool user_interrupt = false;
        while (read(m_sigint.get(), &info, sizeof info) == sizeof info)
        {
            user_interrupt = true;
        }
        if (user_interrupt)
        {
            interrupt(interrupt_reason::user);
            continue;
        }
        if (ready == 0)
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            if (m_cell_running && m_reason != interrupt_reason::none)
            {
                pthread_kill(m_main_thread, SIGUSR2);
            }
        }
    }
}

void interrupt_router::cell_started()
{
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_cell_running = true;
    }
    change_mask(SIG_UNBLOCK, {SIGUSR2});
}

void interrupt_router::cell_finished()
{
    // Block first: a SIGUSR2 sent just before the flag is cleared stays pending until the
    // next cell, whose start clears the stale reason before the signal can act.
    change_mask(SIG_BLOCK, {SIGUSR2});
    std::lock_guard<std::mutex> lock(m_mutex);
    m_cell_running = false;
}

bool interrupt_router::interrupt(interrupt_reason reason)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    if (!m_cell_running)
    {
        return false;
    }
    m_reason = reason;
    pthread_kill(m_main_thread, SIGUSR2);
    wake_waiting_thread(); // to send it again until the cell takes it
    return true;
}

interrupt_reason interrupt_router::take_reason()
{
    std::lock_guard<std::mutex> lock(m_mutex);
    const interrupt_reason reason = m_reason;
    m_reason = interrupt_reason::none;
    return reason;
}

void interrupt_router::clear_reason()
{
    take_reason();
}

} // namespace cellbox::kernel
