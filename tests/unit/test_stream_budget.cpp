// The gateway-wide stream memory budget: shared messages counted once, and who is asked to
// let go when the gateway holds too much (longest-disconnected sessions first, then the
// clients that left messages unread longest), one at a time.
#include "protocol/message_fields.hpp"
#include "streams/stream_budget.hpp"

#include <atomic>
#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <thread>
#include <vector>

using namespace cellbox::gateway;
using clock_type = stream_budget::clock;

namespace
{

kernel_message output_of(std::size_t bytes)
{
    return {"iopub", "{}", "{}", "{}", std::string(bytes - 6, 'x'), {}};
}

// Holders as the gateway has them: each keeps messages, is asked through evict (which only
// notes the request, as the real ones only post it), and lets go when the test says so.
struct holders
{
    explicit holders(std::size_t limit) : budget(stream_budget::create(limit)) {}

    std::shared_ptr<stream_budget> budget;
    std::vector<std::string> asked;
    struct holder
    {
        std::shared_ptr<stream_budget::waiting> backlog =
            std::make_shared<stream_budget::waiting>();
        std::vector<shared_message> kept;
        stream_budget::enrollment place;
    };
    std::map<std::string, holder> by_name;

    holder& replay(const std::string& name, clock_type::time_point disconnected)
    {
        holder& h = by_name[name];
        h.place =
            budget->enroll_replay(disconnected, h.backlog, [this, name] { asked.push_back(name); });
        return h;
    }
    holder& connection(const std::string& name)
    {
        holder& h = by_name[name];
        h.place = budget->enroll_connection(h.backlog, [this, name] { asked.push_back(name); });
        return h;
    }
    static void keep(holder& h, const shared_message& m, clock_type::time_point since)
    {
        h.kept.push_back(m);
        std::size_t bytes = 0;
        for (const auto& k : h.kept)
        {
            bytes += message_bytes(*k);
        }
        h.backlog->set(bytes, since);
    }
    // What the owner does when asked: drops what it holds and withdraws.
    void let_go(const std::string& name)
    {
        holder& h = by_name.at(name);
        h.kept.clear();
        h.place.reset();
    }
};

} // namespace

TEST_CASE("a message shared by many holders counts once, until the last lets go")
{
    auto budget = stream_budget::create(1 << 20);
    std::vector<shared_message> sessions;
    {
        const shared_message m = budget->track(output_of(1000));
        CHECK(budget->bytes() == 1000);
        sessions.assign(40, m);
        CHECK(budget->bytes() == 1000); // forty holders, one copy
    }
    sessions.resize(1);
    CHECK(budget->bytes() == 1000);
    sessions.clear();
    CHECK(budget->bytes() == 0);

    // Untracked sharing (no budget) still shares.
    const shared_message plain = share_message(nullptr, output_of(100));
    CHECK(message_bytes(*plain) == 100);
}

TEST_CASE("under the budget nobody is asked; over it, disconnected sessions go first, oldest "
          "first, one at a time")
{
    holders h(3000);
    const auto t0 = clock_type::now();
    auto& young = h.replay("young", t0 + std::chrono::seconds(2));
    auto& old = h.replay("old", t0);
    auto& empty = h.replay("empty-but-oldest", t0 - std::chrono::seconds(9));
    auto& reader = h.connection("reader");
    (void)empty; // holds nothing: freeing it frees nothing, so it is never asked

    holders::keep(old, h.budget->track(output_of(1000)), t0);
    holders::keep(young, h.budget->track(output_of(1000)), t0);
    holders::keep(reader, h.budget->track(output_of(1000)), t0);
    CHECK(h.budget->bytes() == 3000);
    CHECK(h.asked.empty());

    holders::keep(young, h.budget->track(output_of(500)), t0); // over
    REQUIRE(h.asked == std::vector<std::string>{"old"});
    holders::keep(young, h.budget->track(output_of(500)), t0);
    CHECK(h.asked.size() == 1); // asked already: its letting go may be enough

    h.let_go("old");
    CHECK(h.budget->bytes() == 3000);
    CHECK(h.asked.size() == 1); // back within the budget: nobody else goes

    holders::keep(reader, h.budget->track(output_of(10)), t0);
    REQUIRE(h.asked == std::vector<std::string>{"old", "young"}); // sessions before clients
    h.let_go("young");
    CHECK(h.budget->bytes() == 1010);
    CHECK(h.budget->holders() == 2); // the empty session and the reader
}

TEST_CASE("a message shared by several holders is freed once every one of them let go")
{
    holders h(1500);
    const auto t0 = clock_type::now();
    const shared_message big = h.budget->track(output_of(1000));
    for (int i = 0; i < 3; ++i)
    {
        holders::keep(h.replay("s" + std::to_string(i), t0 + std::chrono::seconds(i)), big, t0);
    }
    holders::keep(h.by_name["s2"], h.budget->track(output_of(1000)), t0); // 2000 > 1500
    REQUIRE(h.asked == std::vector<std::string>{"s0"});
    h.let_go("s0");
    CHECK(h.asked.back() == "s1"); // the shared message is still held: go on
    h.let_go("s1");
    CHECK(h.asked.back() == "s2");
    h.let_go("s2");
    CHECK(h.asked.size() == 3);
    CHECK(h.budget->bytes() == 1000); // only the test's own pointer left
}

TEST_CASE("then the connection whose client left messages unread longest is asked")
{
    holders h(2000);
    const auto t0 = clock_type::now();
    auto& reading = h.connection("reading");
    auto& stalled = h.connection("stalled");
    auto& idle = h.connection("idle"); // nothing waits for it
    (void)idle;
    holders::keep(stalled, h.budget->track(output_of(1500)), t0);
    holders::keep(reading, h.budget->track(output_of(1000)), t0 + std::chrono::seconds(5));
    REQUIRE(h.asked == std::vector<std::string>{"stalled"});
    h.let_go("stalled");
    CHECK(h.asked.size() == 1);

    // A client that reads, but not fast enough to keep the gateway within its budget, goes too.
    holders::keep(reading, h.budget->track(output_of(1500)), t0 + std::chrono::seconds(6));
    REQUIRE(h.asked.back() == "reading");
    h.let_go("reading");
    CHECK(h.budget->bytes() == 0);
}

TEST_CASE("a holder is asked once it holds something while the budget is over")
{
    holders h(100);
    const shared_message big = h.budget->track(output_of(1000)); // held outside any holder
    CHECK(h.asked.empty());
    auto& late = h.replay("late", clock_type::now());
    CHECK(h.asked.empty()); // holds nothing yet
    holders::keep(late, big, clock_type::now());
    holders::keep(late, h.budget->track(output_of(10)), clock_type::now());
    CHECK(h.asked == std::vector<std::string>{"late"});
}

TEST_CASE("a budget of 0 counts but never asks")
{
    holders h(0);
    holders::keep(h.replay("s", clock_type::now()), h.budget->track(output_of(1 << 20)),
                  clock_type::now());
    CHECK(h.budget->bytes() == 1 << 20);
    CHECK(h.asked.empty());
}

TEST_CASE("a withdrawn holder is never asked, even by another thread")
{
    auto budget = stream_budget::create(1000);
    std::atomic<int> calls{0};
    auto backlog = std::make_shared<stream_budget::waiting>();
    backlog->set(5000, std::nullopt);
    std::vector<shared_message> held;
    std::thread pusher(
        [&]
        {
            for (int i = 0; i < 2000; ++i)
            {
                held.push_back(budget->track(output_of(100)));
            }
        });
    for (int i = 0; i < 2000; ++i)
    {
        auto place = budget->enroll_replay(clock_type::now(), backlog, [&] { ++calls; });
        const int before = calls.load();
        place.reset();
        CHECK(calls.load() <= before + 1); // at most a call already under way
    }
    pusher.join();
    const int settled = calls.load();
    budget->track(output_of(100)); // over, and nobody enrolled
    CHECK(calls.load() == settled);
    CHECK(budget->holders() == 0);
}

TEST_CASE("a tracked message may outlive its budget")
{
    shared_message survivor;
    {
        auto budget = stream_budget::create(10);
        survivor = budget->track(output_of(100));
    }
    CHECK(message_bytes(*survivor) == 100);
    survivor.reset(); // must not touch the budget that is gone
}
