#include "api/one_shot.hpp"

#include "api/execute_api.hpp"
#include "api/execution_runner.hpp"
#include "api/kernel_start.hpp"
#include "telemetry/log.hpp"

#include <boost/beast/core/detail/base64.hpp>

namespace cellbox::gateway
{
namespace
{

namespace http = boost::beast::http;
using json = nlohmann::json;

std::string base64(const std::string& data)
{
    std::string out(boost::beast::detail::base64::encoded_size(data.size()), '\0');
    out.resize(boost::beast::detail::base64::encode(out.data(), data.data(), data.size()));
    return out;
}

// A cell writing `files` under /work in globals of its own (the user's namespace stays
// empty). The paths were checked (safe_relative_path); the kernel's sandbox confines it anyway.
std::string files_cell(const std::map<std::string, std::string>& files)
{
    const std::string script = "import base64, json, os\n"
                               "for path, text in json.loads(base64.b64decode('" +
                               base64(json(files).dump()) +
                               "')).items():\n"
                               "    full = os.path.join('/work', path)\n"
                               "    os.makedirs(os.path.dirname(full), exist_ok=True)\n"
                               "    with open(full, 'w') as f:\n"
                               "        f.write(text)\n";
    return "exec(__import__('base64').b64decode('" + base64(script) + "').decode(), {})";
}

} // namespace

void execute_one_shot(const std::shared_ptr<api_context>& ctx, http_call call)
{
    const auto format = negotiate_format(std::string(call.req[http::field::accept]));
    if (!format)
    {
        call.respond->send(error_response(
            call.req, http::status::not_acceptable,
            "Accept must allow application/json, application/x-ndjson or text/event-stream"));
        return;
    }
    execute_params params;
    try
    {
        params = parse_execute_request(call.req.body(), true);
    }
    catch (const execute_request_error& e)
    {
        log::warn("bad one-shot execute request", {{"user", call.who.user}, {"error", e.what()}});
        call.respond->send(error_response(call.req, http::status::bad_request, e.what()));
        return;
    }
    const std::string name = params.kernel.empty() ? ctx->options.default_kernel : params.kernel;
    auto files = std::move(params.files);
    start_kernel_for(
        *ctx, call.who, name, {},
        [ctx, who = call.who, req = std::move(call.req), respond = call.respond,
         params = std::move(params), files = std::move(files),
         format = *format](start_outcome outcome) mutable
        {
            if (!outcome.kernel_id)
            {
                respond->send(error_response(req, outcome.status, outcome.message));
                return;
            }
            const std::string kernel_id = *outcome.kernel_id;
            auto delete_kernel = [ctx, kernel_id]
            {
                log::info("one-shot kernel deleted", {{"kernel", kernel_id}});
                ctx->kernels.shutdown(kernel_id, [] {});
            };
            auto run = [ctx, kernel_id, who, req, respond, params = std::move(params), format,
                        delete_kernel]() mutable {
                run_and_follow(ctx, kernel_id, who, std::move(params), req, respond, format,
                               delete_kernel);
            };
            if (files.empty())
            {
                run();
                return;
            }
            execute_params write;
            write.code = files_cell(files);
            write.store_history = false;
            auto writer = std::make_shared<execution_runner>(ctx, kernel_id, who.user, write);
            if (!writer->start())
            {
                respond->send(error_response(req, http::status::internal_server_error,
                                             "the kernel went away before the files were "
                                             "written"));
                delete_kernel();
                return;
            }
            when_done(writer,
                      [req, respond, run, delete_kernel](const execution& written) mutable
                      {
                          if (written.status() == "ok")
                          {
                              run();
                              return;
                          }
                          const json error = written.result(false)["error"];
                          respond->send(error_response(
                              req, http::status::bad_request,
                              "files could not be written: " +
                                  (error.is_object() ? error.value("ename", std::string()) + ": " +
                                                           error.value("evalue", std::string())
                                                     : written.status())));
                          delete_kernel();
                      });
        });
}

} // namespace cellbox::gateway
