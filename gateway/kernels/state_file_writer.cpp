#include "kernels/state_file_writer.hpp"

#include "telemetry/log.hpp"

#include <cstdio>
#include <fcntl.h>
#include <unistd.h>
#include <utility>

namespace cellbox::gateway
{
namespace
{

// `text` into `path` (0600) through a temporary file, fsync and rename; false if it failed.
bool write_state_file(const std::string& path, const std::string& text)
{
    const std::string temporary = path + ".tmp";
    const int fd =
        open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    bool ok = fd >= 0 && write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
              fsync(fd) == 0;
    if (fd >= 0)
    {
        ok = close(fd) == 0 && ok;
    }
    return ok && std::rename(temporary.c_str(), path.c_str()) == 0;
}

} // namespace

state_file_writer::state_file_writer() : m_thread([this] { run(); }) {}

state_file_writer::~state_file_writer()
{
    {
        std::lock_guard lock(m_mutex);
        m_stopping = true;
    }
    m_wake.notify_one();
    m_thread.join();
}

void state_file_writer::write(const std::string& path, std::string text)
{
    {
        std::lock_guard lock(m_mutex);
        m_pending[path] = std::move(text);
        ++m_queued;
    }
    m_wake.notify_one();
}

void state_file_writer::when_written(std::function<void()> done)
{
    {
        std::lock_guard lock(m_mutex);
        if (m_done < m_queued)
        {
            m_waiters.emplace(m_queued, std::move(done));
            return;
        }
    }
    done();
}

void state_file_writer::flush()
{
    std::unique_lock lock(m_mutex);
    const std::uint64_t target = m_queued;
    m_written.wait(lock, [&] { return m_done >= target; });
}

void state_file_writer::run()
{
    std::unique_lock lock(m_mutex);
    for (;;)
    {
        m_wake.wait(lock, [this] { return m_stopping || !m_pending.empty(); });
        if (m_pending.empty())
        {
            return; // stopping, and everything queued is written
        }
        // Everything queued up to now is in what is taken: writing it completes them all.
        auto batch = std::exchange(m_pending, {});
        const std::uint64_t completes = m_queued;
        lock.unlock();
        for (const auto& [path, text] : batch)
        {
            if (!write_state_file(path, text))
            {
                log::warn("cannot save a state file", {{"path", path}});
            }
        }
        lock.lock();
        m_done = completes;
        std::vector<std::function<void()>> ready;
        for (auto it = m_waiters.begin(); it != m_waiters.end() && it->first <= m_done;)
        {
            ready.push_back(std::move(it->second));
            it = m_waiters.erase(it);
        }
        m_written.notify_all();
        lock.unlock();
        for (auto& done : ready)
        {
            done();
        }
        lock.lock();
    }
}

} // namespace cellbox::gateway
