#pragma once

#include "protocol/kernel_message.hpp"
#include "protocol/message_fields.hpp"

#include <chrono>
#include <cstddef>
#include <deque>
#include <vector>

namespace cellbox::gateway
{

// jupyter_server's iopub rate limits (iopub_msg_rate_limit, iopub_data_rate_limit,
// rate_limit_window): rates averaged over a sliding window; once one is exceeded a single
// stderr notice goes out and iopub messages are dropped until the rate falls below 80 % of the
// limit. status, comm_open and execute_input always pass; an idle status resets the counters
// (so "Run All" does not trip the limit). Data counts the bytes of stream messages only.
class iopub_rate_limiter
{
public:
    using clock = std::chrono::steady_clock;

    // A limit of 0 is off.
    iopub_rate_limiter(double msg_rate_limit, double data_rate_limit, double window_seconds);

    std::vector<kernel_message> filter(kernel_message message, const message_info& info,
                                       clock::time_point now);

private:
    struct entry
    {
        clock::time_point at;
        std::size_t bytes;
    };
    void reset();
    // Updates one limit's flag from its rate; returns true when it just became exceeded.
    static bool check(double rate, double limit, bool& exceeded, const char* what);

    double m_msg_limit;
    double m_data_limit;
    double m_window;
    std::deque<entry> m_entries;
    std::size_t m_bytes = 0;
    bool m_msgs_exceeded = false;
    bool m_data_exceeded = false;
};

} // namespace cellbox::gateway
