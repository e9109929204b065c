// A sandbox policy file (share/cellbox/policies/*.toml, `cellbox-sandbox --policy`): its TOML
// reader and checks. Every mistake must be a policy_error.
#include "cellbox/sandbox/policy.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    try
    {
        cellbox::sandbox::parse_policy(std::string(cellbox::fuzz::text_of(data, size)),
                                       "fuzz.toml");
    }
    catch (const cellbox::sandbox::policy_error&)
    {
    }
    return 0;
}
