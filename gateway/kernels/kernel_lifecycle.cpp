#include "kernels/kernel_lifecycle.hpp"

namespace cellbox::gateway
{

const char* to_string(lifecycle_state state)
{
    switch (state)
    {
    case lifecycle_state::starting:
        return "starting";
    case lifecycle_state::ready:
        return "ready";
    case lifecycle_state::restarting:
        return "restarting";
    case lifecycle_state::dead:
        return "dead";
    case lifecycle_state::deleting:
        return "deleting";
    case lifecycle_state::hibernating:
        return "hibernating";
    case lifecycle_state::hibernated:
        return "hibernated";
    }
    return "unknown";
}

bool kernel_lifecycle::allowed(lifecycle_state from, lifecycle_state to)
{
    using s = lifecycle_state;
    switch (from)
    {
    case s::starting:
        // hibernated: a record loaded from the state directory at start-up.
        return to == s::ready || to == s::restarting || to == s::dead || to == s::deleting ||
               to == s::hibernated;
    case s::ready:
        return to == s::restarting || to == s::dead || to == s::deleting || to == s::hibernating;
    case s::hibernating:
        // hibernated (image saved, process gone), ready again (saving failed), restarting
        // (the process died while saving), deleting.
        return to == s::hibernated || to == s::ready || to == s::restarting || to == s::deleting;
    case s::hibernated:
        // starting: resumed by a request; restarting: a restart asks for a fresh kernel.
        return to == s::starting || to == s::restarting || to == s::deleting;
    case s::restarting:
        // Any: starting (the old process exited, a restart launched the next one), ready,
        // restarting again (a second request), dead (the next one failed), deleting; not
        // hibernating, which needs a ready process.
        return to != s::hibernating && to != s::hibernated;
    case s::dead:
        return to == s::restarting || to == s::deleting;
    case s::deleting:
        return false;
    }
    return false;
}

bool kernel_lifecycle::move_to(lifecycle_state next)
{
    if (!allowed(m_state, next))
    {
        return false;
    }
    m_state = next;
    return true;
}

std::string kernel_lifecycle::model_state(const std::string& reported) const
{
    // Deleting: as before the shutdown, until the record goes. The others are named as
    // jupyter_server names them.
    const bool running = m_state == lifecycle_state::ready || m_state == lifecycle_state::deleting;
    return running ? reported : to_string(m_state);
}

} // namespace cellbox::gateway
