#pragma once
// The notebook model of `cellbox run`, without I/O: reading an .ipynb (nbformat 4) from bytes
// that may be hostile, papermill's parameter injection, resetting cells before a run and the
// error markers papermill leaves in a failed notebook.
#include "runner/parameters.hpp"

#include <cstddef>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace cellbox::gateway::runner
{

// Why bytes are not a notebook this runner can run; the text says where.
class notebook_error : public std::invalid_argument
{
public:
    using std::invalid_argument::invalid_argument;
};

// The largest notebook read (outputs of earlier runs included).
inline constexpr std::size_t max_notebook_bytes = 256u << 20u;

// Tags papermill gives its cells; kept so that tools that know papermill find them.
inline constexpr const char* parameters_tag = "parameters";
inline constexpr const char* injected_tag = "injected-parameters";
inline constexpr const char* error_tag = "papermill-error-cell-tag";

// Parses and checks `text`: a JSON object with nbformat 4, a list of cells, each with a
// cell_type of code/markdown/raw, a source (string or list of strings) and object metadata.
// Cells of nbformat 4.5 and later that lack an id get one. Throws notebook_error.
nlohmann::json read_notebook(std::string_view text);

// A cell's source as one string.
std::string cell_source(const nlohmann::json& cell);

// Whether the cell's metadata.tags holds `tag`.
bool has_tag(const nlohmann::json& cell, std::string_view tag);

// papermill's placement: the injected cell replaces an earlier injected-parameters cell,
// else follows the first cell tagged "parameters", else opens the notebook. Records the
// parameters in metadata.papermill.parameters. Without parameters nothing changes.
void inject_parameters(nlohmann::json& notebook, const std::vector<parameter>& parameters);

// Before a run: every code cell without outputs or execution_count, every cell's
// metadata.papermill "pending" (and any earlier error markers gone).
void reset_for_run(nlohmann::json& notebook);

// After a failure in cell `failed`: a banner cell at the top linking to a marker cell
// inserted before the failed one (papermill's). Returns the failed cell's new index.
std::size_t mark_error(nlohmann::json& notebook, std::size_t failed,
                       const nlohmann::json& execution_count);

// Whether the notebook's cells carry ids (nbformat 4.5 and later).
bool uses_cell_ids(const nlohmann::json& notebook);

} // namespace cellbox::gateway::runner
