#pragma once
// How the server reads a request off a connection, apart from the socket:
// the parser's limits and the framing it refuses. server.cpp and the HTTP
// fuzz target (tests/fuzz/http_request_fuzz.cpp) share it, so what is fuzzed
// is what the server accepts.
#include <boost/beast/http.hpp>

#include "hsmca/appliance/config.hpp"

namespace hsmca::appliance {

// A fresh parser for one request, with the configured body and header limits.
void limit_parser(boost::beast::http::request_parser<boost::beast::http::string_body>& parser,
                  const ApplianceConfig& config);

// RFC 9112 6.1: a request's body length follows from Transfer-Encoding only
// when chunked is its final coding, and this server decodes no other, so the
// field must say chunked alone. Beast reads any other value ("xchunked",
// "chunked, identity") as no body at all, and the body would be parsed as a
// second request: smuggled past whatever sits in front. HTTP/1.0 has no
// transfer codings (6.1: its framing is faulty).
bool framing_is_faulty(const boost::beast::http::request<boost::beast::http::string_body>& request);

}  // namespace hsmca::appliance
