// A late-binding request as a session's supervisor reads it from its owner link
// (handover.cpp's answer_late_binding): contract::decode_late_binding_request(text). It never
// throws; every mistake is an error for the owner.
#include "cellbox/contract/late_binding.hpp"
#include "fuzz_support.hpp"

using cellbox::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const auto binding =
        cellbox::contract::decode_late_binding_request(cellbox::fuzz::text_of(data, size));
    if (!binding)
    {
        require(!binding.error().empty(), "a refusal says why");
        return 0;
    }
    require(binding->workdir.empty() || binding->workdir.front() == '/', "workdirs are absolute");
    require(!binding->owner || !binding->workdir.empty(), "an owner comes with a workdir");
    require(!binding->owner || binding->owner->uid >= 1000, "owners are not system users");
    const auto again =
        cellbox::contract::decode_late_binding_request(cellbox::contract::encode(*binding));
    require(again.ok() && *again == *binding, "what is accepted round-trips");
    return 0;
}
