// The execute API's parsers of untrusted bytes: a client's request body
// (parse_execute_request, safe_relative_path) and a kernel's messages as the execution model
// reads them (execution::on_message, with small budgets so that cuts happen). Input: the
// body, then NUL-separated message fields (channel, header, content, metadata), repeated.
#include "executions/execute_request.hpp"
#include "executions/execution.hpp"
#include "fuzz_support.hpp"

#include <cmath>

using namespace cellbox;
using cellbox::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const auto fields = fuzz::split_fields(fuzz::text_of(data, size));
    for (const bool one_shot : {false, true})
    {
        try
        {
            const auto params = gateway::parse_execute_request(fields[0], one_shot);
            require(!params.timeout || (std::isfinite(*params.timeout) && *params.timeout > 0),
                    "an accepted timeout is a positive number");
            require(!params.stdin_lines || params.stdin_lines->size() <= gateway::max_stdin_lines,
                    "stdin is bounded");
            require(params.files.size() <= gateway::max_files, "files are bounded");
            for (const auto& [path, text] : params.files)
            {
                require(gateway::safe_relative_path(path), "accepted paths stay under /work");
                require(path.find("..") == std::string::npos ||
                            path.find("/../") == std::string::npos,
                        "no parent segment");
            }
            require(one_shot || params.files.empty(), "files only in one-shot requests");
        }
        catch (const gateway::execute_request_error&)
        {
            // The 400 the API answers with.
        }
    }
    gateway::execution model("id", "parent", gateway::output_budget(64, 64));
    for (std::size_t i = 1; i + 3 < fields.size(); i += 4)
    {
        gateway::kernel_message message{fields[i],     fields[i + 1], R"({"msg_id":"parent"})",
                                        fields[i + 3], fields[i + 2], {}};
        model.on_message(message);
    }
    model.end_died("KernelDied", "fuzz");
    require(model.done(), "an execution that was ended is done");
    require(model.events().back().type == "done", "the last event is done");
    const auto result = model.result(true);
    require(result["stdout"].get<std::string>().size() +
                    result["stderr"].get<std::string>().size() <
                64 * 2 + 200,
            "stream text stays within the budget and its markers");
    return 0;
}
