// The execution tracker: what a kernel was asked and has not answered, and who gets which
// answer when its process goes (restart, shutdown, death), without any process or timer.
#include "kernels/execution_tracker.hpp"

#include <catch2/catch.hpp>

using cellbox::gateway::cell_limit;
using cellbox::gateway::execution_tracker;
using cellbox::gateway::kernel_message;

namespace
{

const auto t0 = execution_tracker::clock::time_point{};

std::chrono::steady_clock::time_point at(double seconds)
{
    return t0 + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                    std::chrono::duration<double>(seconds));
}

} // namespace

TEST_CASE("cell limits: the request's timeout, else the default, never above the cap",
          "[execution_tracker]")
{
    const auto asks = [](double seconds) {
        return nlohmann::json{{"cellbox", {{"timeout", seconds}}}};
    };
    CHECK(cell_limit(nlohmann::json::object(), 30, 0) == 30);
    CHECK(cell_limit(asks(5), 30, 0) == 5);
    CHECK(cell_limit(asks(0), 30, 0) == 0);   // none, when nothing caps it
    CHECK(cell_limit(asks(0), 30, 60) == 60); // "none" is the cap
    CHECK(cell_limit(asks(100), 30, 60) == 60);
    CHECK(cell_limit(asks(-1), 30, 0) == 30); // ignored
    CHECK(cell_limit(nlohmann::json{{"cellbox", "odd"}}, 30, 0) == 30);
}

TEST_CASE("a started cell reports its limit until its reply", "[execution_tracker]")
{
    execution_tracker t;
    t.execute_sent("a", "s1", "{\"msg_id\":\"a\"}", 2.5, at(0));
    t.execute_sent("b", "s1", "{\"msg_id\":\"b\"}", 0, at(0));
    CHECK(t.started("a") == std::optional<double>(2.5));
    CHECK_FALSE(t.started("b").has_value()); // no limit
    CHECK_FALSE(t.started("unknown").has_value());
    CHECK(t.is_pending("a"));
    const auto replied = t.replied("a");
    REQUIRE(replied.has_value()); // whose request it was: for a status the kernel lost
    CHECK(replied->session_id == "s1");
    CHECK(replied->header == "{\"msg_id\":\"a\"}");
    CHECK_FALSE(t.is_pending("a"));
    CHECK(t.pending_count() == 1);
    CHECK_FALSE(t.replied("a").has_value()); // once
    CHECK_FALSE(t.replied("never-sent").has_value());
    t.request_sent("complete", "s2", "{\"msg_id\":\"complete\"}", "shell");
    const auto other = t.replied("complete");
    REQUIRE(other.has_value());
    CHECK(other->session_id == "s2");
    CHECK(other->header == "{\"msg_id\":\"complete\"}");
    // The execute_reply's timing is kept apart: it may come before or after the reply.
    CHECK(t.execute_answered("a", at(3)) == std::optional<double>(3.0));
    CHECK_FALSE(t.execute_answered("a", at(4)).has_value());
}

TEST_CASE("after a restart every request the process took gets an error", "[execution_tracker]")
{
    execution_tracker t;
    t.execute_sent("cell", "s1", "{\"msg_id\":\"cell\"}", 0, at(0));
    t.request_sent("complete", "s2", "{\"msg_id\":\"complete\"}", "shell");
    const auto answers = t.take_in_flight();
    REQUIRE(answers.size() == 2);
    CHECK(answers[0].session_id == "s2"); // other requests first, as before the split
    CHECK(answers[0].request.header == "{\"msg_id\":\"complete\"}");
    CHECK(answers[1].session_id == "s1");
    CHECK(answers[1].request.channel == "shell");
    CHECK_FALSE(answers[1].aborted);
    CHECK(t.pending_count() == 0);
    CHECK(t.take_in_flight().empty());
}

TEST_CASE("a death fails the running cell and aborts the queued ones", "[execution_tracker]")
{
    execution_tracker t;
    t.execute_sent("first", "s1", "first-header", 0, at(0));
    t.execute_sent("second", "s1", "second-header", 0, at(1));
    t.execute_sent("third", "s2", "third-header", 0, at(2));
    t.request_sent("inspect", "s2", "inspect-header", "shell");
    t.replied("first");
    REQUIRE(t.started("second") == std::nullopt);
    const auto death = t.take_for_death(at(5));
    REQUIRE(death.answers.size() == 3);
    CHECK(death.answers[0].request.header == "second-header");
    CHECK_FALSE(death.answers[0].aborted); // it was running
    CHECK(death.answers[1].request.header == "third-header");
    CHECK(death.answers[1].aborted); // queued behind it
    CHECK(death.answers[2].request.header == "inspect-header");
    CHECK_FALSE(death.answers[2].aborted);
    REQUIRE(death.pending_ages.size() == 2);
    CHECK(death.pending_ages[0] == 4.0);
    CHECK(death.pending_ages[1] == 3.0);
    CHECK(t.pending_count() == 0);
}

TEST_CASE("a death before any cell started fails the oldest one", "[execution_tracker]")
{
    execution_tracker t;
    t.execute_sent("z-old", "s", "old", 0, at(0));
    t.execute_sent("a-new", "s", "new", 0, at(1));
    const auto death = t.take_for_death(at(2));
    REQUIRE(death.answers.size() == 2);
    CHECK(death.answers[0].request.header == "new");
    CHECK(death.answers[0].aborted);
    CHECK(death.answers[1].request.header == "old");
    CHECK_FALSE(death.answers[1].aborted);
}

TEST_CASE("requests held between two processes are bounded", "[execution_tracker]")
{
    execution_tracker t;
    for (std::size_t i = 0; i < execution_tracker::max_held; ++i)
    {
        REQUIRE(t.can_hold());
        t.hold(i, kernel_message{"shell", "h", "{}", "{}", "{}", {}});
    }
    CHECK_FALSE(t.can_hold());
    const auto held = t.take_held();
    CHECK(held.size() == execution_tracker::max_held);
    CHECK(held.back().first == execution_tracker::max_held - 1);
    CHECK(t.can_hold());
    CHECK(t.take_held().empty());
}
