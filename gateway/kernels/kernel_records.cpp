#include "kernels/kernel_records.hpp"

#include "cellbox/bounded_json.hpp"
#include "kernels/hibernation_store.hpp"
#include "telemetry/log.hpp"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace cellbox::gateway
{
namespace
{

// Lost ids are kept across restarts so that they keep answering with their reason, up to
// this many (the oldest go first).
constexpr std::size_t max_lost = 10000;

} // namespace

std::string records_path(const std::string& state_dir)
{
    return state_dir + "/kernels.json";
}

kernel_records load_kernel_records(const std::string& state_dir)
{
    kernel_records records;
    std::ifstream in(records_path(state_dir));
    if (state_dir.empty() || !in)
    {
        return records;
    }
    const nlohmann::json doc = parse_json_bounded(in);
    if (!doc.is_object())
    {
        log::warn("kernel records unreadable, ignored", {{"path", records_path(state_dir)}});
        return records;
    }
    try
    {
        for (const auto& k : doc.value("kernels", nlohmann::json::array()))
        {
            saved_kernel saved;
            saved.id = k.at("id").get<std::string>();
            if (!valid_image_id(saved.id))
            {
                continue;
            }
            saved.name = k.at("name").get<std::string>();
            saved.owner = k.at("owner").get<std::string>();
            saved.memory_bytes = k.value("memory_bytes", std::uint64_t{0});
            saved.cell_timeout_s = k.value("cell_timeout_s", 0.0);
            saved.cell_timeout_cap_s = k.value("cell_timeout_cap_s", 0.0);
            saved.env = k.value("env", std::map<std::string, std::string>{});
            saved.hibernated = k.value("hibernated", false);
            records.kernels.push_back(std::move(saved));
        }
        // Named: items() of a temporary would outlive it in the loop (a use after scope).
        const nlohmann::json lost_kernels = doc.value("lost", nlohmann::json::object());
        for (const auto& [id, lost] : lost_kernels.items())
        {
            records.lost[id] = {lost.at("owner").get<std::string>(),
                                lost.at("reason").get<std::string>()};
        }
    }
    catch (const nlohmann::json::exception& e)
    {
        log::warn("kernel records malformed, ignored",
                  {{"path", records_path(state_dir)}, {"error", e.what()}});
        return {};
    }
    return records;
}

std::string encode_kernel_records(const kernel_records& records)
{
    nlohmann::json kernels = nlohmann::json::array();
    for (const auto& k : records.kernels)
    {
        kernels.push_back({{"id", k.id},
                           {"name", k.name},
                           {"owner", k.owner},
                           {"memory_bytes", k.memory_bytes},
                           {"cell_timeout_s", k.cell_timeout_s},
                           {"cell_timeout_cap_s", k.cell_timeout_cap_s},
                           {"env", k.env},
                           {"hibernated", k.hibernated}});
    }
    nlohmann::json lost = nlohmann::json::object();
    std::size_t skip = records.lost.size() > max_lost ? records.lost.size() - max_lost : 0;
    for (const auto& [id, why] : records.lost)
    {
        if (skip > 0)
        {
            --skip;
            continue;
        }
        lost[id] = {{"owner", why.owner}, {"reason", why.reason}};
    }
    return nlohmann::json{{"kernels", kernels}, {"lost", lost}}.dump();
}

} // namespace cellbox::gateway
