#pragma once
// The gateway's state files (kernels.json, sessions.json), written on a thread of their own.
// The event loop must never wait on a disk: each write is a temporary file, an fsync and a
// rename, and an fsync waits for the filesystem's journal, which 20 sessions starting at once
// keep busy (measured: 20 concurrent kernel starts 20-35% slower with the writes inline).
// Group commit: contents queued for a file while it is being written replace each other, and
// only the newest is written, once.
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace cellbox::gateway
{

class state_file_writer
{
public:
    state_file_writer();
    ~state_file_writer(); // writes what is queued, then stops
    state_file_writer(const state_file_writer&) = delete;
    state_file_writer& operator=(const state_file_writer&) = delete;

    // Queues `text` as the next contents of `path` (0600, replaced atomically). A failure is
    // logged with the path; the file keeps its previous contents.
    void write(const std::string& path, std::string text);
    // Calls `done` once everything queued so far is written (or failed): at once, on this
    // thread, when nothing is outstanding, otherwise on the writer's thread.
    void when_written(std::function<void()> done);
    // Returns once everything queued so far is written (or failed).
    void flush();

private:
    void run();

    std::mutex m_mutex;
    std::condition_variable m_wake;               // the writer: work or stop
    std::condition_variable m_written;            // flush(): progress
    std::map<std::string, std::string> m_pending; // newest contents per path, not yet taken
    std::multimap<std::uint64_t, std::function<void()>> m_waiters; // by the write they wait for
    std::uint64_t m_queued = 0;                                    // writes asked for
    std::uint64_t m_done = 0;                                      // of them, written or failed
    bool m_stopping = false;
    std::thread m_thread; // last: starts once the rest exists
};

} // namespace cellbox::gateway
