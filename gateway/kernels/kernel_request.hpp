#pragma once
// What a request to start a kernel brings: its environment (checked) and the id it gets.

#include <map>
#include <nlohmann/json.hpp>
#include <string>

namespace cellbox::gateway
{

// The `env` of POST /api/kernels: KERNEL_[A-Z0-9_]+ names with printable values of at most
// 4096 bytes are kept (as jupyter_server passes them on); other names are ignored. Throws
// std::invalid_argument naming the offending variable.
std::map<std::string, std::string> validate_kernel_env(const nlohmann::json& env);

// A UUID4 string, the id format jupyter_server's routes require.
std::string make_kernel_id();

} // namespace cellbox::gateway
