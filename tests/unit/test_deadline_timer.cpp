#include "cellbox/kernel/deadline_timer.hpp"

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

using namespace cellbox::kernel;
using namespace std::chrono_literals;

namespace
{
// Waits up to `limit` for `condition`, polling.
template <class Condition> bool eventually(Condition condition, std::chrono::milliseconds limit)
{
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end)
    {
        if (condition())
        {
            return true;
        }
        std::this_thread::sleep_for(1ms);
    }
    return condition();
}
} // namespace

TEST_CASE("an armed timer fires after its timeout")
{
    std::atomic<int> fired{0};
    deadline_timer timer([&] { ++fired; }, 10s);
    const auto start = std::chrono::steady_clock::now();
    timer.arm(30ms);
    REQUIRE(eventually([&] { return fired.load() == 1; }, 5000ms));
    CHECK(std::chrono::steady_clock::now() - start >= 30ms);
    CHECK(timer.expirations() == 1);
}

TEST_CASE("a disarmed timer never fires")
{
    std::atomic<int> fired{0};
    deadline_timer timer([&] { ++fired; });
    timer.arm(50ms);
    timer.disarm();
    std::this_thread::sleep_for(150ms);
    CHECK(fired.load() == 0);
}

TEST_CASE("an expired timer fires again until disarmed")
{
    std::atomic<int> fired{0};
    deadline_timer timer([&] { ++fired; }, 20ms);
    timer.arm(10ms);
    REQUIRE(eventually([&] { return fired.load() >= 3; }, 5000ms));
    timer.disarm();
    const int after_disarm = fired.load();
    std::this_thread::sleep_for(100ms);
    CHECK(fired.load() == after_disarm);
}

TEST_CASE("re-arming resets the deadline and the count")
{
    std::atomic<int> fired{0};
    deadline_timer timer([&] { ++fired; }, 10s);
    timer.arm(10ms);
    REQUIRE(eventually([&] { return fired.load() == 1; }, 5000ms));
    timer.arm(10s);
    CHECK(timer.expirations() == 0);
    std::this_thread::sleep_for(50ms);
    CHECK(fired.load() == 1);
}
