#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace cellbox::gateway
{

// Where and how to reach one kernel: the content of its connection file. The gateway always
// uses ipc:// sockets in the kernel's private directory and a fresh random key.
struct connection_info
{
    std::string transport = "ipc";
    std::string ip; // a path prefix for ipc
    int shell_port = 1;
    int iopub_port = 2;
    int stdin_port = 3;
    int control_port = 4;
    int hb_port = 5;
    std::string key;

    std::string endpoint(int port) const;
    nlohmann::json to_json() const;
};

// A connection for a kernel whose sockets live in `directory`, with a 256-bit random key.
connection_info make_ipc_connection(const std::string& directory);

// Writes the connection file readable by its owner only.
void write_connection_file(const connection_info& info, const std::string& path);

// A kernel's private directory DIR (mode 0700): DIR/ipc holds its ipc sockets and its
// connection file, DIR/verdict.json the sandbox's verdict when it ends.
std::string ipc_dir_of(const std::string& directory);
std::string connection_file_of(const std::string& directory);
std::string verdict_file_of(const std::string& directory);
// Creates that directory and a connection file with a fresh random key; returns it.
connection_info prepare_kernel_directory(const std::string& directory);

// 2*bytes hex digits from the system's cryptographic random generator.
std::string random_hex(std::size_t bytes);

} // namespace cellbox::gateway
