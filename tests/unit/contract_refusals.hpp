#pragma once
// Shared by the contract tests: each malformed input is refused by its decoder, without an
// exception, with a reason that says what was wrong.
#include <catch2/catch.hpp>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

// Pairs of an input and a part of the reason its refusal must give.
template <typename Input> using refusals = std::vector<std::pair<Input, std::string>>;

// The ways text from another process is not a JSON object to read at all.
inline refusals<std::string> not_objects()
{
    const std::string deep = std::string(100'000, '[') + std::string(100'000, ']');
    return {{"", "not JSON"},
            {"{", "not JSON"},
            {"[1]", "must be a JSON object"},
            {R"({"x": )" + deep + "}", "deeper than 256"}};
}

template <typename Input, typename Decode>
void check_refusals(const refusals<Input>& cases, Decode decode)
{
    for (const auto& [input, reason] : cases)
    {
        CAPTURE(input);
        const auto decoded = decode(input);
        CHECK_FALSE(decoded.ok());
        CHECK_THAT(decoded.error(), Catch::Contains(reason));
        CHECK_THROWS_AS(decoded.value(), std::invalid_argument);
    }
}
