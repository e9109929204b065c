#include "protocol/connection_info.hpp"

#include "cellbox/unique_fd.hpp"

#include <cerrno>
#include <fcntl.h>
#include <filesystem>
#include <openssl/rand.h>
#include <stdexcept>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>
#include <vector>

namespace cellbox::gateway
{

std::string connection_info::endpoint(int port) const
{
    return transport + "://" + ip + (transport == "tcp" ? ":" : "-") + std::to_string(port);
}

nlohmann::json connection_info::to_json() const
{
    return {{"transport", transport},
            {"ip", ip},
            {"shell_port", shell_port},
            {"iopub_port", iopub_port},
            {"stdin_port", stdin_port},
            {"control_port", control_port},
            {"hb_port", hb_port},
            {"key", key},
            {"signature_scheme", "hmac-sha256"}};
}

std::string random_hex(std::size_t bytes)
{
    std::vector<unsigned char> raw(bytes);
    if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1)
    {
        throw std::runtime_error("no cryptographic randomness available");
    }
    static constexpr char digits[] = "0123456789abcdef";
    std::string hex;
    for (unsigned char byte : raw)
    {
        hex.push_back(digits[byte >> 4]);
        hex.push_back(digits[byte & 0xF]);
    }
    return hex;
}

connection_info make_ipc_connection(const std::string& directory)
{
    connection_info info;
    info.ip = directory + "/kernel";
    info.key = random_hex(32);
    return info;
}

void write_connection_file(const connection_info& info, const std::string& path)
{
    unique_fd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd)
    {
        throw std::system_error(errno, std::generic_category(), "create " + path);
    }
    const std::string text = info.to_json().dump(2) + "\n";
    if (write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
    {
        throw std::system_error(errno, std::generic_category(), "write " + path);
    }
}

std::string ipc_dir_of(const std::string& directory)
{
    return directory + "/ipc";
}

std::string connection_file_of(const std::string& directory)
{
    return ipc_dir_of(directory) + "/kernel.json";
}

std::string verdict_file_of(const std::string& directory)
{
    return directory + "/verdict.json";
}

connection_info prepare_kernel_directory(const std::string& directory)
{
    std::filesystem::create_directories(ipc_dir_of(directory));
    chmod(directory.c_str(), 0700);
    connection_info connection = make_ipc_connection(ipc_dir_of(directory));
    write_connection_file(connection, connection_file_of(directory));
    return connection;
}

} // namespace cellbox::gateway
