#include "api/api_context.hpp"

#include "api/execution_registry.hpp"
#include "protocol/message_builder.hpp"

namespace cellbox::gateway
{

// Two: one large file at a time does not queue every other user's small ones behind it.
constexpr std::size_t file_io_threads = 2;

std::shared_ptr<api_context> make_api_context(boost::asio::io_context& io,
                                              const server_options& options,
                                              const kernelspec_catalog& specs,
                                              kernel_manager& kernels)
{
    auto ctx = std::make_shared<api_context>(
        api_context{options,
                    specs,
                    kernels,
                    {},
                    iso8601_now(),
                    std::string(),
                    cors_policy(options.allow_origin),
                    io,
                    std::make_shared<execution_registry>(options.max_executions_per_kernel),
                    std::make_shared<boost::asio::thread_pool>(file_io_threads)});
    if (!kernels.state_dir().empty())
    {
        // Sessions of kernels that came back hibernated from the previous gateway stay.
        ctx->sessions.keep_in(
            kernels.state_dir() + "/sessions.json",
            [&kernels](const std::string& id) { return kernels.find(id) != nullptr; },
            kernels.state_files());
    }
    kernels.on_removed(
        [weak = std::weak_ptr<api_context>(ctx)](const std::string& kernel_id)
        {
            if (auto alive = weak.lock())
            {
                alive->sessions.remove_kernel(kernel_id);
                alive->executions->remove_kernel(kernel_id);
            }
        });
    return ctx;
}

http_handler activity(const std::shared_ptr<api_context>& ctx, http_handler handler)
{
    return [ctx, handler = std::move(handler)](http_call call)
    {
        ctx->last_activity = iso8601_now();
        handler(std::move(call));
    };
}

} // namespace cellbox::gateway
