#include "api/execute_api.hpp"

#include "api/execution_registry.hpp"
#include "api/execution_runner.hpp"
#include "api/execution_stream.hpp"
#include "api/one_shot.hpp"
#include "telemetry/log.hpp"

namespace cellbox::gateway
{
namespace
{

namespace http = boost::beast::http;
using verb = http::verb;

constexpr const char* one_kernel = R"(/api/kernels/{kernel_id:\w+-\w+-\w+-\w+-\w+})";
constexpr const char* one_execution = R"(/executions/{execution_id:[0-9a-f]{32}})";

bool owns_kernel(api_context& ctx, const http_call& call)
{
    const std::string& id = call.captures["kernel_id"];
    if (ctx.kernels.find(id, call.who) == nullptr)
    {
        // Another user's kernel is not found either: ids are not confirmed.
        call.respond->send(
            error_response(call.req, http::status::not_found, "Kernel does not exist: " + id));
        return false;
    }
    return true;
}

std::optional<stream_format> format_of(const http_call& call)
{
    const auto format = negotiate_format(std::string(call.req[http::field::accept]));
    if (!format)
    {
        log::warn("execute request with an Accept header we cannot answer",
                  {{"accept", std::string(call.req[http::field::accept]).substr(0, 200)}});
        call.respond->send(error_response(
            call.req, http::status::not_acceptable,
            "Accept must allow application/json, application/x-ndjson or text/event-stream"));
    }
    return format;
}

std::chrono::milliseconds keepalive_of(const api_context& ctx)
{
    return std::chrono::milliseconds(
        static_cast<long long>(ctx.options.execute_keepalive_s * 1000));
}

void execute(const std::shared_ptr<api_context>& ctx, http_call call)
{
    if (!owns_kernel(*ctx, call))
    {
        return;
    }
    const auto format = format_of(call);
    if (!format)
    {
        return;
    }
    const std::string kernel_id = call.captures["kernel_id"];
    execute_params params;
    try
    {
        params = parse_execute_request(call.req.body(), false);
    }
    catch (const execute_request_error& e)
    {
        log::warn("bad execute request",
                  {{"kernel", kernel_id}, {"user", call.who.user}, {"error", e.what()}});
        call.respond->send(error_response(call.req, http::status::bad_request, e.what()));
        return;
    }
    run_and_follow(ctx, kernel_id, call.who, std::move(params), std::move(call.req),
                   std::move(call.respond), *format, nullptr);
}

void follow(const std::shared_ptr<api_context>& ctx, http_call call)
{
    if (!owns_kernel(*ctx, call))
    {
        return;
    }
    const std::string& kernel_id = call.captures["kernel_id"];
    const std::string& execution_id = call.captures["execution_id"];
    const auto run = ctx->executions->find(kernel_id, execution_id);
    if (run == nullptr)
    {
        call.respond->send(error_response(call.req, http::status::not_found,
                                          "Execution does not exist: " + execution_id));
        return;
    }
    if (call.req.method() == verb::delete_)
    {
        run->interrupt();
        call.respond->send(empty_response(call.req, http::status::no_content));
        return;
    }
    const auto format = format_of(call);
    if (!format)
    {
        return;
    }
    // Where to resume: ?from=N (the first event wanted), or an SSE client's Last-Event-ID
    // (the last event it got).
    std::size_t from = 0;
    try
    {
        const std::string target(call.req.target());
        const std::string from_query = query_parameter(target, "from");
        const std::string last_id(call.req["Last-Event-ID"]);
        if (!from_query.empty())
        {
            from = std::stoul(from_query);
        }
        else if (!last_id.empty())
        {
            from = std::stoul(last_id) + 1;
        }
    }
    catch (const std::exception&)
    {
        log::warn("bad execution resume point",
                  {{"kernel", kernel_id}, {"user", call.who.user}, {"execution", execution_id}});
        call.respond->send(error_response(call.req, http::status::bad_request,
                                          "from and Last-Event-ID must be event numbers"));
        return;
    }
    follow_options options;
    options.format = *format;
    options.from = std::min(from, run->model().events().size());
    options.keepalive = keepalive_of(*ctx);
    follow_execution(run, std::move(call.respond),
                     ctx->options.base_url + "api/kernels/" + kernel_id + "/executions/" +
                         execution_id,
                     std::move(options));
}

} // namespace

void run_and_follow(const std::shared_ptr<api_context>& ctx, const std::string& kernel_id,
                    const identity& who, execute_params params, const http_request& req,
                    std::shared_ptr<responder> respond, stream_format format,
                    std::function<void()> on_over)
{
    auto run = std::make_shared<execution_runner>(ctx, kernel_id, who.user, std::move(params));
    if (!ctx->executions->add(run))
    {
        log::warn("execution refused: the kernel keeps too many running",
                  {{"kernel", kernel_id}, {"user", who.user}});
        respond->send(error_response(req, http::status::too_many_requests,
                                     "the kernel already has " +
                                         std::to_string(ctx->executions->max_per_kernel()) +
                                         " executions running; wait for one to end"));
        if (on_over)
        {
            on_over();
        }
        return;
    }
    if (!run->start())
    {
        ctx->executions->forget(kernel_id, run->id());
        respond->send(
            error_response(req, http::status::not_found, "Kernel does not exist: " + kernel_id));
        if (on_over)
        {
            on_over();
        }
        return;
    }
    log::info("execution started",
              {{"kernel", kernel_id}, {"execution", run->id()}, {"user", who.user}});
    follow_options options;
    options.format = format;
    options.keepalive = keepalive_of(*ctx);
    options.on_client_gone = [weak = std::weak_ptr<execution_runner>(run)]
    {
        if (auto alive = weak.lock())
        {
            alive->client_left();
        }
    };
    options.on_over = std::move(on_over);
    follow_execution(run, std::move(respond),
                     ctx->options.base_url + "api/kernels/" + kernel_id + "/executions/" +
                         run->id(),
                     std::move(options));
}

void add_execute_api(router& routes, const std::shared_ptr<api_context>& ctx)
{
    routes.add({verb::post}, std::string(one_kernel) + "/execute",
               activity(ctx, [ctx](http_call call) { execute(ctx, std::move(call)); }));
    routes.add({verb::get, verb::delete_}, std::string(one_kernel) + one_execution,
               activity(ctx, [ctx](http_call call) { follow(ctx, std::move(call)); }));
    routes.add({verb::post}, "/api/execute",
               activity(ctx, [ctx](http_call call) { execute_one_shot(ctx, std::move(call)); }));
}

} // namespace cellbox::gateway
