#include "kernels/kernel_request.hpp"

#include "protocol/connection_info.hpp"

#include <algorithm>
#include <stdexcept>

namespace cellbox::gateway
{

std::map<std::string, std::string> validate_kernel_env(const nlohmann::json& env)
{
    std::map<std::string, std::string> kept;
    if (env.is_null())
    {
        return kept;
    }
    if (!env.is_object())
    {
        throw std::invalid_argument("env must be an object of strings");
    }
    for (const auto& [name, value] : env.items())
    {
        if (name.rfind("KERNEL_", 0) != 0)
        {
            continue; // jupyter_server's gateway client sends others too; they are not ours
        }
        const bool name_ok =
            name.size() > 7 && name.size() <= 128 &&
            std::all_of(name.begin(), name.end(),
                        [](char c)
                        { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'; });
        if (!name_ok)
        {
            throw std::invalid_argument("env: " + name.substr(0, 128) +
                                        " is not a valid name (KERNEL_ then A-Z, 0-9, _)");
        }
        if (!value.is_string())
        {
            throw std::invalid_argument("env: " + name + " must be a string");
        }
        const auto& text = value.get_ref<const std::string&>();
        const bool value_ok =
            text.size() <= 4096 && std::none_of(text.begin(), text.end(),
                                                [](char c)
                                                {
                                                    const auto u = static_cast<unsigned char>(c);
                                                    return u < 0x20 && c != '\t';
                                                });
        if (!value_ok)
        {
            throw std::invalid_argument("env: " + name +
                                        " must be at most 4096 bytes without control characters");
        }
        kept[name] = text;
        if (kept.size() > 64)
        {
            throw std::invalid_argument("env: more than 64 KERNEL_* variables");
        }
    }
    return kept;
}

std::string make_kernel_id()
{
    std::string hex = random_hex(16);
    hex[12] = '4';                                                   // version 4
    hex[16] = "89ab"[std::stoi(hex.substr(16, 1), nullptr, 16) & 3]; // variant 10xx
    return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
           hex.substr(16, 4) + "-" + hex.substr(20, 12);
}

} // namespace cellbox::gateway
