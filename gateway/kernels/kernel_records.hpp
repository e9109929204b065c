#pragma once
// The kernels a gateway had, kept in its state directory (STATE/kernels.json, 0600, rewritten
// by the state file writer whenever one comes or goes, hibernates or resumes): who owned each,
// its kernelspec and allowances, and whether its image was saved. The next `cellbox serve` on
// the same state directory brings the hibernated ones back under their ids; the others (the
// gateway was killed before it could save them) answer with why they are gone.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace cellbox::gateway
{

struct saved_kernel
{
    std::string id;
    std::string name; // kernelspec
    std::string owner;
    std::uint64_t memory_bytes = 0;
    double cell_timeout_s = 0;
    double cell_timeout_cap_s = 0;
    std::map<std::string, std::string> env;
    bool hibernated = false; // its image is in the store
};

// A kernel id that will not come back, its owner, and why.
struct lost_kernel
{
    std::string owner;
    std::string reason;
};

struct kernel_records
{
    std::vector<saved_kernel> kernels;
    std::map<std::string, lost_kernel> lost;
};

// STATE/kernels.json.
std::string records_path(const std::string& state_dir);
// Reads STATE/kernels.json; none (or unreadable: logged) is an empty list.
kernel_records load_kernel_records(const std::string& state_dir);
// Its contents (written by a state_file_writer, kernels/state_file_writer.hpp).
std::string encode_kernel_records(const kernel_records& records);

} // namespace cellbox::gateway
