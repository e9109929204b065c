#include "app/admin_token.hpp"

#include "app/config.hpp"
#include "cellbox/unique_fd.hpp"
#include "telemetry/log.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace cellbox::gateway
{
namespace
{

constexpr std::size_t longest_token_file = 4096;

std::string trimmed(const std::string& text)
{
    const char* blanks = " \t\r\n";
    const auto first = text.find_first_not_of(blanks);
    if (first == std::string::npos)
    {
        return {};
    }
    return text.substr(first, text.find_last_not_of(blanks) - first + 1);
}

} // namespace

std::string read_token_file(const std::string& path)
{
    const unique_fd file(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    struct stat info = {};
    if (!file || fstat(file.get(), &info) != 0)
    {
        throw config_error("token_file: cannot read " + path + ": " + std::strerror(errno));
    }
    if (!S_ISREG(info.st_mode) || info.st_size > static_cast<off_t>(longest_token_file))
    {
        throw config_error("token_file: " + path + " is not a file of at most 4096 bytes");
    }
    if ((info.st_mode & 077) != 0)
    {
        log::warn("the token file can be read by other users: make it 0600",
                  {{"path", path}, {"mode", std::to_string(info.st_mode & 0777)}});
    }
    std::string text(longest_token_file, '\0');
    const ssize_t length = read(file.get(), text.data(), text.size());
    if (length < 0)
    {
        throw config_error("token_file: cannot read " + path + ": " + std::strerror(errno));
    }
    text.resize(static_cast<std::size_t>(length));
    const std::string token = trimmed(text.substr(0, text.find('\n')));
    if (token.empty())
    {
        throw config_error("token_file: " + path + " holds no token on its first line");
    }
    return token;
}

void write_token_file(const std::string& path, const std::string& token)
{
    const unique_fd file(
        open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
    const std::string line = token + "\n";
    if (!file || fchmod(file.get(), 0600) != 0 ||
        write(file.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size()))
    {
        throw std::runtime_error("cannot write the admin token to " + path + ": " +
                                 std::strerror(errno));
    }
}

std::string startup_line(const std::string& url, const std::string& token, token_origin origin,
                         const std::string& token_file, bool terminal)
{
    std::string line = "cellbox serve: Jupyter kernels API on " + url;
    if (origin == token_origin::none)
    {
        return line;
    }
    if (terminal)
    {
        return line + "?token=" + token;
    }
    if (origin == token_origin::given)
    {
        return line + " (admin token: the one given with --token, CELLBOX_TOKEN or the config "
                      "file)";
    }
    return line + " (admin token: in " + token_file + ")";
}

} // namespace cellbox::gateway
