#include "cellbox/kernel/wake_timer.hpp"

#include <atomic>
#include <catch2/catch.hpp>
#include <future>
#include <thread>

using namespace cellbox::kernel;
using namespace std::chrono_literals;
using clock_type = wake_timer::clock;

TEST_CASE("a wake timer wakes its sleeper at the armed time, not before")
{
    wake_timer timer;
    const auto start = clock_type::now();
    timer.arm_at(start + 30ms);
    REQUIRE(timer.wait());
    CHECK(clock_type::now() - start >= 30ms);
}

TEST_CASE("a time already past wakes the sleeper at once")
{
    wake_timer timer;
    timer.arm_at(clock_type::now() - 1s);
    const auto start = clock_type::now();
    REQUIRE(timer.wait());
    CHECK(clock_type::now() - start < 1s);
}

TEST_CASE("another thread moves and clears the deadline of a sleeping thread")
{
    wake_timer timer;
    std::atomic<bool> woke{false};
    timer.arm_at(clock_type::now() + 50ms);
    auto sleeper = std::async(std::launch::async,
                              [&]
                              {
                                  const bool fired = timer.wait();
                                  woke = true;
                                  return fired;
                              });
    timer.disarm(); // cleared before it passes: no wake
    std::this_thread::sleep_for(150ms);
    CHECK_FALSE(woke.load());
    const auto rearmed = clock_type::now();
    timer.arm_at(rearmed + 20ms);
    REQUIRE(sleeper.wait_for(5s) == std::future_status::ready);
    CHECK(sleeper.get());
    CHECK(clock_type::now() - rearmed >= 20ms);
}

TEST_CASE("stop ends a sleep with no deadline, and every later one")
{
    wake_timer timer;
    auto sleeper = std::async(std::launch::async, [&] { return timer.wait(); });
    std::this_thread::sleep_for(20ms);
    timer.stop();
    REQUIRE(sleeper.wait_for(5s) == std::future_status::ready);
    CHECK_FALSE(sleeper.get());
    timer.arm_at(clock_type::now() - 1s);
    CHECK_FALSE(timer.wait());
}
