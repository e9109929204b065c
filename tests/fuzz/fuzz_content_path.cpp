// The contents API's path resolver: a request's path (percent-encoded, from the URL) or a
// body's ("path", "copy_from") parsed by content_path, then opened beneath a scratch /work
// holding links out of it, with openat2 and with the O_NOFOLLOW walk. Whatever the input,
// an accepted path is plain names only, and whatever opens is inside the scratch /work.
#include "files/beneath.hpp"
#include "files/content_path.hpp"
#include "fuzz_support.hpp"

#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <unistd.h>

using namespace cellbox::gateway;
using cellbox::fuzz::require;
namespace fs = std::filesystem;

namespace
{

// /tmp/cellbox-fuzz-XXXXXX/work: a file, a directory, links to the parent and outside.
struct scratch
{
    fs::path root;
    fs::path work;
    cellbox::unique_fd fd;
    scratch()
    {
        std::string pattern = (fs::temp_directory_path() / "cellbox-fuzz-XXXXXX").string();
        root = fs::canonical(mkdtemp(pattern.data()));
        work = root / "work";
        fs::create_directories(work / "a" / "b");
        std::ofstream(root / "secret") << "outside";
        std::ofstream(work / "a" / "f.txt") << "inside";
        fs::create_directory_symlink(root, work / "up");
        fs::create_directory_symlink("..", work / "a" / "parent");
        fs::create_symlink("/etc/passwd", work / "pw");
        fd = cellbox::unique_fd(open(work.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    }
    ~scratch() { fs::remove_all(root); }
    scratch(const scratch&) = delete;
    scratch& operator=(const scratch&) = delete;
};

const scratch& the_scratch()
{
    static const scratch s;
    return s;
}

void check_plain(const content_path& path)
{
    for (const auto& part : path.parts())
    {
        require(!part.empty() && part != "." && part != "..", "no empty, '.' or '..' name");
        require(part.find('/') == std::string::npos && part.find('\0') == std::string::npos,
                "no '/' or NUL in a name");
        require(part.size() <= max_content_name_bytes, "names within NAME_MAX");
    }
    require(content_path::from_api(path.api()).parts() == path.parts(), "api() round-trips");
    require(content_path::from_url(url_escape_path(path.api())).parts() == path.parts(),
            "the Location header's form round-trips");
}

void check_opens_inside(const content_path& path)
{
    const scratch& s = the_scratch();
    bool opened[2] = {false, false};
    int i = 0;
    for (const resolver how : {resolver::automatic, resolver::walk})
    {
        const cellbox::unique_fd fd =
            open_beneath(s.fd.get(), path.relative(), O_RDONLY | O_NONBLOCK, 0, how);
        opened[i++] = static_cast<bool>(fd);
        if (fd)
        {
            const fs::path where = fs::read_symlink("/proc/self/fd/" + std::to_string(fd.get()));
            const std::string text = where.string();
            require(text.rfind(s.work.string(), 0) == 0, "what opens is inside /work");
        }
    }
    require(opened[0] == opened[1], "openat2 and the walk agree");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string_view text = cellbox::fuzz::text_of(data, size);
    for (const bool from_url : {true, false})
    {
        try
        {
            const content_path path =
                from_url ? content_path::from_url(text) : content_path::from_api(text);
            check_plain(path);
            check_opens_inside(path);
        }
        catch (const content_path_error&)
        {
            // Refused with a 400, as the API does.
        }
    }
    return 0;
}
