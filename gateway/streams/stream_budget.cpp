#include "streams/stream_budget.hpp"

#include "protocol/message_fields.hpp"

#include <algorithm>

namespace cellbox::gateway
{

struct stream_budget::holder
{
    enum class kind
    {
        replay,
        connection
    } what;
    clock::time_point disconnected;         // replay
    std::shared_ptr<const waiting> backlog; // what it holds
    // Held while evict runs and while the holder withdraws: after withdraw() returns, evict
    // is neither running nor called again (it may point into an object about to go).
    std::mutex call_mutex;
    std::function<void()> evict;
};

// A tracked message: its bytes leave the ledger with its last shared_ptr.
struct stream_budget::counted_message : kernel_message
{
    counted_message(kernel_message message, std::shared_ptr<ledger> to)
        : kernel_message(std::move(message)), bytes(message_bytes(*this)), account(std::move(to))
    {
        account->bytes.fetch_add(bytes, std::memory_order_relaxed);
    }
    ~counted_message() { account->bytes.fetch_sub(bytes, std::memory_order_relaxed); }
    counted_message(const counted_message&) = delete;
    counted_message& operator=(const counted_message&) = delete;

    std::size_t bytes;
    std::shared_ptr<ledger> account;
};

void stream_budget::waiting::set(std::size_t bytes, std::optional<clock::time_point> oldest)
{
    m_bytes.store(bytes, std::memory_order_relaxed);
    // A steady clock never reads 0 in practice; 0 stands for "nothing waits".
    m_oldest.store(oldest ? std::max<clock::rep>(oldest->time_since_epoch().count(), 1) : 0,
                   std::memory_order_relaxed);
}

std::optional<stream_budget::clock::time_point> stream_budget::waiting::oldest() const
{
    const clock::rep oldest = m_oldest.load(std::memory_order_relaxed);
    if (oldest == 0)
    {
        return std::nullopt;
    }
    return clock::time_point(clock::duration(oldest));
}

stream_budget::enrollment& stream_budget::enrollment::operator=(enrollment&& other) noexcept
{
    if (this != &other)
    {
        reset();
        m_budget = std::move(other.m_budget);
        m_holder = std::move(other.m_holder);
    }
    return *this;
}

void stream_budget::enrollment::reset()
{
    if (m_holder)
    {
        m_budget->withdraw(m_holder);
    }
    m_holder.reset();
    m_budget.reset();
}

std::shared_ptr<stream_budget> stream_budget::create(std::size_t limit_bytes)
{
    return std::shared_ptr<stream_budget>(new stream_budget(limit_bytes));
}

stream_budget::stream_budget(std::size_t limit_bytes)
    : m_limit(limit_bytes), m_ledger(std::make_shared<ledger>())
{
}

shared_message stream_budget::track(kernel_message message)
{
    shared_message shared = std::make_shared<const counted_message>(std::move(message), m_ledger);
    enforce();
    return shared;
}

stream_budget::enrollment stream_budget::enroll_replay(clock::time_point disconnected,
                                                       std::shared_ptr<const waiting> backlog,
                                                       std::function<void()> evict)
{
    auto h = std::make_shared<holder>();
    h->what = holder::kind::replay;
    h->disconnected = disconnected;
    h->backlog = std::move(backlog);
    h->evict = std::move(evict);
    return enroll(std::move(h));
}

stream_budget::enrollment stream_budget::enroll_connection(std::shared_ptr<const waiting> backlog,
                                                           std::function<void()> evict)
{
    auto h = std::make_shared<holder>();
    h->what = holder::kind::connection;
    h->backlog = std::move(backlog);
    h->evict = std::move(evict);
    return enroll(std::move(h));
}

stream_budget::enrollment stream_budget::enroll(std::shared_ptr<holder> h)
{
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_holders.push_back(h);
    }
    // A new candidate while over the limit with nobody left to ask: ask it now.
    enforce();
    return enrollment(shared_from_this(), std::move(h));
}

std::size_t stream_budget::holders() const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_holders.size();
}

void stream_budget::withdraw(const std::shared_ptr<holder>& h)
{
    {
        std::lock_guard<std::mutex> call(h->call_mutex);
        h->evict = nullptr;
    }
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_holders.erase(std::remove(m_holders.begin(), m_holders.end(), h), m_holders.end());
        if (m_asked == h)
        {
            m_asked.reset();
        }
    }
    // What it held is gone (or still shared by others): ask the next one if still over.
    enforce();
}

std::shared_ptr<stream_budget::holder> stream_budget::choose_victim() const
{
    std::shared_ptr<holder> replay, connection;
    std::optional<clock::time_point> connection_oldest;
    for (const auto& h : m_holders)
    {
        if (h->backlog->bytes() == 0)
        {
            continue; // holds nothing: letting go frees nothing
        }
        if (h->what == holder::kind::replay)
        {
            if (!replay || h->disconnected < replay->disconnected)
            {
                replay = h;
            }
            continue;
        }
        const auto oldest = h->backlog->oldest();
        if (!oldest)
        {
            continue;
        }
        if (!connection || *oldest < *connection_oldest ||
            (*oldest == *connection_oldest && h->backlog->bytes() > connection->backlog->bytes()))
        {
            connection = h;
            connection_oldest = oldest;
        }
    }
    return replay ? replay : connection;
}

void stream_budget::enforce()
{
    if (m_limit == 0 || bytes() <= m_limit)
    {
        return;
    }
    std::shared_ptr<holder> victim;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        if (m_asked)
        {
            return; // one at a time: its letting go may be enough
        }
        victim = choose_victim();
        if (!victim)
        {
            return;
        }
        m_asked = victim;
    }
    std::lock_guard<std::mutex> call(victim->call_mutex);
    if (victim->evict) // else it withdrew meanwhile, and cleared m_asked
    {
        victim->evict();
    }
}

shared_message share_message(stream_budget* budget, kernel_message message)
{
    if (budget != nullptr)
    {
        return budget->track(std::move(message));
    }
    return std::make_shared<const kernel_message>(std::move(message));
}

} // namespace cellbox::gateway
