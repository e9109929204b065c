#pragma once
// A system call that failed in one process, as another process learns of it: the step that
// failed and its errno, next to the message meant for people (which stays what it was). It
// travels as {"call": "open workdir /srv/work/alice", "errno": 2} under "system_error" in a
// verdict, a late-binding answer, a zygote answer and the sandbox's setup report.
#include "cellbox/contract/decoded.hpp"

#include <exception>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace cellbox::contract
{

struct system_error
{
    std::string call; // what was being done: "mount_setattr nosuid,nodev /srv/x", "fork"
    int number = 0;   // its errno, > 0

    // "call: strerror(number)", as std::system_error's what() reads.
    std::string message() const;

    bool operator==(const system_error& other) const
    {
        return call == other.call && number == other.number;
    }
    bool operator!=(const system_error& other) const { return !(*this == other); }
};

// The call and errno of a std::system_error of the generic or system category (what cellbox
// throws for a failed system call); nothing for other exceptions.
std::optional<system_error> system_error_of(const std::exception& e);

nlohmann::json to_json(const system_error& error);
decoded<system_error> system_error_from_json(const nlohmann::json& value);

} // namespace cellbox::contract
