// A kernel client's inbox: bounded in bytes taken but not yet written out, in order, and a
// client that stops reading is dropped with what it had not taken handed back for the replay.
#include "protocol/message_fields.hpp"
#include "streams/client_inbox.hpp"
#include "streams/kernel_client.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using namespace cellbox::gateway;

namespace
{

// A message of exactly `bytes` as message_bytes counts them, its content ending in `tag`.
shared_message message_of(std::size_t bytes, const std::string& tag)
{
    kernel_message m{"iopub", "{}", "{}", "{}", std::string(bytes - 6 - tag.size(), 'x') + tag, {}};
    REQUIRE(message_bytes(m) == bytes);
    return share_message(nullptr, std::move(m));
}

std::string tag_of(const shared_message& m)
{
    return m->content.substr(m->content.find_first_not_of('x'));
}

} // namespace

TEST_CASE("an inbox hands messages over in the order they came, waking the client once")
{
    client_inbox inbox(0);
    const auto first = inbox.offer(message_of(100, "a"));
    CHECK(first.taken);
    CHECK(first.wake); // the first since the client last looked
    const auto second = inbox.offer(message_of(100, "b"));
    CHECK(second.taken);
    CHECK_FALSE(second.wake); // the client has been woken already
    inbox.offer(message_of(100, "c"));
    std::vector<std::string> order;
    for (const auto& e : inbox.take())
    {
        order.push_back(tag_of(e.message));
    }
    CHECK(order == std::vector<std::string>{"a", "b", "c"});
    CHECK(inbox.take().empty());
    CHECK(inbox.offer(message_of(100, "d")).wake); // empty again: woken again
}

TEST_CASE("an inbox counts bytes until the client has written them out")
{
    client_inbox inbox(300);
    CHECK(inbox.offer(message_of(100, "a")).taken);
    CHECK(inbox.offer(message_of(100, "b")).taken);
    CHECK(inbox.backlog()->bytes() == 200);
    const auto taken = inbox.take();
    REQUIRE(taken.size() == 2);
    // Taken out but not written: still counted.
    CHECK(inbox.offer(message_of(100, "c")).taken);
    CHECK(inbox.backlog()->bytes() == 300);
    inbox.written(200, std::nullopt);
    CHECK(inbox.backlog()->bytes() == 100);
    CHECK(inbox.offer(message_of(200, "d")).taken); // room again: 100 + 200
    CHECK_FALSE(inbox.overflowed());
}

TEST_CASE("a client that stops reading is dropped at the limit, its messages kept for replay")
{
    client_inbox inbox(250);
    const auto t0 = client_inbox::clock::now();
    CHECK(inbox.offer(message_of(100, "a"), t0).taken);
    CHECK(inbox.offer(message_of(100, "b"), t0).taken);
    const auto over = inbox.offer(message_of(100, "c"), t0 + client_inbox::stall_grace);
    CHECK_FALSE(over.taken); // the kernel side keeps it for the session's replay
    CHECK(over.wake);        // the client must look: it is to be dropped
    CHECK(inbox.overflowed());
    CHECK(inbox.take().empty()); // not delivered to a client being dropped...
    std::vector<std::string> back;
    for (const auto& m : inbox.close())
    {
        back.push_back(tag_of(m));
    }
    CHECK(back == std::vector<std::string>{"a", "b"});   // ...but handed back, oldest first
    CHECK_FALSE(inbox.offer(message_of(10, "d")).taken); // closed for good
}

TEST_CASE("a client past the limit that is still writing out is not dropped for a burst")
{
    // The gateway read a kernel's queued output at once (it had been slowed): the client's
    // oldest message is recent, so it is catching up, not stalled.
    client_inbox inbox(250);
    const auto t0 = client_inbox::clock::now();
    CHECK(inbox.offer(message_of(100, "a"), t0).taken);
    CHECK(inbox.offer(message_of(100, "b"), t0).taken);
    CHECK(inbox.offer(message_of(100, "c"), t0 + std::chrono::milliseconds(500)).taken);
    CHECK_FALSE(inbox.overflowed());
    REQUIRE(inbox.take().size() == 3);
    inbox.written(200, t0 + std::chrono::milliseconds(500)); // a and b out; c held since 0.5 s
    CHECK(inbox.offer(message_of(100, "d"), t0 + std::chrono::milliseconds(1200)).taken);
    // c has now waited stall_grace while the client is over its limit: not reading.
    const auto over = inbox.offer(message_of(100, "e"), t0 + std::chrono::milliseconds(1500));
    CHECK_FALSE(over.taken);
    CHECK(inbox.overflowed());
}

TEST_CASE("a message larger than the whole limit drops the client even when nothing waits")
{
    client_inbox inbox(50);
    CHECK_FALSE(inbox.offer(message_of(51, "a")).taken);
    CHECK(inbox.overflowed());
}

TEST_CASE("a closed inbox refuses messages and hands back what was not taken out")
{
    client_inbox inbox(0);
    inbox.offer(message_of(100, "a"));
    REQUIRE(inbox.take().size() == 1);
    inbox.offer(message_of(100, "b"));
    const auto back = inbox.close();
    REQUIRE(back.size() == 1);
    CHECK(tag_of(back.front()) == "b");
    const auto refused = inbox.offer(message_of(100, "c"));
    CHECK_FALSE(refused.taken);
    CHECK_FALSE(refused.wake);
    CHECK_FALSE(inbox.overflowed());
}

TEST_CASE("discarding for the memory budget forgets what waits and keeps what the client holds")
{
    client_inbox inbox(0);
    inbox.offer(message_of(100, "a"));
    inbox.offer(message_of(100, "b"));
    const auto since = client_inbox::clock::now();
    CHECK(inbox.discard(40, since) == 200);
    CHECK(inbox.backlog()->bytes() == 40);
    CHECK(inbox.backlog()->oldest() == since);
    CHECK(inbox.take().empty());
    CHECK(inbox.close().empty());
    CHECK_FALSE(inbox.offer(message_of(100, "c")).taken);
}

TEST_CASE("the stream budget sees how long the oldest message has waited")
{
    client_inbox inbox(0);
    const auto t0 = client_inbox::clock::now();
    inbox.offer(message_of(100, "a"), t0);
    inbox.offer(message_of(100, "b"), t0 + std::chrono::seconds(1));
    CHECK(inbox.backlog()->oldest() == t0);
    const auto taken = inbox.take();
    // The client holds "b" still, taken one second later.
    inbox.written(100, taken.back().taken);
    CHECK(inbox.backlog()->oldest() == t0 + std::chrono::seconds(1));
    inbox.written(100, std::nullopt);
    CHECK(inbox.backlog()->bytes() == 0);
    CHECK_FALSE(inbox.backlog()->oldest().has_value());
}

TEST_CASE("kernel clients get distinct connection ids from one allocator")
{
    const auto a = next_connection_id();
    const auto b = next_connection_id();
    CHECK(a != 0);
    CHECK(b != a);
}
