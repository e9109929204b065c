#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace cellbox::kernel
{

// Bytes read from a pipe can stop in the middle of a UTF-8 sequence, and a child process may
// write arbitrary binary data. Jupyter messages are JSON, which must be valid UTF-8, so captured
// output goes through these two helpers before it is published.

// Length of a trailing, possibly valid but incomplete, UTF-8 sequence at the end of `bytes`
// (0 to 3). Those bytes should be kept until the next read completes them.
std::size_t incomplete_utf8_tail(std::string_view bytes);

// `bytes` with every invalid sequence replaced by U+FFFD.
std::string sanitize_utf8(std::string_view bytes);

} // namespace cellbox::kernel
