#include "cellbox/kernel/interrupt_router.hpp"

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <signal.h>
#include <thread>
#include <unistd.h>

using namespace cellbox::kernel;
using namespace std::chrono_literals;

namespace
{
std::atomic<int> g_signals{0};
void count_signal()
{
    g_signals.fetch_add(1);
}

template <class Condition> bool eventually(Condition condition)
{
    for (int i = 0; i < 2000 && !condition(); ++i)
    {
        std::this_thread::sleep_for(1ms);
    }
    return condition();
}
} // namespace

TEST_CASE("interruptions reach only a running cell, with their reason")
{
    g_signals = 0;
    interrupt_router router(&count_signal);

    // Idle: nothing happens, and SIGINT to the process is absorbed.
    CHECK_FALSE(router.interrupt(interrupt_reason::timeout));
    kill(getpid(), SIGINT);
    std::this_thread::sleep_for(50ms);
    CHECK(g_signals.load() == 0);
    CHECK(router.take_reason() == interrupt_reason::none);

    router.cell_started();
    CHECK(router.interrupt(interrupt_reason::timeout));
    REQUIRE(eventually([] { return g_signals.load() == 1; }));
    CHECK(router.take_reason() == interrupt_reason::timeout);
    CHECK(router.take_reason() == interrupt_reason::none);

    // SIGINT from outside while a cell runs is a user interruption.
    kill(getpid(), SIGINT);
    REQUIRE(eventually([] { return g_signals.load() == 2; }));
    CHECK(router.take_reason() == interrupt_reason::user);
    router.cell_finished();

    CHECK_FALSE(router.interrupt(interrupt_reason::user));
    std::this_thread::sleep_for(20ms);
    CHECK(g_signals.load() == 2);
}

TEST_CASE("an interruption makes a blocking call in the cell return EINTR")
{
    interrupt_router router(&count_signal);
    router.cell_started();
    std::thread interrupter(
        [&router]
        {
            std::this_thread::sleep_for(50ms);
            router.interrupt(interrupt_reason::user);
        });
    const auto start = std::chrono::steady_clock::now();
    const int slept = usleep(5 * 1000 * 1000);
    const int error = errno;
    interrupter.join();
    router.cell_finished();
    CHECK(slept == -1);
    CHECK(error == EINTR);
    CHECK(std::chrono::steady_clock::now() - start < 4s);
}

TEST_CASE("an interruption is delivered again until its reason is taken")
{
    // A signal can land just before a blocking call starts; it must not be lost there.
    g_signals = 0;
    interrupt_router router(&count_signal);
    router.cell_started();
    REQUIRE(router.interrupt(interrupt_reason::user));
    REQUIRE(eventually([] { return g_signals.load() >= 3; }));
    CHECK(router.take_reason() == interrupt_reason::user);
    std::this_thread::sleep_for(150ms);
    const int after_taken = g_signals.load();
    std::this_thread::sleep_for(150ms);
    CHECK(g_signals.load() == after_taken);
    router.cell_finished();
}
