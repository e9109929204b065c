// A late-binding request as a session's supervisor reads it from its owner link (launcher.cpp):
// parse_late_binding(text). Every mistake must be an std::invalid_argument for the owner.
#include "cellbox/sandbox/handover.hpp"
#include "fuzz_support.hpp"

using cellbox::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    try
    {
        const auto binding =
            cellbox::sandbox::parse_late_binding(cellbox::fuzz::text_of(data, size));
        require(binding.workdir.empty() || binding.workdir.front() == '/', "workdirs are absolute");
        require(!binding.owner || !binding.workdir.empty(), "an owner comes with a workdir");
        require(!binding.owner || binding.owner->uid >= 1000, "owners are not system users");
    }
    catch (const std::invalid_argument&)
    {
    }
    return 0;
}
