#include "cellbox/kernel/output_coalescer.hpp"

#include <catch2/catch.hpp>

using namespace cellbox::kernel;
using namespace std::chrono_literals;

TEST_CASE("consecutive writes to one stream become one chunk")
{
    output_coalescer coalescer({1024, 50ms});
    const auto t0 = output_coalescer::clock::now();
    for (int i = 0; i < 100; ++i)
    {
        coalescer.append("stdout", "line\n", t0);
    }
    CHECK(coalescer.buffered_bytes() == 500);
    const auto chunks = coalescer.take();
    REQUIRE(chunks.size() == 1);
    CHECK(chunks[0].name == "stdout");
    CHECK(chunks[0].text.size() == 500);
    CHECK(coalescer.empty());
    CHECK(coalescer.buffered_bytes() == 0);
}

TEST_CASE("interleaved stdout and stderr keep their order")
{
    output_coalescer coalescer;
    const auto t0 = output_coalescer::clock::now();
    coalescer.append("stdout", "a", t0);
    coalescer.append("stdout", "b", t0);
    coalescer.append("stderr", "c", t0);
    coalescer.append("stdout", "d", t0);
    const auto chunks = coalescer.take();
    REQUIRE(chunks.size() == 3);
    CHECK(chunks[0].text == "ab");
    CHECK(chunks[1].name == "stderr");
    CHECK(chunks[1].text == "c");
    CHECK(chunks[2].text == "d");
}

TEST_CASE("output becomes due by age or by size")
{
    output_coalescer coalescer({10, 50ms});
    const auto t0 = output_coalescer::clock::now();
    CHECK_FALSE(coalescer.due(t0));
    CHECK_FALSE(coalescer.deadline().has_value());

    coalescer.append("stdout", "abc", t0);
    CHECK_FALSE(coalescer.due(t0 + 49ms));
    CHECK(coalescer.due(t0 + 50ms));
    REQUIRE(coalescer.deadline().has_value());
    CHECK(*coalescer.deadline() == t0 + 50ms);

    // The deadline belongs to the oldest byte: later writes do not postpone it.
    coalescer.append("stdout", "d", t0 + 40ms);
    CHECK(*coalescer.deadline() == t0 + 50ms);

    coalescer.append("stdout", "0123456789", t0 + 41ms);
    CHECK(coalescer.due(t0 + 41ms));
}

TEST_CASE("empty writes are ignored")
{
    output_coalescer coalescer;
    coalescer.append("stdout", "", output_coalescer::clock::now());
    CHECK(coalescer.empty());
}
