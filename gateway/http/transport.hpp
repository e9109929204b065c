#pragma once
// The two transports of the gateway's sessions. The HTTP and WebSocket sessions are templates
// over them, so plain and TLS connections share every line of protocol code.
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <type_traits>

namespace cellbox::gateway
{

using plain_stream = boost::beast::tcp_stream;
using tls_stream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

template <class Stream> constexpr bool is_tls_stream = std::is_same_v<Stream, tls_stream>;

} // namespace cellbox::gateway
