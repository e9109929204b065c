#include "protocol/session_id.hpp"

#include <algorithm>

namespace cellbox::gateway
{

bool valid_session_id(std::string_view id)
{
    return !id.empty() && id.size() <= max_session_id_length &&
           std::all_of(id.begin(), id.end(), [](unsigned char c) { return c > ' ' && c <= '~'; });
}

} // namespace cellbox::gateway
