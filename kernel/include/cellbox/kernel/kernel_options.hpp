#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace cellbox::kernel
{

// Command line of cellbox-kernel: one kernel (-f), or a zygote (--zygote) that forks
// sandboxed kernels from a warm interpreter on request.
struct kernel_options
{
    std::string connection_file;
    std::string zygote_socket;             // --zygote: the owner's control socket to connect to
    std::vector<std::string> warm_modules; // --warm-modules: imported once by the zygote
    double cell_timeout_s = 0;             // 0: no limit
    std::optional<std::uint64_t> memory_limit_bytes; // soft limit: MemoryError past it
};

// Either the options, or the exit code after --help/--version or an error was printed.
using parse_result = std::variant<kernel_options, int>;

parse_result parse_kernel_options(int argc, char** argv, std::ostream& out, std::ostream& err);

class invalid_value : public std::invalid_argument
{
public:
    using std::invalid_argument::invalid_argument;
};

// "1073741824", "512M", "512MiB", "1G", "1.5GiB", "64k": binary units, case-insensitive.
std::uint64_t parse_byte_size(std::string_view text);

// Per-request options a client puts in execute_request metadata:
// {"cellbox": {"timeout": 2.5}}; a timeout of 0 means no limit for that cell.
struct cell_options
{
    std::optional<double> timeout_s;
};

// Throws invalid_value with a message meant for the user when the options are malformed.
cell_options parse_cell_options(const nlohmann::json& request_metadata);

} // namespace cellbox::kernel
