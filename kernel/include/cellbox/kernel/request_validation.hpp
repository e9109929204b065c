#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace cellbox::kernel
{

// What is wrong with an execute_request's content, if anything. xeus 2.4.1 answers nothing
// when a handler throws on a field of the wrong type, leaving the client waiting forever, so
// malformed requests are answered with an error before they reach it.
std::optional<std::string> execute_request_problem(const nlohmann::json& content);

} // namespace cellbox::kernel
