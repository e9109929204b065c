#include "api/static_api.hpp"

#include "http/static_path.hpp"
#include "telemetry/log.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

namespace cellbox::gateway
{
namespace
{

namespace http = boost::beast::http;
namespace fs = std::filesystem;
using verb = http::verb;

// Static files are read whole per request: the largest (the widget) is a few hundred KB.
// Anything far larger placed there by mistake is refused rather than held in memory.
constexpr std::uintmax_t max_static_file_bytes = std::uintmax_t(16) << 20;

// The regular file `relative` names below `root`, symlinks resolved; nothing when it does
// not exist, is a directory, or resolves outside `root`.
std::optional<fs::path> resolve(const std::string& root, const std::string& relative)
{
    std::error_code error;
    const fs::path base = fs::canonical(root, error);
    if (error)
    {
        return std::nullopt;
    }
    const fs::path full = fs::canonical(base / relative, error);
    if (error)
    {
        return std::nullopt;
    }
    const auto [in_base, in_full] =
        std::mismatch(base.begin(), base.end(), full.begin(), full.end());
    if (in_base != base.end() || !fs::is_regular_file(full, error))
    {
        return std::nullopt;
    }
    return full;
}

// Size and modification time: changes whenever `make build` rewrites the file.
std::string etag_of(const fs::path& file, std::uintmax_t size)
{
    std::error_code error;
    const auto mtime = fs::last_write_time(file, error).time_since_epoch().count();
    char text[64];
    std::snprintf(text, sizeof text, "\"%jx-%llx\"", size, static_cast<unsigned long long>(mtime));
    return text;
}

void not_found(const http_call& call, const std::string& why)
{
    log::info("static file not served", {{"reason", why}});
    call.respond->send(error_response(call.req, http::status::not_found, why));
}

bool accepts_gzip(const http_request& req)
{
    const auto accepted = req[http::field::accept_encoding];
    return accepted.find("gzip") != boost::beast::string_view::npos;
}

// `file`, or its precompressed copy `file`.gz (the build writes one for the widget) to a
// client that accepts gzip.
void send_file(const http_call& call, const fs::path& file, const std::optional<fs::path>& gzipped)
{
    const bool compressed = gzipped && accepts_gzip(call.req);
    const fs::path& sent = compressed ? *gzipped : file;
    std::error_code error;
    const auto size = fs::file_size(sent, error);
    if (error || size > max_static_file_bytes)
    {
        not_found(call, "the static file cannot be served");
        return;
    }
    const std::string relative = file.filename().string();
    const bool page = static_content_type(relative).rfind("text/html", 0) == 0;
    const std::string etag = etag_of(sent, size);
    http_response res{http::status::ok, call.req.version()};
    res.set(http::field::content_type, static_content_type(relative));
    res.set(http::field::etag, etag);
    if (gzipped)
    {
        res.set(http::field::vary, "Accept-Encoding");
    }
    if (compressed)
    {
        res.set(http::field::content_encoding, "gzip");
    }
    // Pages revalidate every time (they name the widget's version); the rest may be reused
    // for a few minutes, then revalidated through the ETag.
    res.set(http::field::cache_control, page ? "no-cache" : "public, max-age=300");
    res.set("X-Content-Type-Options", "nosniff");
    // The landing page's URL carries ?token=: never sent on to anything it links to.
    res.set("Referrer-Policy", "no-referrer");
    res.keep_alive(call.req.keep_alive());
    if (call.req[http::field::if_none_match] == etag)
    {
        res.result(http::status::not_modified);
        call.respond->send(std::move(res));
        return;
    }
    if (call.req.method() == verb::head)
    {
        res.content_length(size);
        call.respond->send(std::move(res));
        return;
    }
    std::ifstream in(sent, std::ios::binary);
    std::ostringstream data;
    data << in.rdbuf();
    if (!in)
    {
        not_found(call, "the static file cannot be read");
        return;
    }
    res.body() = data.str();
    res.prepare_payload();
    call.respond->send(std::move(res));
}

void serve(const api_context& ctx, const http_call& call, const std::string& raw)
{
    if (ctx.options.static_dir.empty())
    {
        not_found(call, "no static files are served (static_dir is not set)");
        return;
    }
    const static_path path = parse_static_path(raw);
    if (!path.error.empty())
    {
        log::warn("static file request refused", {{"reason", path.error}});
        call.respond->send(error_response(call.req, http::status::bad_request, path.error));
        return;
    }
    const auto file = resolve(ctx.options.static_dir, path.relative);
    if (!file)
    {
        not_found(call, "no such static file");
        return;
    }
    send_file(call, *file, resolve(ctx.options.static_dir, path.relative + ".gz"));
}

} // namespace

void add_static_api(router& routes, const std::shared_ptr<api_context>& ctx)
{
    // The printed URL, {base_url}?token=...: the landing page reads the token itself.
    routes.add_public({verb::get, verb::head}, "/",
                      [ctx](http_call call) { serve(*ctx, call, "landing/index.html"); });
    routes.add_public({verb::get, verb::head}, "/static/{file:.*}",
                      [ctx](http_call call)
                      {
                          const std::string raw = call.captures["file"];
                          serve(*ctx, call, raw);
                      });
}

} // namespace cellbox::gateway
