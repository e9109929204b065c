#pragma once
// The paths of the contents API, as clients send them: "" for the user's /work, "a/b.txt"
// below it. Parsing is where path tricks die: a path becomes a list of plain names, none of
// them "." or "..", none with a NUL or a '/', so that nothing later ever resolves a path string
// the client wrote. (Resolution itself is still done beneath a directory descriptor without
// following links: see beneath.hpp.)
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace cellbox::gateway
{

// A refused path, with what is wrong with it (answered as a 400).
class content_path_error : public std::invalid_argument
{
public:
    using std::invalid_argument::invalid_argument;
};

constexpr std::size_t max_content_path_bytes = 4096; // PATH_MAX
constexpr std::size_t max_content_name_bytes = 255;  // NAME_MAX

class content_path
{
public:
    content_path() = default; // the root, /work itself

    // A path from a request's URL (what follows /api/contents): each segment percent-decoded
    // once. Empty segments (leading, trailing, doubled slashes) are skipped, as jupyter_server
    // strips them. Throws content_path_error for "." or "..", raw or encoded, an encoded '/'
    // (%2F) or NUL, a malformed %-escape, a name over 255 bytes or a path over 4096.
    static content_path from_url(std::string_view encoded);
    // A path from a JSON body ("path" of PATCH, "copy_from" of POST): not percent-encoded,
    // otherwise the same rules.
    static content_path from_api(std::string_view text);

    bool is_root() const { return m_parts.empty(); }
    const std::vector<std::string>& parts() const { return m_parts; }
    // "a/b.txt"; "" for the root (the form of a model's "path").
    std::string api() const;
    // The last name ("" for the root).
    std::string name() const;
    // The directory holding it (the root's is the root).
    content_path parent() const;
    content_path child(const std::string& name) const;
    // Relative to the user's /work, for the beneath resolver: "a/b.txt", "." for the root.
    std::string relative() const;

private:
    static content_path parse(std::string_view text, bool percent_encoded);
    std::vector<std::string> m_parts;
};

// `text` with every byte outside RFC 3986's unreserved set and '/' percent-encoded (for the
// Location header of a created file).
std::string url_escape_path(std::string_view text);

} // namespace cellbox::gateway
