// The writing half of work_tree: saves, new files, copies, renames, deletes.
#include "files/content_codec.hpp"
#include "files/work_tree.hpp"

#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

namespace cellbox::gateway
{

using json = nlohmann::json;

namespace
{

const read_options no_content{std::nullopt, std::nullopt, false};

// 0 or the errno of the write that failed.
int write_all(int fd, const std::string& bytes)
{
    std::size_t done = 0;
    while (done < bytes.size())
    {
        const ssize_t wrote = write(fd, bytes.data() + done, bytes.size() - done);
        if (wrote < 0 && errno == EINTR)
        {
            continue;
        }
        if (wrote < 0)
        {
            return errno;
        }
        done += static_cast<std::size_t>(wrote);
    }
    return 0;
}

// A hidden name of fixed length for a file being written (hidden: listings leave it out).
std::string temporary_name()
{
    unsigned char random[8] = {};
    if (getrandom(random, sizeof random, 0) != static_cast<ssize_t>(sizeof random))
    {
        throw contents_error(500, "no randomness for a temporary file name");
    }
    std::string name = ".~cellbox-upload-";
    static const char* digits = "0123456789abcdef";
    for (const unsigned char byte : random)
    {
        name += digits[byte >> 4];
        name += digits[byte & 15];
    }
    return name;
}

std::string notebook_text(const json& notebook)
{
    // jupyter_server writes notebooks with an indent of 1 and a final newline.
    return notebook.dump(1, ' ', false, json::error_handler_t::replace) + "\n";
}

bool is_link(const struct statx& st)
{
    return S_ISLNK(st.stx_mode);
}

} // namespace

std::string work_tree::encode_for_save(const content_path& path, const json& model) const
{
    const std::string type = model.at("type").get<std::string>();
    const auto content = model.find("content");
    if (content == model.end() || content->is_null())
    {
        throw contents_error(400, "No file content provided");
    }
    if (type == "notebook")
    {
        if (!content->is_object())
        {
            throw contents_error(400, "The content of a notebook must be a JSON object");
        }
        return notebook_text(*content);
    }
    const auto format = model.find("format");
    if (format == model.end() || !format->is_string())
    {
        throw contents_error(400, "No file format provided");
    }
    if (!content->is_string())
    {
        throw contents_error(400, "The content of a file must be a string");
    }
    if (*format == "text")
    {
        return content->get<std::string>();
    }
    if (*format == "base64")
    {
        auto bytes = base64_decode(content->get<std::string>());
        if (!bytes)
        {
            throw contents_error(400, "Encoding error saving /" + path.api() +
                                          ": the content is not base64");
        }
        return std::move(*bytes);
    }
    throw contents_error(400, "Format must be text or base64, not " + format->get<std::string>());
}

void work_tree::replace_file(int dirfd, const content_path& path, const std::string& bytes,
                             mode_t mode) const
{
    const std::string temporary = temporary_name();
    unique_fd fd(openat(dirfd, temporary.c_str(),
                        O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd)
    {
        fail(errno, path, "writing");
    }
    int error = write_all(fd.get(), bytes);
    if (error == 0 && fchmod(fd.get(), mode) != 0)
    {
        error = errno;
    }
    fd.reset();
    if (error == 0 && renameat(dirfd, temporary.c_str(), dirfd, path.name().c_str()) != 0)
    {
        error = errno;
    }
    if (error != 0)
    {
        unlinkat(dirfd, temporary.c_str(), 0);
        fail(error, path, "writing");
    }
}

void work_tree::append_file(const content_path& path, const std::string& bytes) const
{
    const unique_fd fd = open_beneath(m_root.get(), path.relative(),
                                      O_WRONLY | O_APPEND | O_NONBLOCK, 0, m_resolver);
    if (!fd)
    {
        fail(errno, path, "writing");
    }
    if (const int error = write_all(fd.get(), bytes); error != 0)
    {
        fail(error, path, "writing");
    }
}

bool work_tree::create_exclusive(int dirfd, const content_path& path, const std::string& bytes,
                                 mode_t mode) const
{
    unique_fd fd(openat(dirfd, path.name().c_str(),
                        O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
    if (!fd)
    {
        if (errno == EEXIST)
        {
            return false;
        }
        fail(errno, path, "creating");
    }
    int error = write_all(fd.get(), bytes);
    if (error == 0 && fchmod(fd.get(), mode) != 0) // whatever the gateway's umask
    {
        error = errno;
    }
    if (error != 0)
    {
        unlinkat(dirfd, path.name().c_str(), 0);
        fail(error, path, "creating");
    }
    return true;
}

saved_model work_tree::save(const content_path& path, const json& model)
{
    if (path.is_root())
    {
        throw contents_error(400, "Cannot save over the root directory");
    }
    const auto type = model.find("type");
    if (type == model.end() || !type->is_string())
    {
        throw contents_error(400, "No file type provided");
    }
    if (*type != "file" && *type != "notebook" && *type != "directory")
    {
        throw contents_error(400, "Unhandled contents type: " + type->get<std::string>());
    }
    const unique_fd parent = open_directory(path.parent());
    const auto existing = stat_entry(parent.get(), path.name());
    if (existing && is_link(*existing))
    {
        fail(ELOOP, path, "writing");
    }
    if (*type == "directory")
    {
        if (existing && !S_ISDIR(existing->stx_mode))
        {
            throw contents_error(400, "/" + path.api() + " exists and is not a directory");
        }
        if (!existing && mkdirat(parent.get(), path.name().c_str(), 0755) != 0)
        {
            fail(errno, path, "creating");
        }
        return {get(path, no_content), !existing};
    }
    if (existing && S_ISDIR(existing->stx_mode))
    {
        fail(EISDIR, path, "writing");
    }
    if (existing && !S_ISREG(existing->stx_mode))
    {
        fail(EINVAL, path, "write");
    }
    const std::string bytes = encode_for_save(path, model);
    const auto chunk = model.find("chunk");
    if (chunk != model.end() && !chunk->is_number_integer())
    {
        throw contents_error(400, "chunk must be an integer");
    }
    // JupyterLab uploads large files in chunks 1, 2, ... and -1 for the last one.
    if (chunk != model.end() && chunk->get<long long>() != 1)
    {
        if (!existing)
        {
            throw contents_error(404, "No earlier chunk of /" + path.api());
        }
        append_file(path, bytes);
        return {get(path, no_content), false};
    }
    replace_file(parent.get(), path, bytes,
                 existing ? static_cast<mode_t>(existing->stx_mode & 0777) : 0644);
    return {get(path, no_content), !existing};
}

json work_tree::create_empty(const content_path& path)
{
    if (path.is_root())
    {
        throw contents_error(400, "Cannot create the root directory");
    }
    const unique_fd parent = open_directory(path.parent());
    const bool notebook =
        path.name().size() > 6 && path.name().compare(path.name().size() - 6, 6, ".ipynb") == 0;
    if (!create_exclusive(parent.get(), path, notebook ? notebook_text(empty_notebook()) : "",
                          0644))
    {
        fail(EEXIST, path, "creating");
    }
    return get(path, no_content);
}

json work_tree::new_untitled(const content_path& directory, const std::string& type,
                             const std::string& ext)
{
    const unique_fd parent = open_directory(directory);
    const std::string kind = !type.empty() ? type : ext == ".ipynb" ? "notebook" : "file";
    std::string base, insert, suffix = ext;
    if (kind == "notebook")
    {
        base = "Untitled";
        suffix = ".ipynb";
    }
    else if (kind == "file")
    {
        base = "untitled";
    }
    else if (kind == "directory")
    {
        base = "Untitled Folder";
        insert = " ";
        suffix = "";
    }
    else
    {
        throw contents_error(400, "Unknown type: " + kind);
    }
    for (int i = 0; i < 10000; ++i)
    {
        const content_path path =
            directory.child(base + (i > 0 ? insert + std::to_string(i) : "") + suffix);
        if (kind == "directory")
        {
            if (mkdirat(parent.get(), path.name().c_str(), 0755) == 0)
            {
                return get(path, no_content);
            }
            if (errno != EEXIST)
            {
                fail(errno, path, "creating");
            }
        }
        else if (create_exclusive(parent.get(), path,
                                  kind == "notebook" ? notebook_text(empty_notebook()) : "", 0644))
        {
            return get(path, no_content);
        }
    }
    throw contents_error(409, "No free untitled name in /" + directory.api());
}

json work_tree::copy(const content_path& from, const content_path& directory)
{
    if (from.is_root())
    {
        throw contents_error(400, "Cannot copy the root directory");
    }
    const unique_fd source_dir = open_directory(from.parent());
    const auto st = stat_entry(source_dir.get(), from.name());
    if (!st)
    {
        fail(ENOENT, from, "copying");
    }
    if (S_ISDIR(st->stx_mode))
    {
        throw contents_error(400, "Cannot copy a directory: /" + from.api());
    }
    if (!S_ISREG(st->stx_mode))
    {
        fail(is_link(*st) ? ELOOP : EINVAL, from, "copy");
    }
    const unique_fd target = open_directory(directory);
    const std::string bytes = read_all(from);
    // As jupyter_server's increment_filename: "a.tar.gz" -> "a-Copy1.tar.gz".
    const std::string name = from.name();
    const bool notebook = name.size() > 6 && name.compare(name.size() - 6, 6, ".ipynb") == 0;
    const std::size_t dot = notebook ? name.size() - 6 : name.find('.', 1);
    const std::string base = name.substr(0, dot);
    const std::string suffix = dot == std::string::npos ? "" : name.substr(dot);
    for (int i = 0; i < 10000; ++i)
    {
        const content_path to =
            directory.child(base + (i > 0 ? "-Copy" + std::to_string(i) : "") + suffix);
        if (create_exclusive(target.get(), to, bytes, static_cast<mode_t>(st->stx_mode & 0777)))
        {
            return get(to, no_content);
        }
    }
    throw contents_error(409, "No free name for a copy of /" + from.api());
}

json work_tree::rename(const content_path& from, const content_path& to)
{
    if (from.is_root() || to.is_root())
    {
        throw contents_error(400, "Cannot rename the root directory");
    }
    const unique_fd from_dir = open_directory(from.parent());
    const auto st = stat_entry(from_dir.get(), from.name());
    if (!st)
    {
        fail(ENOENT, from, "renaming");
    }
    if (is_link(*st))
    {
        fail(ELOOP, from, "renaming");
    }
    const unique_fd to_dir = open_directory(to.parent());
    if (renameat2(from_dir.get(), from.name().c_str(), to_dir.get(), to.name().c_str(),
                  RENAME_NOREPLACE) != 0)
    {
        const int error = errno;
        fail(error, error == EEXIST ? to : from, "renaming");
    }
    return get(to, no_content);
}

void work_tree::remove(const content_path& path)
{
    if (path.is_root())
    {
        throw contents_error(400, "Cannot delete the root directory");
    }
    const unique_fd parent = open_directory(path.parent());
    const auto st = stat_entry(parent.get(), path.name());
    if (!st)
    {
        throw contents_error(404, "File or directory does not exist: /" + path.api());
    }
    const int flags = S_ISDIR(st->stx_mode) ? AT_REMOVEDIR : 0;
    if (unlinkat(parent.get(), path.name().c_str(), flags) != 0)
    {
        const int error = errno;
        fail(error == EEXIST ? ENOTEMPTY : error, path, "deleting");
    }
}

} // namespace cellbox::gateway
