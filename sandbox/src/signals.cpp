// Signal forwarding, both ends: the launcher blocks the forwarded signals before the clone
// (the init inherits the mask) and reads them from a signalfd; the init gives them handlers.
#include "signals.hpp"

#include "steps.hpp"

#include <sys/signalfd.h>

namespace cellbox::sandbox
{
namespace
{

extern "C" void ignore_signal(int) {}

} // namespace

sigset_t supervised_signals()
{
    sigset_t set;
    sigemptyset(&set);
    for (int sig : forwarded_signals)
    {
        sigaddset(&set, sig);
    }
    sigaddset(&set, SIGCHLD);
    return set;
}

blocked_signals::blocked_signals()
{
    const sigset_t set = supervised_signals();
    sigprocmask(SIG_BLOCK, &set, &m_previous);
}

blocked_signals::~blocked_signals()
{
    sigprocmask(SIG_SETMASK, &m_previous, nullptr);
}

void block_signals(launch_state& s)
{
    s.blocked.emplace(); // inherited by the init, which reads them from a signalfd
    sigset_t forwarded = supervised_signals();
    sigdelset(&forwarded, SIGCHLD);
    s.signals.reset(signalfd(-1, &forwarded, SFD_CLOEXEC | SFD_NONBLOCK));
}

void catch_forwarded_signals(init_state&)
{
    // Forwarded signals wait for the init's signalfd; handlers make sure pid 1 is sent them.
    struct sigaction action = {};
    action.sa_handler = ignore_signal;
    for (int sig : forwarded_signals)
    {
        sigaction(sig, &action, nullptr);
    }
    sigaction(SIGCHLD, &action, nullptr);
}

} // namespace cellbox::sandbox
