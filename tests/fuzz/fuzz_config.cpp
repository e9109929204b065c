// `cellbox serve --config FILE`: the TOML reader of the gateway's settings, then the checks of
// finish_settings. Every mistake must be a config_error naming the key, nothing else.
#include "app/config.hpp"
#include "fuzz_support.hpp"

using namespace cellbox::gateway;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    serve_settings settings;
    try
    {
        apply_config_text(settings, std::string(cellbox::fuzz::text_of(data, size)), "fuzz.toml");
        finish_settings(settings);
    }
    catch (const config_error&)
    {
    }
    return 0;
}
