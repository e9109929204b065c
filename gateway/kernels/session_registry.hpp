#pragma once
// jupyter_server's sessions: a notebook path bound to a kernel, per user. Only what
// /api/sessions needs; the kernels themselves stay with kernel_manager.
#include "auth/identity.hpp"
#include "kernels/state_file_writer.hpp"

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace cellbox::gateway
{

class session_registry
{
public:
    struct session
    {
        std::string id;
        std::string path;
        std::string name;
        std::string type;
        std::string kernel_id;
        std::string owner;
    };

    // Keeps the sessions in `file` (0600, rewritten atomically by `writer` on every change)
    // so that they outlive the gateway, after loading those already there whose kernel
    // `exists` (the hibernated kernels the gateway brought back).
    void keep_in(std::string file, const std::function<bool(const std::string&)>& exists,
                 std::shared_ptr<state_file_writer> writer);
    // A session found by find() was changed in place (PATCH): saved again.
    void changed() { save(); }

    session& add(session s);
    // The session if `who` may see it (its owner or the admin).
    session* find(const std::string& id, const identity& who);
    session* find_by_path(const std::string& path, const identity& who);
    std::vector<session*> list(const identity& who);
    void remove(const std::string& id);
    // Every session bound to the kernel (it is gone).
    void remove_kernel(const std::string& kernel_id);

    // For the caps on sessions per kernel and per user.
    std::size_t count_on_kernel(const std::string& kernel_id) const;
    std::size_t count_of(const std::string& user) const;

private:
    void save() const;

    std::map<std::string, session> m_sessions;
    std::string m_file; // none: not kept
    std::shared_ptr<state_file_writer> m_writer;
};

} // namespace cellbox::gateway
