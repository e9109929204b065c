#pragma once
// The mount table (/proc/self/mounts), read without leaving copies of it in memory. It names
// every mount of the host, other users' /work images among them (hence their names); a
// zygote session's supervisor reads it after the fork, without an exec, and the session's
// payload inherits whatever the supervisor's memory still holds. So the table is read into one
// buffer that is zeroed before it is freed and parsed there in place: no stream buffer, string
// or stack buffer ever holds a line of it.
#include <functional>
#include <string_view>

namespace cellbox::sandbox
{

// One line of the table, as views into the buffer it was read into: valid only during the
// call that is given it. Spaces in paths stay escaped as the kernel writes them (\040).
struct mount_entry
{
    std::string_view device;
    std::string_view target;
    std::string_view type;
    std::string_view options;
};

using mount_visitor = std::function<void(const mount_entry&)>;

// Calls `visit` with each entry of /proc/self/mounts (none if it cannot be read).
void for_each_mount(const mount_visitor& visit);
// The same over a table's text.
void for_each_mount_in(std::string_view table, const mount_visitor& visit);

} // namespace cellbox::sandbox
