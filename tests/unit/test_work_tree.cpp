// The contents API's file layer on a scratch directory: path rules, both resolvers (openat2 and
// the O_NOFOLLOW walk used where the kernel lacks it) against links, models and operations, and
// the base64 and UTF-8 codecs. The HTTP side is tests/gateway/test_contents_api.py.
#include "files/beneath.hpp"
#include "files/content_codec.hpp"
#include "files/content_path.hpp"
#include "files/work_tree.hpp"

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

using namespace cellbox::gateway;
namespace fs = std::filesystem;

namespace
{

// A scratch /work: root/work with a file, a subdirectory, and links out of it.
struct scratch
{
    fs::path root;
    fs::path work;
    scratch()
    {
        std::string pattern = (fs::temp_directory_path() / "cellbox-contents-XXXXXX").string();
        root = mkdtemp(pattern.data());
        work = root / "work";
        fs::create_directories(work / "sub");
        std::ofstream(root / "outside.txt") << "outside";
        std::ofstream(work / "sub" / "inside.txt") << "inside";
        fs::create_directory_symlink(root, work / "up");
        fs::create_symlink(root / "outside.txt", work / "out.txt");
        fs::create_directory_symlink("..", work / "sub" / "parent");
        mkfifo((work / "fifo").c_str(), 0600);
    }
    ~scratch() { fs::remove_all(root); }
    scratch(const scratch&) = delete;
    scratch& operator=(const scratch&) = delete;
};

int open_errno(int dirfd, const std::string& relative, int flags, resolver how)
{
    const cellbox::unique_fd fd = open_beneath(dirfd, relative, flags, 0, how);
    return fd ? 0 : errno;
}

} // namespace

TEST_CASE("contents paths are lists of plain names")
{
    CHECK(content_path::from_url("").is_root());
    CHECK(content_path::from_url("/").is_root());
    CHECK(content_path::from_url("/a//b/").api() == "a/b");
    CHECK(content_path::from_url("/a%20b/c%2Bd.txt").api() == "a b/c+d.txt");
    CHECK(content_path::from_url("/%252e%252e").api() == "%2e%2e"); // decoded once only
    CHECK(content_path::from_api("/x/y.ipynb").parent().api() == "x");
    CHECK(content_path::from_api("x/y.ipynb").name() == "y.ipynb");
    CHECK(content_path().relative() == ".");
    for (const char* bad :
         {"/..", "/a/../b", "/%2e%2e", "/.%2E", "/.", "/a%2fb", "/a%00b", "/%", "/%4", "/%zz"})
    {
        INFO(bad);
        CHECK_THROWS_AS(content_path::from_url(bad), content_path_error);
    }
    CHECK_THROWS_AS(content_path::from_api("../x"), content_path_error);
    CHECK_THROWS_AS(content_path::from_api(std::string("a\0b", 3)), content_path_error);
    CHECK_THROWS_AS(content_path::from_url("/" + std::string(256, 'a')), content_path_error);
    CHECK_NOTHROW(content_path::from_url("/" + std::string(255, 'a')));
    CHECK_THROWS_AS(content_path::from_url(std::string(5000, 'a')), content_path_error);
    CHECK(url_escape_path("a b/ü.txt") == "a%20b/%C3%BC.txt");
}

TEST_CASE("both resolvers refuse every link on the way and stay beneath the directory")
{
    const scratch s;
    const cellbox::unique_fd work(open(s.work.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    REQUIRE(work);
    for (const resolver how : {resolver::automatic, resolver::walk})
    {
        INFO((how == resolver::walk ? "walk" : "automatic"));
        CHECK(open_errno(work.get(), "sub/inside.txt", O_RDONLY, how) == 0);
        CHECK(open_errno(work.get(), ".", O_RDONLY | O_DIRECTORY, how) == 0);
        CHECK(open_errno(work.get(), "out.txt", O_RDONLY, how) == ELOOP);
        CHECK(open_errno(work.get(), "up/outside.txt", O_RDONLY, how) == ELOOP);
        CHECK(open_errno(work.get(), "up", O_RDONLY | O_DIRECTORY, how) == ELOOP);
        CHECK(open_errno(work.get(), "sub/parent/out.txt", O_RDONLY, how) == ELOOP);
        CHECK(open_errno(work.get(), "out.txt", O_WRONLY | O_CREAT | O_TRUNC, how) == ELOOP);
        CHECK(open_errno(work.get(), "../outside.txt", O_RDONLY, how) == EXDEV);
        CHECK(open_errno(work.get(), "/etc/passwd", O_RDONLY, how) == EXDEV);
        CHECK(open_errno(work.get(), "missing/x", O_RDONLY, how) == ENOENT);
    }
    std::ifstream outside(s.root / "outside.txt");
    std::string text;
    outside >> text;
    CHECK(text == "outside"); // never truncated through the link
}

TEST_CASE("work_tree serves models and never follows links, whichever resolver")
{
    const scratch s;
    for (const resolver how : {resolver::automatic, resolver::walk})
    {
        work_tree tree(s.work.string(), getuid(), 1 << 20, how);
        const auto root = tree.get(content_path(), {});
        REQUIRE(root["type"] == "directory");
        std::vector<std::string> names;
        for (const auto& entry : root["content"])
        {
            names.push_back(entry["name"]);
        }
        CHECK(names == std::vector<std::string>{"sub"}); // no links, no FIFO
        const auto inside = tree.get(content_path::from_url("/sub/inside.txt"), {});
        CHECK(inside["content"] == "inside");
        CHECK(inside["format"] == "text");
        for (const char* refused : {"/out.txt", "/up/outside.txt", "/fifo", "/sub/parent"})
        {
            INFO(refused);
            try
            {
                tree.get(content_path::from_url(refused), {});
                FAIL("served");
            }
            catch (const contents_error& e)
            {
                CHECK(e.status() == 400);
            }
        }
        const nlohmann::json text = {{"type", "file"}, {"format", "text"}, {"content", "x"}};
        CHECK_THROWS_AS(tree.save(content_path::from_url("/out.txt"), text), contents_error);
        CHECK_THROWS_AS(tree.save(content_path::from_url("/up/new.txt"), text), contents_error);
        CHECK_FALSE(fs::exists(s.root / "new.txt"));
        const auto saved = tree.save(content_path::from_url("/sub/new.txt"), text);
        CHECK(saved.created);
        CHECK(tree.rename(content_path::from_url("/sub/new.txt"),
                          content_path::from_api("moved.txt"))["path"] == "moved.txt");
        tree.remove(content_path::from_url("/moved.txt"));
        tree.remove(content_path::from_url("/out.txt")); // the link itself
        CHECK(fs::exists(s.root / "outside.txt"));
        fs::create_symlink(s.root / "outside.txt", s.work / "out.txt");
    }
}

TEST_CASE("base64 and UTF-8 as the models carry them")
{
    CHECK(base64_encode("") == "");
    CHECK(base64_encode("f") == "Zg==");
    CHECK(base64_encode("fo") == "Zm8=");
    CHECK(base64_encode("foo") == "Zm9v");
    CHECK(base64_decode("Zm9v\nYmFy") == std::optional<std::string>("foobar"));
    CHECK(base64_decode("Zg==") == std::optional<std::string>("f"));
    CHECK_FALSE(base64_decode("Zg="));
    CHECK_FALSE(base64_decode("Z=g="));
    CHECK_FALSE(base64_decode("Zm9v!A=="));
    CHECK_FALSE(base64_decode("=Zg="));
    const std::string binary("\x00\xff\x80 ok", 6);
    CHECK(base64_decode(base64_encode(binary)) == std::optional<std::string>(binary));
    CHECK(valid_utf8("héllo"));
    CHECK_FALSE(valid_utf8("\xc3"));
    CHECK_FALSE(valid_utf8("\xed\xa0\x80")); // a surrogate
    CHECK(guess_mimetype("a.PNG") == std::optional<std::string>("image/png"));
    CHECK_FALSE(guess_mimetype("README"));
}
