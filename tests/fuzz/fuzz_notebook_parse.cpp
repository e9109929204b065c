// `cellbox run`'s readers of untrusted bytes: a notebook file (read_notebook) and the -p
// parameters written into it (parse_parameter), then what a run does to the notebook
// (injection, reset, error markers). Input: the notebook, then NUL-separated NAME, VALUE pairs.
#include "cellbox/bounded_json.hpp"
#include "fuzz_support.hpp"
#include "runner/notebook.hpp"
#include "runner/parameters.hpp"

using namespace cellbox;
using cellbox::fuzz::require;
namespace runner = cellbox::gateway::runner;

namespace
{

// A literal written into the injected cell stays on its line and inside its quotes.
void check_literal(const std::string& literal)
{
    require(literal.find('\n') == std::string::npos && literal.find('\r') == std::string::npos,
            "a literal is one line");
    if (!literal.empty() && literal.front() == '"')
    {
        require(literal.size() >= 2 && literal.back() == '"', "a string literal is closed");
        for (std::size_t i = 1; i + 1 < literal.size(); ++i)
        {
            if (literal[i] == '\\')
            {
                ++i; // the escaped character
                continue;
            }
            require(literal[i] != '"', "no quote ends a string literal early");
            require(static_cast<unsigned char>(literal[i]) >= 0x20, "no control character");
        }
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const auto fields = fuzz::split_fields(fuzz::text_of(data, size));
    std::vector<runner::parameter> parameters;
    for (std::size_t i = 1; i + 1 < fields.size(); i += 2)
    {
        try
        {
            parameters.push_back(runner::parse_parameter(fields[i], fields[i + 1]));
            require(runner::python_identifier(parameters.back().name), "names are identifiers");
            check_literal(parameters.back().literal);
        }
        catch (const runner::parameter_error&)
        {
            // cellbox run exits 2 naming the parameter.
        }
    }
    try
    {
        for (const auto& p : runner::parse_parameters_json(fields.back()))
        {
            require(runner::python_identifier(p.name), "-y names are identifiers");
            check_literal(p.literal);
        }
    }
    catch (const runner::parameter_error&)
    {
        // cellbox run exits 2 naming the problem.
    }
    nlohmann::json notebook;
    try
    {
        notebook = runner::read_notebook(fields[0]);
    }
    catch (const runner::notebook_error&)
    {
        return 0; // cellbox run exits 2 naming the problem
    }
    const std::size_t before = notebook["cells"].size();
    runner::inject_parameters(notebook, parameters);
    runner::reset_for_run(notebook);
    require(notebook["cells"].size() <= before + 1, "one injected cell at most");
    if (!parameters.empty())
    {
        bool found = false;
        for (const auto& cell : notebook["cells"])
        {
            found = found || runner::has_tag(cell, runner::injected_tag);
        }
        require(found, "parameters are injected");
    }
    for (const auto& cell : notebook["cells"])
    {
        require(!runner::uses_cell_ids(notebook) || cell["id"].is_string(), "4.5 cells have ids");
        (void)runner::cell_source(cell);
    }
    if (!notebook["cells"].empty())
    {
        runner::mark_error(notebook, notebook["cells"].size() - 1, nlohmann::json(3));
    }
    // What the runner writes must read back as the same notebook.
    const std::string written =
        notebook.dump(1, ' ', false, nlohmann::json::error_handler_t::replace);
    const nlohmann::json again = parse_json_bounded(written);
    require(!again.is_discarded(), "the written notebook is JSON");
    require(runner::read_notebook(written)["cells"].size() == notebook["cells"].size(),
            "the written notebook reads back");
    return 0;
}
