// A line of the zygote's control protocol, read as kernel/src/zygote.cpp's handle() reads it:
// contract::decode_zygote_request, then a spawn made into its session (session_of). Decoding
// never throws; a refusal is answered to the owner as {"error": ...} with the line's id.
#include "cellbox/kernel/zygote_request.hpp"
#include "fuzz_support.hpp"

using namespace cellbox::kernel;
namespace contract = cellbox::contract;
using cellbox::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const contract::zygote_request_read request =
        contract::decode_zygote_request(cellbox::fuzz::text_of(data, size));
    (void)contract::encode(contract::zygote_answer{request.id, false, {}, "x", {}}); // echoed
    if (!request.op)
    {
        require(!request.op.error().empty(), "a refusal says why");
        return 0;
    }
    const contract::zygote_op& op = *request.op;
    if (const auto* spawn = std::get_if<contract::zygote_spawn>(&op))
    {
        const auto uid = spawn->uid.value_or(100001);
        const spawn_request session =
            session_of(*spawn, cellbox::sandbox::policy{}, kernel_options{}, uid);
        require(session.sandbox.uid == uid, "the spawn runs as the uid asked for");
        require(session.script || !session.connection_file.empty(),
                "a kernel session has a connection file");
    }
    else if (const auto* go = std::get_if<contract::zygote_go>(&op))
    {
        require(go->pid > 0, "a pid names a process");
        (void)contract::encode(go->binding); // forwarded to the session
    }
    else
    {
        require(std::get<contract::zygote_kill>(op).pid > 0, "a pid names a process");
    }
    const contract::zygote_request_read again =
        contract::decode_zygote_request(contract::encode(contract::zygote_request{request.id, op}));
    require(again.op.ok() && *again.op == op && again.id == request.id,
            "what is accepted round-trips");
    return 0;
}
