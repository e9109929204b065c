#include "cellbox/kernel/cell_history.hpp"

#include <algorithm>
#include <fnmatch.h>
#include <set>

namespace cellbox::kernel
{

void cell_history::store_inputs_impl(int, int, const std::string& input, const std::string&)
{
    const int line = m_entries.empty() ? 1 : m_entries.back().line + 1;
    m_entries.push_back({line, input});
}

nl::json cell_history::to_json(const entry& e, bool output)
{
    if (output)
    {
        // Outputs are not recorded: the second element is null, as ipykernel does for
        // cells without a stored output.
        return nl::json::array({session_number, e.line, nl::json::array({e.input, nullptr})});
    }
    return nl::json::array({session_number, e.line, e.input});
}

nl::json cell_history::reply(nl::json history)
{
    return nl::json{{"status", "ok"}, {"history", std::move(history)}};
}

nl::json cell_history::get_tail_impl(int n, bool, bool output) const
{
    nl::json history = nl::json::array();
    const std::size_t count = n <= 0 ? 0 : std::min<std::size_t>(n, m_entries.size());
    for (auto it = m_entries.end() - static_cast<std::ptrdiff_t>(count); it != m_entries.end();
         ++it)
    {
        history.push_back(to_json(*it, output));
    }
    return reply(std::move(history));
}

nl::json cell_history::get_range_impl(int session, int start, int stop, bool, bool output) const
{
    nl::json history = nl::json::array();
    if (session == 0 || session == session_number)
    {
        for (const auto& e : m_entries)
        {
            if (e.line >= start && (stop <= 0 || e.line < stop))
            {
                history.push_back(to_json(e, output));
            }
        }
    }
    return reply(std::move(history));
}

nl::json cell_history::search_impl(const std::string& pattern, bool, bool output, int n,
                                   bool unique) const
{
    // Newest first while collecting, so that `unique` keeps the latest occurrence and `n`
    // keeps the latest matches; then back to chronological order.
    std::vector<const entry*> matches;
    std::set<std::string> seen;
    for (auto it = m_entries.rbegin(); it != m_entries.rend(); ++it)
    {
        if (n > 0 && matches.size() >= static_cast<std::size_t>(n))
        {
            break;
        }
        if (fnmatch(pattern.c_str(), it->input.c_str(), 0) != 0)
        {
            continue;
        }
        if (unique && !seen.insert(it->input).second)
        {
            continue;
        }
        matches.push_back(&*it);
    }
    nl::json history = nl::json::array();
    for (auto it = matches.rbegin(); it != matches.rend(); ++it)
    {
        history.push_back(to_json(**it, output));
    }
    return reply(std::move(history));
}

} // namespace cellbox::kernel
