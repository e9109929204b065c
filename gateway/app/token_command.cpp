#include "app/token_command.hpp"

#include "auth/identity.hpp"
#include "auth/jwt.hpp"
#include "cellbox/byte_size.hpp"

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <utility>

namespace cellbox::gateway
{
namespace
{

struct token_request
{
    std::string user;
    std::string secret;
    double expires_in_s = 3600;
    std::optional<int> kernels;
    std::optional<double> cell_timeout_s;
    std::string memory;
    std::string disk;
};

int mint(const token_request& request)
{
    if (!valid_user_name(request.user))
    {
        std::cerr << "cellbox token: --user must be 1-64 of A-Z a-z 0-9 . _ @ - (not \"admin\")\n";
        return 2;
    }
    std::string secret = request.secret;
    for (const char* variable : {"CELLBOX_JWT_SECRET", "CELLBOX_TOKEN"})
    {
        const char* value = std::getenv(variable);
        if (secret.empty() && value != nullptr)
        {
            secret = value;
        }
    }
    if (secret.empty())
    {
        std::cerr << "cellbox token: give the server's --secret (or set CELLBOX_JWT_SECRET or "
                     "CELLBOX_TOKEN)\n";
        return 2;
    }
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    nlohmann::json claims = {{"sub", request.user},
                             {"iat", now},
                             {"exp", now + static_cast<std::int64_t>(request.expires_in_s)}};
    if (request.kernels)
    {
        claims["limits"]["kernels"] = *request.kernels;
    }
    if (request.cell_timeout_s)
    {
        claims["limits"]["cell_timeout"] = *request.cell_timeout_s;
    }
    for (const auto& [key, text] : {std::pair{"memory", &request.memory}, {"disk", &request.disk}})
    {
        if (text->empty())
        {
            continue;
        }
        try
        {
            claims["limits"][key] = parse_byte_size(*text);
        }
        catch (const std::invalid_argument& e)
        {
            std::cerr << "cellbox token: --" << key << ": " << e.what() << "\n";
            return 2;
        }
    }
    std::cout << sign_jwt(claims, secret) << std::endl;
    return 0;
}

} // namespace

void add_token_command(CLI::App& app)
{
    auto request = std::make_shared<token_request>();
    CLI::App* command = app.add_subcommand(
        "token", "Print a user's token (HS256 JWT signed with the server's secret)");
    command->add_option("--user", request->user, "The user (the token's sub)")->required();
    command->add_option("--secret", request->secret,
                        "The server's --jwt-secret (default: env CELLBOX_JWT_SECRET, else "
                        "CELLBOX_TOKEN, the admin token)");
    command->add_option("--expires-in", request->expires_in_s, "Seconds until it expires")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    command->add_option("--kernels", request->kernels, "The user's kernel quota")
        ->check(CLI::NonNegativeNumber);
    command
        ->add_option("--cell-timeout", request->cell_timeout_s,
                     "The user's cell time limit in seconds (default and cap)")
        ->check(CLI::PositiveNumber);
    command->add_option("--memory", request->memory, "The user's memory limit per kernel");
    command->add_option("--disk", request->disk, "The user's /work quota (below the server's)");
    command->callback([request] { std::exit(mint(*request)); });
}

} // namespace cellbox::gateway
