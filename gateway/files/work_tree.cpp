#include "files/work_tree.hpp"

#include "cellbox/bounded_json.hpp"
#include "files/content_codec.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <memory>
#include <unistd.h>
#include <vector>

namespace cellbox::gateway
{

using json = nlohmann::json;

namespace
{

enum class kind
{
    directory,
    file,
    other, // links, devices, sockets, fifos: never served
};

kind kind_of(const struct statx& st)
{
    if (S_ISDIR(st.stx_mode))
    {
        return kind::directory;
    }
    return S_ISREG(st.stx_mode) ? kind::file : kind::other;
}

bool is_notebook_name(const std::string& name)
{
    return name.size() > 6 && name.compare(name.size() - 6, 6, ".ipynb") == 0;
}

timespec time_of(const statx_timestamp& t)
{
    return timespec{static_cast<time_t>(t.tv_sec), static_cast<long>(t.tv_nsec)};
}

struct dir_closer
{
    void operator()(DIR* d) const { closedir(d); }
};

} // namespace

json empty_notebook()
{
    return {{"cells", json::array()},
            {"metadata", json::object()},
            {"nbformat", 4},
            {"nbformat_minor", 5}};
}

void work_tree::fail(int error, const content_path& path, const char* doing)
{
    const std::string where = "/" + path.api();
    switch (error)
    {
    case ENOENT:
    case ENOTDIR:
        throw contents_error(404, "No such file or directory: " + where);
    case ELOOP:
        throw contents_error(400, where + ": a symbolic link is in the way; the contents API "
                                          "never follows links");
    case EXDEV:
        throw contents_error(400, where + " leads out of /work");
    case EACCES:
    case EPERM:
        throw contents_error(403, "Permission denied: " + where);
    case ENOSPC:
    case EDQUOT:
        throw contents_error(507, "No space left in /work (the user's disk quota) while " +
                                      std::string(doing) + " " + where);
    case EFBIG:
        throw contents_error(413, where + " would exceed the largest file allowed");
    case EEXIST:
        throw contents_error(409, "File already exists: " + where);
    case EISDIR:
        throw contents_error(400, where + " is a directory");
    case ENOTEMPTY:
        throw contents_error(400, "Directory " + where + " not empty");
    case ENAMETOOLONG:
        throw contents_error(400, where + ": name too long");
    case EINVAL:
        throw contents_error(400, "Cannot " + std::string(doing) + " " + where);
    default:
        throw contents_error(500, "Unexpected error while " + std::string(doing) + " " + where +
                                      ": " + std::strerror(error));
    }
}

work_tree::work_tree(const std::string& root, uid_t uid, std::size_t max_file_bytes, resolver how)
    : m_root(open(root.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)),
      m_max_file_bytes(max_file_bytes), m_resolver(how), m_identity(uid, uid)
{
    if (!m_root)
    {
        throw contents_error(500, std::string("the user's /work cannot be opened: ") +
                                      std::strerror(errno));
    }
}

unique_fd work_tree::open_directory(const content_path& path) const
{
    unique_fd fd =
        open_beneath(m_root.get(), path.relative(), O_RDONLY | O_DIRECTORY, 0, m_resolver);
    if (!fd)
    {
        const int error = errno;
        if (error == ENOENT || error == ENOTDIR)
        {
            throw contents_error(404, "No such directory: /" + path.api());
        }
        fail(error, path, "opening");
    }
    return fd;
}

std::optional<struct statx> work_tree::stat_entry(int dirfd, const std::string& name) const
{
    struct statx st
    {
    };
    const int flags = name.empty() ? AT_EMPTY_PATH : AT_SYMLINK_NOFOLLOW;
    if (statx(dirfd, name.c_str(), flags, STATX_BASIC_STATS | STATX_BTIME, &st) != 0)
    {
        if (errno == ENOENT)
        {
            return std::nullopt;
        }
        throw contents_error(500, std::string("cannot stat: ") + std::strerror(errno));
    }
    return st;
}

json work_tree::model_of(const content_path& path, const struct statx& st, int dirfd,
                         const read_options& options) const
{
    const kind k = kind_of(st);
    const std::string name = path.name();
    if (k == kind::other)
    {
        fail(S_ISLNK(st.stx_mode) ? ELOOP : EINVAL, path, "reading");
    }
    const bool notebook =
        k == kind::file && (options.type ? *options.type == "notebook" : is_notebook_name(name));
    const std::string type = k == kind::directory ? "directory" : notebook ? "notebook" : "file";
    if (options.type && *options.type != type)
    {
        if (k == kind::directory)
        {
            throw contents_error(400, "/" + path.api() + " is a directory, not a " + *options.type);
        }
        if (*options.type == "directory")
        {
            throw contents_error(400, "/" + path.api() + " is not a directory");
        }
        throw contents_error(400, "Unknown type: " + *options.type);
    }
    const timespec modified = time_of(st.stx_mtime);
    const timespec created =
        (st.stx_mask & STATX_BTIME) != 0 ? time_of(st.stx_btime) : time_of(st.stx_ctime);
    const bool writable = faccessat(dirfd, name.empty() ? "." : name.c_str(), W_OK,
                                    AT_EACCESS | AT_SYMLINK_NOFOLLOW) == 0;
    json model = {{"name", name},
                  {"path", path.api()},
                  {"type", type},
                  {"created", iso8601(created)},
                  {"last_modified", iso8601(modified)},
                  {"writable", writable},
                  {"content", nullptr},
                  {"format", nullptr},
                  {"mimetype", nullptr},
                  {"size", nullptr}};
    if (k == kind::file)
    {
        model["size"] = st.stx_size;
        if (!notebook)
        {
            model["mimetype"] = guess_mimetype(name) ? json(*guess_mimetype(name)) : json();
        }
    }
    if (!options.content)
    {
        return model;
    }
    if (k == kind::directory)
    {
        model["content"] = list(path);
        model["format"] = "json";
        return model;
    }
    std::string bytes = read_all(path);
    model["size"] = bytes.size();
    if (notebook)
    {
        json notebook_json = parse_json_bounded(bytes);
        if (notebook_json.is_discarded() || !notebook_json.is_object())
        {
            throw contents_error(400, "Unreadable Notebook: /" + path.api() +
                                          " is not a JSON object (or nests too deep)");
        }
        model["content"] = std::move(notebook_json);
        model["format"] = "json";
        return model;
    }
    const std::string format = options.format.value_or(valid_utf8(bytes) ? "text" : "base64");
    if (format == "text")
    {
        if (!valid_utf8(bytes))
        {
            throw contents_error(400, "/" + path.api() + " is not UTF-8 encoded");
        }
        model["content"] = std::move(bytes);
        model["mimetype"] = guess_mimetype(name).value_or("text/plain");
    }
    else if (format == "base64")
    {
        model["content"] = base64_encode(bytes);
        model["mimetype"] = guess_mimetype(name).value_or("application/octet-stream");
    }
    else
    {
        throw contents_error(400, "Format of a file must be text or base64, not " + format);
    }
    model["format"] = format;
    return model;
}

json work_tree::get(const content_path& path, const read_options& options) const
{
    const unique_fd parent = open_directory(path.parent());
    const auto st = stat_entry(path.is_root() ? m_root.get() : parent.get(), path.name());
    if (!st)
    {
        fail(ENOENT, path, "reading");
    }
    return model_of(path, *st, path.is_root() ? m_root.get() : parent.get(), options);
}

json work_tree::list(const content_path& path) const
{
    unique_fd fd = open_directory(path);
    const std::unique_ptr<DIR, dir_closer> dir(fdopendir(fd.get()));
    if (!dir)
    {
        fail(errno, path, "listing");
    }
    fd.release(); // the DIR owns it now
    const int at = dirfd(dir.get());
    std::vector<std::string> names;
    while (const dirent* entry = readdir(dir.get()))
    {
        if (entry->d_name[0] != '.') // ".", "..", and hidden names, as jupyter_server
        {
            names.emplace_back(entry->d_name);
        }
    }
    std::sort(names.begin(), names.end());
    json content = json::array();
    const read_options bare{std::nullopt, std::nullopt, false};
    for (const auto& name : names)
    {
        const auto st = stat_entry(at, name);
        if (st && kind_of(*st) != kind::other) // links are not listed: nobody should follow them
        {
            content.push_back(model_of(path.child(name), *st, at, bare));
        }
    }
    return content;
}

std::string work_tree::read_all(const content_path& path) const
{
    const unique_fd fd =
        open_beneath(m_root.get(), path.relative(), O_RDONLY | O_NONBLOCK, 0, m_resolver);
    if (!fd)
    {
        fail(errno, path, "reading");
    }
    struct stat st
    {
    };
    if (fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))
    {
        throw contents_error(400, "/" + path.api() + " is not a regular file");
    }
    if (static_cast<std::size_t>(st.st_size) > m_max_file_bytes)
    {
        throw contents_error(413, "/" + path.api() + " has " + std::to_string(st.st_size) +
                                      " bytes; the contents API moves files up to " +
                                      std::to_string(m_max_file_bytes) +
                                      " bytes (--max-message-bytes)");
    }
    std::string bytes;
    char buffer[65536];
    while (true)
    {
        const ssize_t got = read(fd.get(), buffer, sizeof buffer);
        if (got < 0 && errno == EINTR)
        {
            continue;
        }
        if (got < 0)
        {
            fail(errno, path, "reading");
        }
        if (got == 0)
        {
            return bytes;
        }
        if (bytes.size() + static_cast<std::size_t>(got) > m_max_file_bytes)
        {
            throw contents_error(413, "/" + path.api() + " grew past " +
                                          std::to_string(m_max_file_bytes) + " bytes while read");
        }
        bytes.append(buffer, static_cast<std::size_t>(got));
    }
}

} // namespace cellbox::gateway
