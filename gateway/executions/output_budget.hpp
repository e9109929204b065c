#pragma once
// How much of a cell's output an execution keeps, for clients whose reader is a model with a
// small context: text cut in the middle (the start says what ran, the end how it finished)
// with a marker saying how much went, images kept while they fit.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace cellbox::gateway
{

// `text` cut in the middle to about `max_bytes` (never inside a UTF-8 sequence), with a marker
// in place of what went; `cut` gets the bytes removed. Unchanged when it fits.
std::string cut_middle(std::string_view text, std::size_t max_bytes, std::size_t& cut);

// The marker put where `bytes` bytes of output were cut.
std::string cut_marker(std::size_t bytes);

class output_budget
{
public:
    // `max_text`: bytes of text (streams, text values of outputs, tracebacks); `max_image`:
    // bytes of images (their base64 text) together.
    output_budget(std::size_t max_text, std::size_t max_image);

    // Stream text as it comes: the first half of the text budget goes out at once; past it,
    // stream text is held back and only its last half-budget is kept, for finish_streams().
    // Returns what goes out now (maybe "").
    std::string take_stream(const std::string& name, std::string_view text);
    struct piece
    {
        std::string name; // stdout, stderr
        std::string text;
    };
    // At the end of the cell: what was held back, after a marker if some of it was cut.
    std::vector<piece> finish_streams();

    // A text value of an output (text/plain, text/html, a traceback line): cut in the middle
    // to what remains of the first half of the budget.
    std::string take_text(std::string_view text);
    // An image of `bytes`: whether it still fits in the image budget (if not, it is counted
    // as cut).
    bool take_image(std::size_t bytes);

    std::size_t cut_bytes() const { return m_cut; }
    std::size_t cut_image_bytes() const { return m_cut_image; }
    bool truncated() const { return m_cut > 0 || m_cut_image > 0; }

private:
    std::size_t m_head_limit;
    std::size_t m_tail_limit;
    std::size_t m_max_image;
    std::size_t m_head = 0;  // text gone out
    std::size_t m_image = 0; // image bytes kept
    std::vector<piece> m_tail;
    std::size_t m_tail_bytes = 0;
    std::size_t m_cut = 0;
    std::size_t m_cut_image = 0;
    std::size_t m_tail_cut = 0; // of m_cut: held-back stream text dropped
};

} // namespace cellbox::gateway
