#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cellbox::kernel
{

struct stream_chunk
{
    std::string name; // "stdout" or "stderr"
    std::string text;
};

struct coalescer_limits
{
    // Flush as soon as this many bytes are waiting...
    std::size_t max_bytes = 256 * 1024;
    // ...or when the oldest waiting byte is this old, so slow output still streams.
    std::chrono::milliseconds max_delay{30};
};

// Buffers small stream writes so that a loop printing 100 000 lines becomes a handful of
// `stream` messages, while a line printed every 200 ms still reaches the frontend at once.
// Keeps the order of stdout and stderr writes. Not thread-safe: the owner serialises access.
class output_coalescer
{
public:
    using clock = std::chrono::steady_clock;

    explicit output_coalescer(coalescer_limits limits = {});

    void append(std::string_view name, std::string_view text, clock::time_point now);

    // Whether the buffered output should be published now.
    bool due(clock::time_point now) const;

    // When the buffered output becomes due; empty when nothing is buffered.
    std::optional<clock::time_point> deadline() const;

    // Everything buffered, consecutive writes to one stream merged into one chunk.
    std::vector<stream_chunk> take();

    bool empty() const { return m_chunks.empty(); }
    std::size_t buffered_bytes() const { return m_bytes; }

private:
    coalescer_limits m_limits;
    std::vector<stream_chunk> m_chunks;
    std::size_t m_bytes = 0;
    clock::time_point m_oldest{};
};

} // namespace cellbox::kernel
