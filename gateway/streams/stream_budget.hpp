#pragma once

#include "protocol/kernel_message.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

namespace cellbox::gateway
{

// The gateway-wide bound on the bytes of kernel messages held for clients: in the replay
// buffers of disconnected sessions and in WebSocket outboxes, together. Without it, a tenant
// multiplies one cell's output by the number of sessions or sockets it opens.
//
// A message enters once (track) and is shared by every buffer and outbox that holds it; its
// bytes count once, from then until the last holder lets it go, however many hold it.
//
// Over the limit, holders are asked to let go, one at a time: first the replay buffers of
// disconnected sessions, the longest disconnected first (the least likely to come back), then
// the WebSocket connections whose oldest unsent message has waited longest (the clients that
// do not read). The budget asks through the holder's evict function, on whichever thread
// pushed it over; that function must only hand the work to the holder's own thread. The next
// holder is asked once the one asked has withdrawn (its enrollment reset or destroyed), if
// the budget is still over: freeing a shared message may take several holders.
class stream_budget : public std::enable_shared_from_this<stream_budget>
{
public:
    using clock = std::chrono::steady_clock;

    // limit_bytes 0: count, never evict.
    static std::shared_ptr<stream_budget> create(std::size_t limit_bytes);

    // `message`, shared, its bytes counted until its last holder lets it go.
    shared_message track(kernel_message message);

    std::size_t bytes() const { return m_ledger->bytes.load(std::memory_order_relaxed); }
    std::size_t limit() const { return m_limit; }

    // What one holder keeps, kept up to date by the holder (from any thread) and read by the
    // budget when it looks for whom to ask: a holder of nothing is never asked.
    class waiting
    {
    public:
        // `oldest`: when the oldest message still waiting was taken (none: nothing waits); a
        // replay buffer need not say.
        void set(std::size_t bytes, std::optional<clock::time_point> oldest);
        std::size_t bytes() const { return m_bytes.load(std::memory_order_relaxed); }
        std::optional<clock::time_point> oldest() const;

    private:
        std::atomic<std::size_t> m_bytes{0};
        std::atomic<clock::rep> m_oldest{0}; // 0: nothing waits
    };

    struct holder;
    // A holder's place in the budget; withdraws it when reset or destroyed. Once withdrawn,
    // its evict function is neither running nor called again.
    class enrollment
    {
    public:
        enrollment() = default;
        enrollment(enrollment&& other) noexcept = default;
        enrollment& operator=(enrollment&& other) noexcept;
        enrollment(const enrollment&) = delete;
        enrollment& operator=(const enrollment&) = delete;
        ~enrollment() { reset(); }

        void reset();
        explicit operator bool() const { return m_holder != nullptr; }

    private:
        friend class stream_budget;
        enrollment(std::shared_ptr<stream_budget> budget, std::shared_ptr<holder> holder)
            : m_budget(std::move(budget)), m_holder(std::move(holder))
        {
        }
        std::shared_ptr<stream_budget> m_budget;
        std::shared_ptr<holder> m_holder;
    };

    // A disconnected session's replay buffer, disconnected since `disconnected`.
    enrollment enroll_replay(clock::time_point disconnected, std::shared_ptr<const waiting> backlog,
                             std::function<void()> evict);
    // A WebSocket connection; `backlog` says how much waits for its client, and since when.
    enrollment enroll_connection(std::shared_ptr<const waiting> backlog,
                                 std::function<void()> evict);

    // How many holders are enrolled (for tests and logs).
    std::size_t holders() const;

private:
    // Shared with every tracked message, which may outlive the budget's other users.
    struct ledger
    {
        std::atomic<std::size_t> bytes{0};
    };
    struct counted_message;

    explicit stream_budget(std::size_t limit_bytes);
    enrollment enroll(std::shared_ptr<holder> holder);
    void withdraw(const std::shared_ptr<holder>& holder);
    // Asks the next holder to let go if over the limit and nobody is asked already.
    void enforce();
    std::shared_ptr<holder> choose_victim() const; // under m_mutex

    const std::size_t m_limit;
    std::shared_ptr<ledger> m_ledger;
    mutable std::mutex m_mutex;
    std::vector<std::shared_ptr<holder>> m_holders;
    std::shared_ptr<holder> m_asked; // asked to let go, not yet withdrawn
};

// `message` shared through `budget`, or merely shared when there is none (tests, tools).
shared_message share_message(stream_budget* budget, kernel_message message);

} // namespace cellbox::gateway
