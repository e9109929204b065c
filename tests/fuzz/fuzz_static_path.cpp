// parse_static_path: the URL path of a static file, from anyone without a token. Whatever it
// accepts must be a relative path that cannot leave the static directory by itself: no
// absolute path, no empty, "." or ".." segment, no hidden name, no NUL, no backslash.
#include "fuzz_support.hpp"
#include "http/static_path.hpp"

using namespace cellbox;
using cellbox::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const auto parsed = gateway::parse_static_path(fuzz::text_of(data, size));
    require(parsed.relative.empty() != parsed.error.empty(), "a path or a reason, never both");
    if (parsed.error.empty())
    {
        const std::string& path = parsed.relative;
        require(path.front() != '/' && path.back() != '/', "relative, and names a file");
        require(path.find('\0') == std::string::npos, "no NUL");
        require(path.find('\\') == std::string::npos, "no backslash");
        require(path.find("//") == std::string::npos, "no empty segment");
        require(path.front() != '.' && path.find("/.") == std::string::npos, "no dot segment");
        require(path.size() <= size, "decoding never lengthens");
        (void)gateway::static_content_type(path);
    }
    return 0;
}
