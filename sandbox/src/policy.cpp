#include "cellbox/sandbox/policy.hpp"

#include "cellbox/byte_size.hpp"
#include "cellbox/toml_ascii.hpp"

#include <fstream>
#include <sstream>
#include <toml++/toml.h>
#include <utility>

namespace cellbox::sandbox
{
namespace
{

constexpr std::pair<protection, const char*> protection_names[] = {
    {protection::mount_namespace, "mount_namespace"},
    {protection::pid_namespace, "pid_namespace"},
    {protection::network_namespace, "network_namespace"},
    {protection::ipc_namespace, "ipc_namespace"},
    {protection::uts_namespace, "uts_namespace"},
    {protection::cgroup_namespace, "cgroup_namespace"},
    {protection::user_namespace, "user_namespace"},
    {protection::seccomp, "seccomp"},
    {protection::no_new_privs, "no_new_privs"},
    {protection::memory_cgroup, "memory_cgroup"},
    {protection::pids_cgroup, "pids_cgroup"},
    {protection::cpu_cgroup, "cpu_cgroup"},
    {protection::distinct_uid, "distinct_uid"},
};

std::uint64_t size_value(const toml::node& node, const std::string& key)
{
    if (auto n = node.value<std::int64_t>(); n && *n > 0)
    {
        return static_cast<std::uint64_t>(*n);
    }
    if (auto text = node.value<std::string>())
    {
        try
        {
            return parse_byte_size(*text);
        }
        catch (const std::invalid_argument& e)
        {
            throw policy_error(key + ": " + e.what());
        }
    }
    throw policy_error(key + ": expected a positive size");
}

std::vector<std::string> string_list(const toml::table& table, const char* key)
{
    std::vector<std::string> out;
    if (const auto* array = table[key].as_array())
    {
        for (const auto& item : *array)
        {
            auto text = item.value<std::string>();
            if (!text)
            {
                throw policy_error(std::string(key) + ": every entry must be a string");
            }
            out.push_back(*text);
        }
    }
    return out;
}

constexpr std::pair<cpu_scheduling, const char*> scheduling_names[] = {
    {cpu_scheduling::batch, "batch"},
    {cpu_scheduling::normal, "normal"},
};

cpu_scheduling scheduling_value(const toml::node& node)
{
    if (const auto text = node.value<std::string>())
    {
        for (const auto& [value, name] : scheduling_names)
        {
            if (*text == name)
            {
                return value;
            }
        }
    }
    throw policy_error("scheduling: must be \"batch\" or \"normal\"");
}

} // namespace

const char* name_of(cpu_scheduling s)
{
    for (const auto& [value, name] : scheduling_names)
    {
        if (value == s)
        {
            return name;
        }
    }
    return "unknown";
}

const char* name_of(protection p)
{
    for (const auto& [value, name] : protection_names)
    {
        if (value == p)
        {
            return name;
        }
    }
    return "unknown";
}

std::optional<protection> protection_named(const std::string& name)
{
    for (const auto& [value, text] : protection_names)
    {
        if (name == text)
        {
            return value;
        }
    }
    return std::nullopt;
}

policy parse_policy(const std::string& toml_text, const std::string& origin)
{
    std::string ascii;
    try
    {
        ascii = toml_as_ascii(toml_text);
    }
    catch (const std::invalid_argument& e)
    {
        throw policy_error(origin + ":" + e.what());
    }
    toml::table doc;
    try
    {
        doc = toml::parse(ascii, origin);
    }
    catch (const toml::parse_error& e)
    {
        std::ostringstream message;
        message << origin << ": " << e.description() << " (line " << e.source().begin.line << ")";
        throw policy_error(message.str());
    }
    policy result;
    if (const auto* limits = doc["limits"].as_table())
    {
        auto& l = result.limits;
        if (const auto* n = limits->get("memory"))
        {
            l.memory_bytes = size_value(*n, "limits.memory");
        }
        if (auto n = (*limits)["pids"].value<std::int64_t>())
        {
            l.pids = static_cast<std::uint64_t>(*n);
        }
        if (auto n = (*limits)["cpus"].value<double>())
        {
            l.cpus = *n;
        }
        if (auto n = (*limits)["cpu_time"].value<double>(); n && *n > 0)
        {
            l.cpu_time_s = *n;
        }
        if (auto n = (*limits)["wall_time"].value<double>(); n && *n > 0)
        {
            l.wall_time_s = *n;
        }
        if (auto n = (*limits)["open_files"].value<std::int64_t>())
        {
            l.open_files = static_cast<std::uint64_t>(*n);
        }
        if (const auto* n = limits->get("file_size"))
        {
            l.file_size_bytes = size_value(*n, "limits.file_size");
        }
        if (const auto* n = limits->get("tmp_size"))
        {
            l.tmp_size_bytes = size_value(*n, "limits.tmp_size");
        }
        if (const auto* n = limits->get("shm_size"))
        {
            l.shm_size_bytes = size_value(*n, "limits.shm_size");
        }
    }
    if (const auto* fs = doc["filesystem"].as_table())
    {
        result.read_only = string_list(*fs, "read_only");
        result.root_links = string_list(*fs, "root_links");
        result.devices = string_list(*fs, "devices");
        for (const auto& path : result.read_only)
        {
            if (path.empty() || path.front() != '/')
            {
                throw policy_error("filesystem.read_only: \"" + path + "\" is not absolute");
            }
        }
        for (const auto& device : result.devices)
        {
            if (device.find('/') != std::string::npos || device == ".." || device == ".")
            {
                throw policy_error("filesystem.devices: \"" + device + "\" must be a name");
            }
        }
    }
    if (const auto* env = doc["environment"].as_table())
    {
        for (const auto& [key, value] : *env)
        {
            auto text = value.value<std::string>();
            if (!text)
            {
                throw policy_error("environment." + std::string(key.str()) + " must be a string");
            }
            result.environment[std::string(key.str())] = *text;
        }
    }
    if (const auto* seccomp = doc["seccomp"].as_table())
    {
        result.allowed_syscalls = string_list(*seccomp, "allow");
    }
    if (const auto* requirements = doc["requirements"].as_table())
    {
        for (const auto& name : string_list(*requirements, "required"))
        {
            auto p = protection_named(name);
            if (!p)
            {
                throw policy_error("requirements.required: unknown protection \"" + name + "\"");
            }
            result.required.push_back(*p);
        }
    }
    if (auto host = doc["hostname"].value<std::string>())
    {
        result.hostname = *host;
    }
    if (auto uid = doc["first_uid"].value<std::int64_t>())
    {
        result.first_uid = static_cast<std::uint32_t>(*uid);
    }
    if (const auto* scheduling = doc.get("scheduling"))
    {
        result.scheduling = scheduling_value(*scheduling);
    }
    return result;
}

policy load_policy(const std::string& path)
{
    std::ifstream file(path);
    if (!file)
    {
        throw policy_error("cannot read policy file " + path);
    }
    std::stringstream text;
    text << file.rdbuf();
    return parse_policy(text.str(), path);
}

void override_limits(resource_limits& limits, const contract::launch_limits& asked)
{
    if (asked.memory_bytes)
    {
        limits.memory_bytes = asked.memory_bytes;
    }
    if (asked.pids)
    {
        limits.pids = asked.pids;
    }
    if (asked.cpus)
    {
        limits.cpus = asked.cpus;
    }
    if (asked.cpu_time_s)
    {
        limits.cpu_time_s = asked.cpu_time_s;
    }
    if (asked.wall_time_s)
    {
        limits.wall_time_s = asked.wall_time_s;
    }
}

} // namespace cellbox::sandbox
