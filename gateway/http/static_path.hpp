#pragma once
// What a request for a static file names, checked before any filesystem call: the path below
// {base_url}static/ as it came in the URL (percent-encoded), turned into a relative path that
// cannot leave the static directory by itself ("..", absolute, hidden or odd names), and the
// Content-Type its extension gets. static_api then resolves it and checks symlinks.
#include <optional>
#include <string>
#include <string_view>

namespace cellbox::gateway
{

// Longest relative path served: the files the widget needs are a few dozen bytes deep.
constexpr std::size_t max_static_path_bytes = 512;

struct static_path
{
    std::string relative; // "embed/cellbox-embed.js": segments joined by '/', never empty
    std::string error;    // set instead when refused: what is wrong with the path
};

// `raw`: the URL path after "static/", before percent-decoding. Refused: empty, longer than
// max_static_path_bytes, a bad or NUL escape, an empty segment ("a//b", a trailing '/', so
// no directory is ever asked for), a segment starting with '.' ("..", ".git"), a backslash
// or a control character.
static_path parse_static_path(std::string_view raw);

// "application/javascript; charset=utf-8" for "x.js"...; application/octet-stream when the
// extension is not one the static directory holds.
std::string static_content_type(std::string_view relative);

} // namespace cellbox::gateway
