// A token as a request carries it (Authorization header or ?token=), through the
// authenticator: the JWT's structure, header, signature, claims and limits.
//
// Input: one mode byte, then the rest. Mode 0: the rest is the token. Mode 1: the rest is the
// claims JSON, signed correctly with the server's secret (what a SaaS backend that copies a
// user's data into a claim would sign). Mode 2: the rest is a header JSON, with honest claims,
// signed correctly: only the header's checks stand in the way.
#include "auth/identity.hpp"
#include "auth/jwt.hpp"
#include "fuzz_support.hpp"

#include <openssl/hmac.h>

using namespace cellbox::gateway;
using cellbox::fuzz::require;

namespace
{

const std::string secret = "fuzz-secret";

std::string sign(const std::string& head_json, const std::string& claims_json)
{
    const std::string input = base64url_encode(head_json) + "." + base64url_encode(claims_json);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest, &length);
    return input + "." +
           base64url_encode(std::string_view(reinterpret_cast<const char*>(digest), length));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size == 0)
    {
        return 0;
    }
    static const authenticator auth("admin-token", secret);
    const std::string rest(cellbox::fuzz::text_of(data + 1, size - 1));
    std::string token;
    switch (data[0] % 3)
    {
    case 0:
        token = rest;
        break;
    case 1:
        token = sign(R"({"alg":"HS256","typ":"JWT"})", rest);
        break;
    default:
        token = sign(rest, R"({"sub":"alice","exp":4102444800})");
        break;
    }
    const auto outcome = auth.authenticate(token);
    if (const auto* who = std::get_if<identity>(&outcome))
    {
        require(who->admin == (token == "admin-token"), "only the admin token is the admin");
        require(who->admin || valid_user_name(who->user), "a user has a valid name");
        require(!who->limits.kernels || *who->limits.kernels >= 0, "kernel limits are >= 0");
        require(!who->limits.cell_timeout_s || *who->limits.cell_timeout_s > 0,
                "cell timeouts are > 0");
    }
    else
    {
        const auto& failure = std::get<auth_failure>(outcome);
        require(failure.status == 401 || failure.status == 403, "a refusal is 401 or 403");
    }
    return 0;
}
