#include "streams/io_thread.hpp"

#include "telemetry/log.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace cellbox::gateway
{

namespace
{

unique_fd checked(int fd, const char* what)
{
    if (fd < 0)
    {
        throw std::runtime_error(std::string(what) + ": " + std::strerror(errno));
    }
    return unique_fd(fd);
}

void add_to_epoll(int epoll, int fd, std::uint64_t data)
{
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = data;
    if (epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event) != 0)
    {
        throw std::runtime_error(std::string("epoll_ctl: ") + std::strerror(errno));
    }
}

bool readable(zmq::socket_ref socket)
{
    return (socket.get(zmq::sockopt::events) & ZMQ_POLLIN) != 0;
}

} // namespace

io_thread::io_thread(bool own_thread)
    : m_epoll(checked(epoll_create1(EPOLL_CLOEXEC), "epoll_create1")),
      m_wake(checked(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), "eventfd")),
      m_owner(std::this_thread::get_id())
{
    add_to_epoll(m_epoll.get(), m_wake.get(), 0);
    if (own_thread)
    {
        m_thread = std::thread(
            [this]
            {
                claim_current_thread();
                run();
            });
        // Before anyone posts: on_this_thread() must not mistake the maker for the thread.
        while (m_owner.load() != m_thread.get_id())
        {
            std::this_thread::yield();
        }
    }
}

io_thread::~io_thread()
{
    if (m_thread.joinable())
    {
        post_always([this] { m_stopping = true; });
        m_thread.join();
    }
}

void io_thread::enqueue(job j)
{
    bool was_empty = false;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        was_empty = m_jobs.empty();
        m_jobs.push_back(std::move(j));
    }
    if (was_empty) // otherwise the wakeup is on its way already
    {
        const std::uint64_t one = 1;
        [[maybe_unused]] const ssize_t n = write(m_wake.get(), &one, sizeof one);
    }
}

void io_thread::post(client_id client, std::function<void()> work)
{
    enqueue({client, std::move(work)});
}

void io_thread::post_always(std::function<void()> work)
{
    enqueue({0, std::move(work)});
}

void io_thread::start(client_id id, client_hooks hooks, std::function<void()> first)
{
    post_always(
        [this, id, hooks = std::move(hooks), first = std::move(first)]() mutable
        {
            m_clients[id].hooks = std::move(hooks);
            guarded(id, first);
        });
}

void io_thread::leave(client_id id)
{
    const auto it = m_clients.find(id);
    if (it == m_clients.end())
    {
        return;
    }
    for (const token t : std::set<token>(it->second.sockets))
    {
        unwatch(t);
    }
    schedule(id, std::nullopt);
    m_clients.erase(id);
}

io_thread::token io_thread::watch(client_id id, zmq::socket_t& socket, int rank,
                                  std::function<void()> on_input)
{
    client& owner = m_clients.at(id); // only a client's own work watches its sockets
    const token t = m_next_token++;
    const int fd = socket.get(zmq::sockopt::fd);
    add_to_epoll(m_epoll.get(), fd, t);
    m_sockets.emplace(t, std::make_shared<watched_socket>(
                             watched_socket{t, id, socket, fd, rank, std::move(on_input)}));
    owner.sockets.insert(t);
    mark_hot(t); // a message may be waiting already, with its signal consumed
    return t;
}

void io_thread::unwatch(token t)
{
    const auto it = m_sockets.find(t);
    if (it == m_sockets.end())
    {
        return;
    }
    // Before the socket closes: ZeroMQ closes its descriptor later, on its reaper thread.
    epoll_ctl(m_epoll.get(), EPOLL_CTL_DEL, it->second->fd, nullptr);
    const auto owner = m_clients.find(it->second->client);
    if (owner != m_clients.end())
    {
        owner->second.sockets.erase(t);
    }
    m_sockets.erase(it);
}

void io_thread::recheck(token t)
{
    mark_hot(t);
}

void io_thread::mark_hot(token t)
{
    const auto it = m_sockets.find(t);
    if (it != m_sockets.end() && !it->second->hot)
    {
        it->second->hot = true;
        m_hot.push_back(t);
    }
}

void io_thread::schedule(client_id id, std::optional<clock::time_point> when)
{
    const auto it = m_clients.find(id);
    if (it == m_clients.end() || it->second.deadline == when)
    {
        return;
    }
    if (it->second.deadline)
    {
        m_timers.erase({*it->second.deadline, id});
    }
    it->second.deadline = when;
    if (when)
    {
        m_timers.emplace(*when, id);
    }
}

void io_thread::guarded(client_id id, const std::function<void()>& work)
{
    try
    {
        work();
    }
    catch (const std::exception& e)
    {
        // Never std::terminate the gateway, nor stop the other kernels, for one kernel.
        log::error("kernel connection failed", {{"error", e.what()}});
        const auto it = m_clients.find(id);
        if (it != m_clients.end())
        {
            const auto on_failure = it->second.hooks.on_failure;
            leave(id);
            if (on_failure)
            {
                on_failure(e.what());
            }
        }
    }
}

void io_thread::run_jobs()
{
    std::uint64_t count = 0;
    [[maybe_unused]] const ssize_t n = read(m_wake.get(), &count, sizeof count);
    std::deque<job> jobs;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        jobs.swap(m_jobs);
    }
    for (auto& j : jobs)
    {
        if (j.client == 0)
        {
            j.work(); // joining, leaving and stopping: they do not throw
        }
        else if (m_clients.count(j.client) != 0)
        {
            guarded(j.client, j.work);
        }
    }
}

void io_thread::run_timers()
{
    const auto now = clock::now();
    while (!m_timers.empty() && m_timers.begin()->first <= now)
    {
        const client_id id = m_timers.begin()->second;
        m_timers.erase(m_timers.begin());
        auto& c = m_clients.at(id);
        c.deadline.reset();
        guarded(id, c.hooks.on_timer);
    }
}

void io_thread::serve_ready()
{
    std::vector<std::shared_ptr<watched_socket>> ready;
    ready.reserve(m_hot.size());
    for (const token t : m_hot)
    {
        const auto it = m_sockets.find(t);
        if (it != m_sockets.end())
        {
            it->second->hot = false;
            ready.push_back(it->second);
        }
    }
    m_hot.clear();
    // Per client in rank order, as one kernel's thread read them: its replies before its
    // iopub, since the kernel sent a reply before the status that follows it.
    std::stable_sort(ready.begin(), ready.end(),
                     [](const auto& a, const auto& b) { return a->rank < b->rank; });
    for (const auto& s : ready)
    {
        if (m_sockets.count(s->id) == 0) // unwatched by an earlier one (its client left)
        {
            continue;
        }
        guarded(s->client,
                [&]
                {
                    // Reading ZMQ_EVENTS also resets the descriptor's signal.
                    if (!readable(s->socket))
                    {
                        return;
                    }
                    s->on_input(); // takes one message; may unwatch the socket
                    // More waiting: the descriptor will not signal them again.
                    if (m_sockets.count(s->id) != 0 && readable(s->socket))
                    {
                        mark_hot(s->id);
                    }
                });
    }
}

int io_thread::timeout_ms() const
{
    if (!m_hot.empty())
    {
        return 0;
    }
    if (m_timers.empty())
    {
        return -1;
    }
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
                          m_timers.begin()->first - clock::now())
                          .count();
    return static_cast<int>(std::clamp<long long>(wait + 1, 0, 60000));
}

bool io_thread::pass(bool wait)
{
    constexpr int max_events = 256;
    std::array<epoll_event, max_events> events{};
    run_timers();
    const int n = epoll_wait(m_epoll.get(), events.data(), max_events, wait ? timeout_ms() : 0);
    bool jobs = false;
    for (int i = 0; i < n; ++i)
    {
        if (events[i].data.u64 == 0)
        {
            jobs = true;
        }
        else
        {
            mark_hot(events[i].data.u64);
        }
    }
    if (jobs)
    {
        run_jobs(); // first, as a kernel's thread applied its commands first
    }
    serve_ready();
    // A full batch may have left events behind, and their descriptors will not signal again.
    return !m_hot.empty() || n == max_events;
}

void io_thread::run()
{
    bool more = false;
    while (!m_stopping)
    {
        more = pass(!more);
    }
}

bool io_thread::poll()
{
    return pass(false);
}

std::optional<io_thread::clock::time_point> io_thread::next_timer() const
{
    if (m_timers.empty())
    {
        return std::nullopt;
    }
    return m_timers.begin()->first;
}

io_threads& io_threads::instance(std::size_t count, bool own_threads)
{
    // Lives until exit: a kernel_io may be destroyed on any thread, even on one of these.
    static io_threads threads(count, own_threads);
    return threads;
}

io_threads& io_threads::shared(std::size_t count)
{
    return instance(count, true);
}

io_threads& io_threads::driven()
{
    return instance(1, false);
}

io_threads::io_threads(std::size_t count, bool own_threads)
{
    if (!own_threads)
    {
        m_threads.push_back(std::make_unique<io_thread>(false));
        log::info("kernels' ZeroMQ traffic served on the event loop's thread");
        return;
    }
    if (count == 0)
    {
        count = std::max(1u, std::thread::hardware_concurrency());
    }
    for (std::size_t i = 0; i < count; ++i)
    {
        m_threads.push_back(std::make_unique<io_thread>());
    }
    log::info("ZeroMQ I/O threads started", {{"threads", count}});
}

io_thread& io_threads::acquire()
{
    std::lock_guard<std::mutex> lock(m_mutex);
    io_thread& least = **std::min_element(m_threads.begin(), m_threads.end(),
                                          [](const auto& a, const auto& b)
                                          { return a->load.load() < b->load.load(); });
    ++least.load;
    return least;
}

void io_threads::release(io_thread& thread)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    --thread.load;
}

} // namespace cellbox::gateway
