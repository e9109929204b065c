#include "kernels/kernelspec_catalog.hpp"

#include "cellbox/bounded_json.hpp"

#include <filesystem>
#include <fstream>

namespace cellbox::gateway
{

namespace fs = std::filesystem;

kernelspec_catalog::kernelspec_catalog(std::vector<std::string> search_dirs)
{
    for (const auto& dir : search_dirs)
    {
        const fs::path kernels = fs::path(dir) / "kernels";
        std::error_code error;
        for (const auto& item : fs::directory_iterator(kernels, error))
        {
            const fs::path file = item.path() / "kernel.json";
            const std::string name = item.path().filename().string();
            if (m_entries.count(name) != 0 || !fs::is_regular_file(file))
            {
                continue;
            }
            std::ifstream in(file);
            nlohmann::json spec = parse_json_bounded(in);
            if (spec.is_discarded() || !spec.is_object() || !spec.contains("argv") ||
                !spec["argv"].is_array())
            {
                continue; // a broken kernelspec is skipped, as jupyter_client does
            }
            m_entries[name] = entry{name, item.path().string(), std::move(spec)};
        }
    }
}

const kernelspec_catalog::entry* kernelspec_catalog::find(const std::string& name) const
{
    const auto it = m_entries.find(name);
    return it == m_entries.end() ? nullptr : &it->second;
}

namespace
{

// argv as clients see it: the program names without the host's directories (a client needs
// argv to be an array, @jupyterlab/services drops a spec without one; it never runs it).
nlohmann::json public_argv(const nlohmann::json& argv)
{
    nlohmann::json names = nlohmann::json::array();
    for (const auto& arg : argv)
    {
        const std::string text = arg.is_string() ? arg.get<std::string>() : arg.dump();
        const auto slash = text.find_last_of('/');
        names.push_back(
            text.rfind('/', 0) == 0 && slash != std::string::npos ? text.substr(slash + 1) : text);
    }
    return names;
}

// A field of kernel.json of the expected kind, else the default jupyter_client gives it.
nlohmann::json field_or(const nlohmann::json& spec, const char* key, nlohmann::json fallback)
{
    const auto it = spec.find(key);
    return it != spec.end() && it->type() == fallback.type() ? *it : fallback;
}

} // namespace

nlohmann::json kernelspec_catalog::model(const entry& e, const std::string& base_url) const
{
    // The fields of jupyter_client's KernelSpec.to_dict(), each of the type clients check.
    const nlohmann::json spec = {
        {"argv", public_argv(e.spec["argv"])},
        {"env", field_or(e.spec, "env", nlohmann::json::object())},
        {"display_name", field_or(e.spec, "display_name", e.name)},
        {"language", field_or(e.spec, "language", "")},
        {"interrupt_mode", field_or(e.spec, "interrupt_mode", "signal")},
        {"metadata", field_or(e.spec, "metadata", nlohmann::json::object())}};
    nlohmann::json resources = nlohmann::json::object();
    std::error_code error;
    for (const auto& item : fs::directory_iterator(e.directory, error))
    {
        const std::string file = item.path().filename().string();
        if (file.rfind("logo-", 0) == 0)
        {
            resources[item.path().stem().string()] =
                base_url + "kernelspecs/" + e.name + "/" + file;
        }
        else if (file == "kernel.js" || file == "kernel.css")
        {
            resources[file] = base_url + "kernelspecs/" + e.name + "/" + file;
        }
    }
    return {{"name", e.name}, {"spec", spec}, {"resources", resources}};
}

std::optional<std::string> kernelspec_catalog::resource_path(const std::string& name,
                                                             const std::string& file) const
{
    const entry* e = find(name);
    if (e == nullptr || file.empty() || file.find('/') != std::string::npos || file[0] == '.')
    {
        return std::nullopt;
    }
    const fs::path path = fs::path(e->directory) / file;
    if (!fs::is_regular_file(path))
    {
        return std::nullopt;
    }
    return path.string();
}

} // namespace cellbox::gateway
