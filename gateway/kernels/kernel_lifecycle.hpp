#pragma once

#include <string>

namespace cellbox::gateway
{

// Where a kernel is in its life, as the gateway manages it. Apart from Jupyter's
// execution_state (the last status the kernel reported), which a kernel sends whenever it
// likes: a status that arrives late must never decide whether an exit means "restart" or
// "delete".
enum class lifecycle_state
{
    starting,    // a process is launched and has not answered kernel_info yet
    ready,       // its process answered: requests go to it
    restarting,  // between two processes (a restart waits for the old one to exit, or a
                 // kernel that died is started again)
    dead,        // no process, and none coming: requests get an error answer
    deleting,    // shut down: its record goes when its process has exited
    hibernating, // its process is writing its namespace's image; requests wait
    hibernated,  // no process: its image is in the state directory; the first request that
                 // needs the kernel starts one and restores the image
};

const char* to_string(lifecycle_state state);

class kernel_lifecycle
{
public:
    lifecycle_state state() const { return m_state; }
    bool is(lifecycle_state state) const { return m_state == state; }

    // Whether `from` may become `to`. Deleting is final; a dead kernel only comes back by a
    // restart; staying in one state is refused except restarting again (a second restart
    // request while the first one waits).
    static bool allowed(lifecycle_state from, lifecycle_state to);
    // Moves to `next` if allowed; returns false (and stays) if not.
    bool move_to(lifecycle_state next);

    // jupyter_server's execution_state for the model: the lifecycle while it is not ready
    // ("starting", "restarting", "dead"), else `reported`, the kernel's last status.
    std::string model_state(const std::string& reported) const;

private:
    lifecycle_state m_state = lifecycle_state::starting;
};

} // namespace cellbox::gateway
