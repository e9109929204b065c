#include "runner/file_upload.hpp"

#include <array>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>

namespace cellbox::gateway::runner
{
namespace
{

std::string base64(const std::string& bytes)
{
    std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
    const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                        reinterpret_cast<const unsigned char*>(bytes.data()),
                                        static_cast<int>(bytes.size()));
    out.resize(static_cast<std::size_t>(written));
    return out;
}

} // namespace

std::string path_segment(const std::string& name)
{
    std::string out;
    for (const char ch : name)
    {
        const auto c = static_cast<unsigned char>(ch);
        if (std::isalnum(c) != 0 || ch == '-' || ch == '.' || ch == '_' || ch == '~')
        {
            out += ch;
        }
        else
        {
            std::array<char, 4> hex{};
            std::snprintf(hex.data(), hex.size(), "%%%02X", c);
            out += hex.data();
        }
    }
    return out;
}

void upload_files(const client::http_client& client, const std::vector<std::string>& paths)
{
    for (const auto& path : paths)
    {
        std::ifstream in(path, std::ios::binary);
        if (!in || !std::filesystem::is_regular_file(path))
        {
            throw upload_error("--files: cannot read " + path + " (a regular file)");
        }
        const std::string bytes{std::istreambuf_iterator<char>(in), {}};
        const std::string name = std::filesystem::path(path).filename().string();
        const nlohmann::json body = {
            {"type", "file"}, {"format", "base64"}, {"content", base64(bytes)}};
        const client::response answer =
            client.request(client::verb::put, "api/contents/" + path_segment(name), body.dump());
        if (answer.result_int() != 200 && answer.result_int() != 201)
        {
            throw client::gateway_error("--files: the gateway refused " + path + " (HTTP " +
                                        std::to_string(answer.result_int()) +
                                        "): " + client::error_text(answer));
        }
    }
}

} // namespace cellbox::gateway::runner
