// The header limits of the gateway's HTTP front: which requests Beast refuses with the
// gateway's limit, and whether the answer is then 414 (the target) or 431 (the fields).
#include "http/http_util.hpp"

#include <boost/beast/http.hpp>
#include <catch2/catch.hpp>

using namespace cellbox::gateway;
namespace http = boost::beast::http;

namespace
{

struct header_read
{
    boost::beast::error_code error;
    std::string target;   // as far as the parser got
    std::string received; // what it left unconsumed
};

// Reads `request`'s header with the gateway's limit, given to the parser in pieces of `piece`
// bytes as a socket would (the parser consumes each complete line as it comes).
header_read read_header(const std::string& request, std::size_t piece)
{
    http::request_parser<http::empty_body> parser;
    parser.header_limit(max_header_bytes);
    header_read result;
    std::string pending;
    for (std::size_t at = 0; at < request.size() && !parser.is_header_done(); at += piece)
    {
        pending += request.substr(at, piece);
        const std::size_t used = parser.put(boost::asio::buffer(pending), result.error);
        pending.erase(0, used);
        if (result.error == http::error::need_more)
        {
            result.error = {};
        }
        if (result.error)
        {
            break;
        }
    }
    result.target = std::string(parser.get().target());
    result.received = pending;
    return result;
}

std::string get(const std::string& target, const std::string& fields = "")
{
    return "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + fields + "\r\n";
}

// The status an oversized `request` is answered with, or 0 if its header is within the limit.
unsigned status_of(const std::string& request, std::size_t piece)
{
    const header_read read = read_header(request, piece);
    if (!read.error)
    {
        return 0;
    }
    REQUIRE(read.error == http::error::header_limit);
    return static_cast<unsigned>(oversized_header_status(read.target, read.received));
}

} // namespace

TEST_CASE("an oversized header is 414 when its target is to blame, 431 when its fields are")
{
    const std::string junk = "X-Junk: " + std::string(10000, 'j') + "\r\n";
    for (const std::size_t piece : {std::size_t{1} << 20, std::size_t{1000}, std::size_t{7}})
    {
        CAPTURE(piece);
        // Within the limit: the gateway then checks the target's length itself.
        CHECK(status_of(get("/api/kernels/" + std::string(4000, 'a')), piece) == 0);
        CHECK(status_of(get("/api/kernels/" + std::string(8000, 'a')), piece) == 0);
        // The request line alone does not fit.
        CHECK(status_of(get("/api/kernels/" + std::string(100000, 'a')), piece) == 414);
        CHECK(status_of(get("/api", junk), piece) == 431);
        // A target over its own limit, then fields that fill the header.
        CHECK(status_of(get("/" + std::string(max_target_bytes, 'a'), junk), piece) == 414);
        CHECK(status_of(get("/" + std::string(max_target_bytes - 1, 'a'), junk), piece) == 431);
    }
}

TEST_CASE("without a parsed target, the target is the request line's at the front of the bytes")
{
    const std::string long_target(max_target_bytes + 1, 'a');
    CHECK(oversized_header_status("", "GET /" + long_target) == http::status::uri_too_long);
    CHECK(oversized_header_status("", get("/x" + long_target)) == http::status::uri_too_long);
    CHECK(oversized_header_status("", get("/x")) == http::status::request_header_fields_too_large);
    CHECK(oversized_header_status("", long_target + "\r\n") == http::status::uri_too_long);
    CHECK(oversized_header_status("", "GARBAGE\r\n" + long_target) ==
          http::status::request_header_fields_too_large);
    // A parsed target decides, whatever the bytes left.
    CHECK(oversized_header_status(long_target, "X-Junk: j") == http::status::uri_too_long);
    CHECK(oversized_header_status("/x", long_target) ==
          http::status::request_header_fields_too_large);
}
