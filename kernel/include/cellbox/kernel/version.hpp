#pragma once

#include <string_view>

namespace cellbox::kernel
{
inline constexpr std::string_view version = CELLBOX_VERSION;
} // namespace cellbox::kernel
