#include "cellbox/kernel/connection_file.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sys/socket.h>
#include <unistd.h>

namespace cellbox::kernel
{

xeus::xconfiguration load_connection_file(const std::string& path)
{
    std::ifstream file(path);
    if (!file)
    {
        throw invalid_connection_file("cannot read connection file " + path);
    }
    nlohmann::json doc;
    try
    {
        file >> doc;
    }
    catch (const nlohmann::json::exception& e)
    {
        throw invalid_connection_file("connection file " + path +
                                      " is not valid JSON: " + e.what());
    }
    const auto fail = [&path](const std::string& what)
    { return invalid_connection_file("connection file " + path + ": " + what); };
    if (!doc.is_object())
    {
        throw fail("expected a JSON object");
    }
    const std::string transport = doc.value("transport", "tcp");
    if (transport != "tcp" && transport != "ipc")
    {
        throw fail("transport must be \"tcp\" or \"ipc\", not \"" + transport + "\"");
    }
    if (!doc.contains("ip") || !doc["ip"].is_string() || doc["ip"].get<std::string>().empty())
    {
        throw fail("\"ip\" must be a non-empty string (an address for tcp, a path for ipc)");
    }
    xeus::xconfiguration config;
    config.m_transport = transport;
    config.m_ip = doc["ip"].get<std::string>();
    const std::pair<const char*, std::string*> ports[] = {{"control_port", &config.m_control_port},
                                                          {"shell_port", &config.m_shell_port},
                                                          {"stdin_port", &config.m_stdin_port},
                                                          {"iopub_port", &config.m_iopub_port},
                                                          {"hb_port", &config.m_hb_port}};
    for (const auto& [name, target] : ports)
    {
        const auto it = doc.find(name);
        if (it == doc.end() || !it->is_number_integer() || it->get<long>() <= 0 ||
            it->get<long>() > 65535)
        {
            throw fail(std::string("\"") + name + "\" must be an integer from 1 to 65535");
        }
        *target = std::to_string(it->get<long>());
    }
    config.m_signature_scheme = doc.value("signature_scheme", "hmac-sha256");
    if (config.m_signature_scheme != "hmac-sha256" && !config.m_signature_scheme.empty())
    {
        throw fail("signature_scheme \"" + config.m_signature_scheme +
                   "\" is not supported (use hmac-sha256)");
    }
    const auto key = doc.find("key");
    if (key != doc.end() && !key->is_string())
    {
        throw fail("\"key\" must be a string");
    }
    config.m_key = key == doc.end() ? "" : key->get<std::string>();
    if (transport == "tcp")
    {
        // In a sandbox without network only ipc works; say so instead of a bare EINVAL from
        // ZeroMQ later on.
        const int probe = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe < 0)
        {
            throw fail(std::string("transport \"tcp\" is not available here (") +
                       std::strerror(errno) +
                       "): this kernel has no network, e.g. it runs in cellbox-sandbox; use a "
                       "connection file with \"transport\": \"ipc\"");
        }
        close(probe);
    }
    if (config.m_key.empty())
    {
        config.m_signature_scheme.clear(); // no key: messages are not signed
    }
    return config;
}

} // namespace cellbox::kernel
