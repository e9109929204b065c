#include "runner/notebook.hpp"

#include "cellbox/bounded_json.hpp"

#include <random>
#include <set>

namespace cellbox::gateway::runner
{
namespace
{

using json = nlohmann::json;

const json& field(const json& object, const char* name)
{
    static const json missing;
    const auto it = object.find(name);
    return it == object.end() ? missing : *it;
}

std::string where(std::size_t index)
{
    return "cell " + std::to_string(index);
}

void check_source(const json& source, std::size_t index)
{
    if (source.is_string())
    {
        return;
    }
    if (!source.is_array())
    {
        throw notebook_error(where(index) + ": \"source\" must be a string or a list of strings");
    }
    for (const auto& line : source)
    {
        if (!line.is_string())
        {
            throw notebook_error(where(index) + ": \"source\" holds a non-string line");
        }
    }
}

void check_cell(json& cell, std::size_t index)
{
    if (!cell.is_object())
    {
        throw notebook_error(where(index) + " is not an object");
    }
    const json& type = field(cell, "cell_type");
    if (!type.is_string() || (type != "code" && type != "markdown" && type != "raw"))
    {
        throw notebook_error(where(index) + ": \"cell_type\" must be code, markdown or raw");
    }
    check_source(field(cell, "source"), index);
    if (!cell.contains("metadata"))
    {
        cell["metadata"] = json::object();
    }
    if (!cell["metadata"].is_object())
    {
        throw notebook_error(where(index) + ": \"metadata\" must be an object");
    }
    const json& tags = field(cell["metadata"], "tags");
    if (!tags.is_null() && !tags.is_array())
    {
        throw notebook_error(where(index) + ": \"metadata.tags\" must be a list");
    }
    if (cell.contains("id") &&
        (!cell["id"].is_string() || cell["id"].get_ref<const std::string&>().empty()))
    {
        throw notebook_error(where(index) + ": \"id\" must be a non-empty string");
    }
}

std::string fresh_id(const json& notebook)
{
    std::set<std::string> taken;
    for (const auto& cell : notebook["cells"])
    {
        if (cell.contains("id") && cell["id"].is_string())
        {
            taken.insert(cell["id"].get<std::string>());
        }
    }
    static thread_local std::mt19937_64 random{std::random_device{}()};
    static constexpr char digits[] = "0123456789abcdef";
    for (;;)
    {
        std::string id;
        for (int i = 0; i < 8; ++i)
        {
            id += digits[random() % 16];
        }
        if (taken.count(id) == 0)
        {
            return id;
        }
    }
}

json new_cell(const json& notebook, const std::string& type, std::string source, json metadata)
{
    json cell = {
        {"cell_type", type}, {"metadata", std::move(metadata)}, {"source", std::move(source)}};
    if (type == "code")
    {
        cell["execution_count"] = nullptr;
        cell["outputs"] = json::array();
    }
    if (uses_cell_ids(notebook))
    {
        cell["id"] = fresh_id(notebook);
    }
    return cell;
}

std::ptrdiff_t first_tagged(const json& notebook, std::string_view tag)
{
    const json& cells = notebook["cells"];
    for (std::size_t i = 0; i < cells.size(); ++i)
    {
        if (has_tag(cells[i], tag))
        {
            return static_cast<std::ptrdiff_t>(i);
        }
    }
    return -1;
}

} // namespace

bool uses_cell_ids(const json& notebook)
{
    const json& minor = field(notebook, "nbformat_minor");
    return minor.is_number_integer() && minor.get<long long>() >= 5;
}

json read_notebook(std::string_view text)
{
    if (text.size() > max_notebook_bytes)
    {
        throw notebook_error("the notebook is larger than " +
                             std::to_string(max_notebook_bytes >> 20u) + " MiB");
    }
    json notebook = parse_json_bounded(text);
    if (notebook.is_discarded())
    {
        throw notebook_error("not JSON (or nested deeper than " + std::to_string(max_json_depth) +
                             " levels)");
    }
    if (!notebook.is_object())
    {
        throw notebook_error("not a notebook: the document is not a JSON object");
    }
    const json& major = field(notebook, "nbformat");
    if (!major.is_number_integer() || major.get<long long>() != 4)
    {
        throw notebook_error("\"nbformat\" must be 4 (convert older notebooks with "
                             "`jupyter nbconvert --to notebook`)");
    }
    if (!field(notebook, "nbformat_minor").is_number_integer())
    {
        throw notebook_error("\"nbformat_minor\" must be an integer");
    }
    if (!notebook.contains("metadata"))
    {
        notebook["metadata"] = json::object();
    }
    if (!notebook["metadata"].is_object())
    {
        throw notebook_error("\"metadata\" must be an object");
    }
    if (!field(notebook, "cells").is_array())
    {
        throw notebook_error("\"cells\" must be a list");
    }
    json& cells = notebook["cells"];
    std::set<std::string> ids;
    for (std::size_t i = 0; i < cells.size(); ++i)
    {
        check_cell(cells[i], i);
        if (cells[i].contains("id") && !ids.insert(cells[i]["id"].get<std::string>()).second)
        {
            throw notebook_error(where(i) + ": duplicate \"id\"");
        }
    }
    if (uses_cell_ids(notebook))
    {
        for (auto& cell : cells)
        {
            if (!cell.contains("id"))
            {
                cell["id"] = fresh_id(notebook);
            }
        }
    }
    return notebook;
}

std::string cell_source(const json& cell)
{
    const json& source = field(cell, "source");
    if (source.is_string())
    {
        return source.get<std::string>();
    }
    std::string joined;
    if (source.is_array())
    {
        for (const auto& line : source)
        {
            if (line.is_string())
            {
                joined += line.get_ref<const std::string&>();
            }
        }
    }
    return joined;
}

bool has_tag(const json& cell, std::string_view tag)
{
    const json& tags = field(field(cell, "metadata"), "tags");
    if (!tags.is_array())
    {
        return false;
    }
    for (const auto& t : tags)
    {
        if (t.is_string() && t.get_ref<const std::string&>() == tag)
        {
            return true;
        }
    }
    return false;
}

void inject_parameters(json& notebook, const std::vector<parameter>& parameters)
{
    if (parameters.empty())
    {
        return;
    }
    json cell = new_cell(notebook, "code", parameters_source(parameters),
                         {{"tags", json::array({injected_tag})}});
    json& cells = notebook["cells"];
    const std::ptrdiff_t injected = first_tagged(notebook, injected_tag);
    const std::ptrdiff_t declared = first_tagged(notebook, parameters_tag);
    if (injected >= 0)
    {
        if (cells[injected].contains("id") && cell.contains("id"))
        {
            cell["id"] = cells[injected]["id"];
        }
        cells[injected] = std::move(cell);
    }
    else
    {
        cells.insert(cells.begin() + (declared >= 0 ? declared + 1 : 0), std::move(cell));
    }
    json& papermill = notebook["metadata"]["papermill"];
    if (!papermill.is_object())
    {
        papermill = json::object();
    }
    papermill["parameters"] = parameters_json(parameters);
}

void reset_for_run(json& notebook)
{
    json& cells = notebook["cells"];
    json kept = json::array();
    for (auto& cell : cells)
    {
        if (has_tag(cell, error_tag))
        {
            continue; // the markers of an earlier failed run
        }
        if (cell["cell_type"] == "code")
        {
            cell["outputs"] = json::array();
            cell["execution_count"] = nullptr;
        }
        cell["metadata"]["papermill"] = {{"exception", nullptr},
                                         {"start_time", nullptr},
                                         {"end_time", nullptr},
                                         {"duration", nullptr},
                                         {"status", "pending"}};
        kept.push_back(std::move(cell));
    }
    cells = std::move(kept);
}

std::size_t mark_error(json& notebook, std::size_t failed, const json& execution_count)
{
    const std::string count =
        execution_count.is_number_integer() ? execution_count.dump() : std::string(" ");
    const std::string style =
        "color:red; font-family:Helvetica Neue, Helvetica, Arial, sans-serif; font-size:2em;";
    json banner = new_cell(notebook, "markdown",
                           "<span style=\"" + style +
                               "\">An Exception was encountered at '<a "
                               "href=\"#papermill-error-cell\">In [" +
                               count + "]</a>'.</span>",
                           {{"tags", json::array({error_tag})}});
    json marker = new_cell(notebook, "markdown",
                           "<span id=\"papermill-error-cell\" style=\"" + style +
                               "\">Execution using cellbox run encountered an exception here and "
                               "stopped:</span>",
                           {{"tags", json::array({error_tag})}});
    json& cells = notebook["cells"];
    cells.insert(cells.begin() + static_cast<std::ptrdiff_t>(failed), std::move(marker));
    cells.insert(cells.begin(), std::move(banner));
    return failed + 2;
}

} // namespace cellbox::gateway::runner
