#pragma once
// How file bytes travel in the contents API's models: text (UTF-8) or base64, with a mimetype
// guessed from the name as Python's mimetypes does for the common kinds, and timestamps in
// ISO 8601 as jupyter_server writes them.
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace cellbox::gateway
{

bool valid_utf8(std::string_view bytes);

std::string base64_encode(std::string_view bytes);
// Standard base64 with padding; line breaks are skipped (Python's encoders add them). Nothing
// when anything else is not of the alphabet or the length is wrong.
std::optional<std::string> base64_decode(std::string_view text);

// The mimetype of a file name by its extension, or nothing when unknown.
std::optional<std::string> guess_mimetype(std::string_view name);

// "2026-12-06T22:19:48.123456Z".
std::string iso8601(const timespec& when);

} // namespace cellbox::gateway
