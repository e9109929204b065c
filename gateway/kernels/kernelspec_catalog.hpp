#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace cellbox::gateway
{

// Kernelspecs the gateway can start: <dir>/kernels/<name>/kernel.json in each search
// directory (the first one found of a name wins), as jupyter_client finds them.
class kernelspec_catalog
{
public:
    struct entry
    {
        std::string name;
        std::string directory;
        nlohmann::json spec; // kernel.json
    };

    explicit kernelspec_catalog(std::vector<std::string> search_dirs);

    const entry* find(const std::string& name) const;
    const std::map<std::string, entry>& all() const { return m_entries; }

    // jupyter_server's kernelspec model: name, spec (argv with program names only), resources.
    nlohmann::json model(const entry& e, const std::string& base_url) const;
    // Path of a resource file of a kernelspec, if it exists (no path components allowed).
    std::optional<std::string> resource_path(const std::string& name,
                                             const std::string& file) const;

private:
    std::map<std::string, entry> m_entries;
};

} // namespace cellbox::gateway
