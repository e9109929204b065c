// The JWKS reader (--jwks-file, read at start and on SIGHUP): any document either gives keys
// OpenSSL accepted, each RS256 or ES256 with a PEM libjwt can load, or a std::runtime_error
// (the gateway refuses to start, or keeps its keys on a reload); never another exception.
#include "auth/jwt_keys.hpp"
#include "fuzz_support.hpp"

#include <stdexcept>

using namespace cellbox::gateway;
using cellbox::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    try
    {
        const auto keys = parse_jwks(std::string(cellbox::fuzz::text_of(data, size)));
        require(!keys.empty(), "a JWKS that loads has a key");
        for (const auto& k : keys)
        {
            require(k.alg == "RS256" || k.alg == "ES256", "keys are RS256 or ES256");
            require(k.pem.rfind("-----BEGIN PUBLIC KEY-----", 0) == 0, "keys are PEM");
        }
    }
    catch (const std::runtime_error&)
    {
        // Refused with a reason.
    }
    return 0;
}
