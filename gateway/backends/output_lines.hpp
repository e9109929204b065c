#pragma once
// What the gateway logs of the output of a process it started (a kernel, its launcher, a
// zygote): the bytes it writes to its stdout and stderr, cut into lines that are each logged
// as one record. That output is hostile (code in a cell writes it), so it is bounded:
//   - a line is at most `max_line_bytes`; the rest of it is counted, not kept;
//   - lines pass a token bucket: `burst_lines` at once (a start-up banner, a traceback), then
//     `lines_per_second`; the others are counted as suppressed. A flooding kernel adds at most
//     lines_per_second * max_line_bytes to the log a second;
//   - past `bytes_per_window` the reader should stop reading until the window ends, which
//     makes the writer wait instead of the gateway spending its CPU on the flood;
//   - invalid UTF-8 and the characters a terminal or log viewer would act on that the log's
//     own escaping leaves alone (C1 controls, bidirectional overrides, line separators) become
//     U+FFFD. C0 controls and newlines are escaped by the log (log.hpp).
// Pure logic, unit-tested; child_output feeds it.
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cellbox::gateway
{

struct output_line
{
    std::string text;        // valid UTF-8, without its newline
    std::size_t cut_bytes{}; // bytes of the line past max_line_bytes, dropped
};

class output_lines
{
public:
    using clock = std::chrono::steady_clock;

    struct limits
    {
        std::size_t max_line_bytes = 2048;
        std::size_t burst_lines = 100;
        double lines_per_second = 10;
        std::size_t bytes_per_window = 256 * 1024;
        std::chrono::milliseconds window{1000};
    };

    explicit output_lines(limits bounds);

    // The lines `data` completes that may be logged; an unterminated rest waits for more.
    std::vector<output_line> feed(std::string_view data, clock::time_point now);
    // At end of file: the unterminated last line, if any (and if the rate allows it).
    std::optional<output_line> finish(clock::time_point now);
    // Lines dropped over the rate since the last call.
    std::size_t take_suppressed();
    std::size_t suppressed() const { return m_suppressed; }
    // Whether this window's bytes are spent: read no more before window_end().
    bool over_byte_budget(clock::time_point now) const;
    clock::time_point window_end() const { return m_window_start + m_limits.window; }

    // `text` as valid UTF-8 with the characters above replaced by U+FFFD.
    static std::string printable(std::string_view text);

private:
    void roll(clock::time_point now);
    void admit(std::vector<output_line>& out, clock::time_point now);

    limits m_limits;
    std::string m_partial;
    std::size_t m_cut = 0;
    clock::time_point m_window_start{};
    std::size_t m_bytes = 0;
    double m_tokens;                // lines that may be logged now
    clock::time_point m_refilled{}; // when m_tokens was last topped up
    std::size_t m_suppressed = 0;
};

} // namespace cellbox::gateway
