#include "api/mcp_tools.hpp"

#include "api/execution_registry.hpp"
#include "api/execution_runner.hpp"
#include "executions/output_budget.hpp"
#include "files/work_tree.hpp"
#include "mcp/tools.hpp"
#include "telemetry/log.hpp"

#include <boost/asio/steady_timer.hpp>

namespace cellbox::gateway
{
namespace
{

using json = nlohmann::json;

// A model's context is small: the execute API's budgets, lowered for MCP answers.
constexpr std::size_t mcp_text_budget = 64 * 1024;
constexpr std::size_t mcp_image_budget = 4 * 1024 * 1024;
// While a cell is silent, a progress notification this often (for clients with a progressToken).
constexpr auto progress_every = std::chrono::seconds(5);

std::string replaced_note(const mcp_service::kernel_outcome& kernel)
{
    return kernel.replaced ? "[note] the session's previous kernel was gone (culled or shut "
                             "down): this ran in a new kernel, earlier variables are lost\n"
                           : "";
}

// Ticks while a cell runs, so that a client waiting with a progressToken hears of it.
class progress_ticker : public std::enable_shared_from_this<progress_ticker>
{
public:
    progress_ticker(boost::asio::io_context& io, std::function<void()> tick)
        : m_timer(io), m_tick(std::move(tick))
    {
    }
    void arm()
    {
        m_timer.expires_after(progress_every);
        m_timer.async_wait(
            [weak = weak_from_this()](const boost::system::error_code& error)
            {
                if (auto self = weak.lock(); self && !error)
                {
                    self->m_tick();
                    self->arm();
                }
            });
    }
    void stop() { m_timer.cancel(); }

private:
    boost::asio::steady_timer m_timer;
    std::function<void()> m_tick;
};

// Sends the cell once the kernel is there; the answer goes to call.done when it ends.
void start_cell(const std::shared_ptr<mcp_service>& service, const mcp_tool_call& call,
                const mcp::execute_code_args& args, const mcp_service::kernel_outcome& kernel)
{
    if (!kernel.kernel_id)
    {
        call.done(mcp::text_result("no kernel: " + kernel.error, true));
        return;
    }
    const auto ctx = service->shared_ctx();
    execute_params params;
    params.code = args.code;
    params.timeout = args.timeout;
    params.max_output_bytes = mcp_text_budget;
    params.max_image_bytes = mcp_image_budget;
    auto run = std::make_shared<execution_runner>(ctx, *kernel.kernel_id, call.who.user,
                                                  std::move(params));
    if (!ctx->executions->add(run))
    {
        call.done(mcp::text_result("the kernel already runs " +
                                       std::to_string(ctx->executions->max_per_kernel()) +
                                       " executions; wait for one to end",
                                   true));
        return;
    }
    if (!run->start())
    {
        ctx->executions->forget(*kernel.kernel_id, run->id());
        call.done(mcp::text_result("the kernel went away before the cell started", true));
        return;
    }
    service->track(call.session_id, call.request, run);
    log::info("MCP execute_code started", {{"session", call.session_id},
                                           {"kernel", *kernel.kernel_id},
                                           {"execution", run->id()},
                                           {"user", call.who.user}});
    std::shared_ptr<progress_ticker> ticker;
    const auto started = std::chrono::steady_clock::now();
    if (call.progress)
    {
        ticker = std::make_shared<progress_ticker>(
            ctx->io,
            [progress = call.progress, started, weak = std::weak_ptr(run)]
            {
                auto alive = weak.lock();
                const auto seconds =
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - started)
                        .count();
                progress(seconds,
                         "running for " + std::to_string(static_cast<long>(seconds)) + " s" +
                             (alive ? ", " + std::to_string(alive->model().events().size()) +
                                          " outputs so far"
                                    : std::string()));
            });
        ticker->arm();
    }
    auto on_change = [progress = call.progress, started](const execution& model)
    {
        if (progress && !model.events().empty())
        {
            const auto seconds =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
            progress(seconds, "output: " + model.events().back().type);
        }
    };
    when_done(
        run,
        [service, call, ticker, note = replaced_note(kernel)](const execution& model)
        {
            service->untrack(call.session_id, call.request);
            if (ticker)
            {
                ticker->stop();
            }
            json result = mcp::execute_code_result(model.result(true));
            if (!note.empty())
            {
                result["content"][0]["text"] =
                    note + result["content"][0]["text"].get<std::string>();
            }
            call.done(std::move(result));
        },
        on_change);
}

void execute_code(const std::shared_ptr<mcp_service>& service, mcp_tool_call call,
                  const mcp::execute_code_args& args)
{
    service->with_kernel(call.session_id, call.who,
                         [service, call, args](mcp_service::kernel_outcome kernel) mutable
                         {
                             // One cell of the session at a time: a cell sent while the one before
                             // ends in an error (a cancelled call's KeyboardInterrupt) would be
                             // aborted by the kernel.
                             if (auto previous = service->running(call.session_id))
                             {
                                 when_done(previous, [service, call, args, kernel](const execution&)
                                           { start_cell(service, call, args, kernel); });
                                 return;
                             }
                             start_cell(service, call, args, kernel);
                         });
}

void restart_kernel(const std::shared_ptr<mcp_service>& service, mcp_tool_call call)
{
    service->with_kernel(
        call.session_id, call.who,
        [service, call](mcp_service::kernel_outcome kernel)
        {
            if (!kernel.kernel_id)
            {
                call.done(mcp::text_result("no kernel: " + kernel.error, true));
                return;
            }
            if (kernel.replaced)
            {
                call.done(mcp::text_result("the kernel was started afresh", false));
                return;
            }
            log::info("MCP restart_kernel",
                      {{"session", call.session_id}, {"kernel", *kernel.kernel_id}});
            service->ctx().kernels.restart(
                *kernel.kernel_id,
                [call](bool ok)
                {
                    call.done(ok ? mcp::text_result("the kernel was restarted: variables, imports "
                                                    "and definitions are gone; files stay",
                                                    false)
                                 : mcp::text_result("the kernel could not be restarted", true));
                });
        });
}

// "name/  (directory)", "name  1234 bytes  2026-01-01T00:00:00Z"
std::string listing_text(const json& model)
{
    std::string text = "/work/" + model.value("path", "") + ":\n";
    const json& entries = model["content"];
    if (!entries.is_array() || entries.empty())
    {
        return text + "(empty)\n";
    }
    for (const auto& entry : entries)
    {
        const std::string type = entry.value("type", "");
        text += entry.value("name", "") + (type == "directory" ? "/" : "");
        if (type != "directory" && entry.contains("size") && entry["size"].is_number())
        {
            text += "  " + std::to_string(entry["size"].get<long long>()) + " bytes";
        }
        text += "  " + entry.value("last_modified", "") + "\n";
    }
    return text;
}

json file_tool(api_context& ctx, const mcp_tool_call& call)
{
    const auto home = ctx.kernels.home_of(call.who);
    work_tree tree(home.workdir, home.uid, ctx.options.max_message_bytes);
    if (call.name == "list_files")
    {
        const auto args = mcp::parse_path(call.arguments, false);
        const json model = tree.get(content_path::from_api(mcp::work_relative(args.path)),
                                    {std::string("directory"), std::nullopt, true});
        json result = mcp::text_result(listing_text(model), false);
        return result;
    }
    if (call.name == "read_file")
    {
        const auto args = mcp::parse_path(call.arguments, true);
        const json model = tree.get(content_path::from_api(mcp::work_relative(args.path)),
                                    {std::string("file"), std::nullopt, true});
        const std::string content = model.value("content", "");
        if (model.value("format", "") == "text")
        {
            // The model's context, not the file, is the limit: cut in the middle as outputs are.
            std::size_t cut = 0;
            return mcp::text_result(cut_middle(content, mcp_text_budget, cut), false);
        }
        if (model.value("mimetype", "") == "image/png" && content.size() <= mcp_image_budget)
        {
            return {
                {"content",
                 json::array({{{"type", "image"}, {"data", content}, {"mimeType", "image/png"}}})},
                {"isError", false}};
        }
        return mcp::text_result("/work/" + model.value("path", "") + " is a binary file (" +
                                    model.value("mimetype", "unknown type") + ", " +
                                    std::to_string(model.value("size", 0LL)) +
                                    " bytes); read it with execute_code",
                                false);
    }
    const auto args = mcp::parse_write_file(call.arguments);
    const saved_model saved =
        tree.save(content_path::from_api(mcp::work_relative(args.path)),
                  {{"type", "file"}, {"format", "text"}, {"content", args.content}});
    return mcp::text_result(std::string(saved.created ? "created" : "replaced") + " /work/" +
                                saved.model.value("path", "") + " (" +
                                std::to_string(saved.model.value("size", 0LL)) + " bytes)",
                            false);
}

} // namespace

void run_mcp_tool(const std::shared_ptr<mcp_service>& service, mcp_tool_call call)
{
    // Argument errors and refused paths are tool results with isError: the model reads them.
    const auto refuse = [&](const std::string& message)
    {
        log::warn("MCP tool call refused", {{"session", call.session_id},
                                            {"user", call.who.user},
                                            {"tool", call.name},
                                            {"reason", message}});
        call.done(mcp::text_result(message, true));
    };
    try
    {
        if (call.name == "execute_code")
        {
            const auto args = mcp::parse_execute_code(call.arguments);
            execute_code(service, std::move(call), args);
            return;
        }
        if (call.name == "restart_kernel")
        {
            mcp::parse_no_arguments(call.arguments);
            restart_kernel(service, std::move(call));
            return;
        }
        call.done(file_tool(service->ctx(), call));
    }
    catch (const mcp::tool_argument_error& e)
    {
        refuse(e.what());
    }
    catch (const content_path_error& e)
    {
        refuse(std::string("bad path: ") + e.what());
    }
    catch (const contents_error& e)
    {
        refuse(e.what());
    }
    catch (const std::exception& e)
    {
        log::error("MCP tool failed",
                   {{"session", call.session_id}, {"tool", call.name}, {"error", e.what()}});
        refuse("the tool failed unexpectedly");
    }
}

} // namespace cellbox::gateway
