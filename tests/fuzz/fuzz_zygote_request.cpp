// A line of the zygote's control protocol, read as kernel/src/zygote.cpp's handle() reads it:
// parse_zygote_line, the op, then the op's own reader (spawn, go, kill). Every mistake must be
// an std::invalid_argument, answered to the owner as {"error": ...}.
#include "cellbox/kernel/zygote_request.hpp"
#include "fuzz_support.hpp"

using namespace cellbox::kernel;
using cellbox::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    try
    {
        const nlohmann::json request = parse_zygote_line(cellbox::fuzz::text_of(data, size));
        const nlohmann::json id = request.value("id", nlohmann::json());
        (void)id.dump(); // echoed in the answer
        const std::string op = request_op(request);
        if (op == "spawn")
        {
            const auto uid = requested_uid(request).value_or(100001);
            const spawn_request spawn =
                parse_spawn_request(request, cellbox::sandbox::policy{}, kernel_options{}, uid);
            require(spawn.sandbox.uid == uid, "the spawn runs as the uid asked for");
            require(spawn.script || !spawn.connection_file.empty(),
                    "a kernel session has a connection file");
        }
        else if (op == "go")
        {
            require(session_pid(request) > 0, "a pid names a process");
            (void)late_binding_of(request).dump();
        }
        else if (op == "kill")
        {
            require(session_pid(request) > 0, "a pid names a process");
        }
    }
    catch (const std::invalid_argument&)
    {
    }
    return 0;
}
