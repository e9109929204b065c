#pragma once

#include <string>
#include <vector>
#include <xeus/xhistory_manager.hpp>

namespace cellbox::kernel
{

// In-memory input history answering history_request in the protocol's format.
// Replaces xeus 2.4.1's in-memory manager, which returns flat entries and numbers every line 1.
// Line numbers are counted here because xeus passes a constant line number to store_inputs.
class cell_history final : public xeus::xhistory_manager
{
public:
    // The session number reported in entries; requests may also name it 0 ("current").
    static constexpr int session_number = 1;

private:
    struct entry
    {
        int line;
        std::string input;
    };

    void configure_impl() override {}
    void store_inputs_impl(int session, int line_num, const std::string& input,
                           const std::string& output) override;
    nl::json get_tail_impl(int n, bool raw, bool output) const override;
    nl::json get_range_impl(int session, int start, int stop, bool raw, bool output) const override;
    nl::json search_impl(const std::string& pattern, bool raw, bool output, int n,
                         bool unique) const override;

    static nl::json to_json(const entry& e, bool output);
    static nl::json reply(nl::json history);

    std::vector<entry> m_entries;
};

} // namespace cellbox::kernel
