#pragma once
// One user's /work as jupyter_server's FileContentsManager shows it: models of files,
// notebooks and directories, and the operations of the contents API on them. Every path is
// resolved beneath a descriptor of the user's directory without following links (beneath.hpp),
// and every file operation runs with the user's filesystem identity (acting_as), so what the
// API writes is the user's in the kernel and counts against the user's quota exactly as the
// kernel's own writes do.
//
// Symbolic links are never followed: they are left out of listings, and reading, writing,
// copying or renaming one is refused (deleting one removes the link itself). Names starting
// with a dot are left out of listings, as jupyter_server does by default.
#include "cellbox/unique_fd.hpp"
#include "files/beneath.hpp"
#include "files/content_path.hpp"

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <sys/stat.h>
#include <sys/types.h>

namespace cellbox::gateway
{

// A refused or failed operation: the HTTP status and a message naming the path and the problem.
class contents_error : public std::runtime_error
{
public:
    contents_error(int status, const std::string& message)
        : std::runtime_error(message), m_status(status)
    {
    }
    int status() const { return m_status; }

private:
    int m_status;
};

struct read_options
{
    std::optional<std::string> type;   // "file", "notebook", "directory"
    std::optional<std::string> format; // "text", "base64" (files), "json"
    bool content = true;
};

struct saved_model
{
    nlohmann::json model; // without content
    bool created = false; // 201 rather than 200
};

class work_tree
{
public:
    // `root`: the host path of the user's /work; `uid`: the user's sandbox uid (also the gid).
    // `max_file_bytes`: the largest file read, written or copied in one request. Throws
    // contents_error (500) when the directory cannot be opened.
    work_tree(const std::string& root, uid_t uid, std::size_t max_file_bytes,
              resolver how = resolver::automatic);

    nlohmann::json get(const content_path& path, const read_options& options) const;
    // PUT with a model: a file (text or base64, whole or a chunk), a notebook or a directory.
    saved_model save(const content_path& path, const nlohmann::json& model);
    // PUT without a body: an empty file, or an empty notebook for a .ipynb name (409 if the
    // name is taken).
    nlohmann::json create_empty(const content_path& path);
    // POST to a directory: "Untitled.ipynb", "untitled.txt", "Untitled Folder", numbered
    // past those that exist.
    nlohmann::json new_untitled(const content_path& directory, const std::string& type,
                                const std::string& ext);
    // POST {"copy_from"}: "name.ext" in `directory`, or "name-Copy1.ext"... when taken.
    nlohmann::json copy(const content_path& from, const content_path& directory);
    // PATCH {"path"}: 409 when `to` exists.
    nlohmann::json rename(const content_path& from, const content_path& to);
    // DELETE: files, links (the link itself), empty directories.
    void remove(const content_path& path);

    // What a failed system call on `path` means for the client. Never returns.
    [[noreturn]] static void fail(int error, const content_path& path, const char* doing);

private:
    unique_fd open_directory(const content_path& path) const;
    // The entry itself (links not followed); nothing when it does not exist.
    std::optional<struct statx> stat_entry(int dirfd, const std::string& name) const;
    nlohmann::json model_of(const content_path& path, const struct statx& st, int dirfd,
                            const read_options& options) const;
    nlohmann::json list(const content_path& path) const;
    std::string read_all(const content_path& path) const;
    // Writes `bytes` to a new hidden file in `dirfd` and renames it over `name`: a failed or
    // short write (ENOSPC at the quota) leaves the old file as it was.
    void replace_file(int dirfd, const content_path& path, const std::string& bytes,
                      mode_t mode) const;
    void append_file(const content_path& path, const std::string& bytes) const;
    // Creates `name` in `dirfd` exclusively with `bytes`; false when the name is taken.
    bool create_exclusive(int dirfd, const content_path& path, const std::string& bytes,
                          mode_t mode) const;
    std::string encode_for_save(const content_path& path, const nlohmann::json& model) const;

    unique_fd m_root;
    std::size_t m_max_file_bytes;
    resolver m_resolver;
    acting_as m_identity; // last: every file operation after the root is open runs as the user
};

// An empty nbformat 4 notebook, as jupyter_server creates one.
nlohmann::json empty_notebook();

} // namespace cellbox::gateway
