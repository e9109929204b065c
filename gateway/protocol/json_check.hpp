#pragma once

#include "cellbox/bounded_json.hpp"

#include <string_view>

namespace cellbox::gateway
{

// Whether `text` is exactly one JSON object (RFC 8259: optional whitespace around it, strings of
// valid UTF-8 with well-formed escapes and surrogate pairs, at most `max_depth` nested
// containers). A check without building a document: it lets the gateway splice a kernel's
// message parts into the JSON it sends a client instead of parsing and re-serialising
// megabytes of output. A hostile kernel's bytes still cannot break out of their field.
bool is_json_object(std::string_view text, int max_depth = max_json_depth);

} // namespace cellbox::gateway
