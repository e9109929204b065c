#pragma once
// The signals a session forwards: SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 sent to
// the launcher reach the payload, through the init. Both read them (and the init SIGCHLD)
// from a signalfd, with the signals blocked.
#include <csignal>

namespace cellbox::sandbox
{

constexpr int forwarded_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

// forwarded_signals and SIGCHLD.
sigset_t supervised_signals();

// Blocks supervised_signals(); restores the previous mask when destroyed.
class blocked_signals
{
public:
    blocked_signals();
    ~blocked_signals();
    blocked_signals(const blocked_signals&) = delete;
    blocked_signals& operator=(const blocked_signals&) = delete;

private:
    sigset_t m_previous{};
};

} // namespace cellbox::sandbox
