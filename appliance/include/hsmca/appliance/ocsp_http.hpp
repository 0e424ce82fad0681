#pragma once
// OCSP over HTTP (RFC 6960 A.1, RFC 5019 5 and 6): the GET form's encoding
// and the caching headers of a response.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "hsmca/token/session.hpp"

namespace hsmca::appliance {

// The DER OCSPRequest in a GET URL's last part: base64 of the DER, then
// URL-encoded ("%2B", "%2F", "%3D"). Clients differ: some leave '+' and '/'
// as they are (a '/' then splits the path), some use the URL-safe alphabet
// ('-', '_') or drop the padding. All of that is accepted. nullopt when it is
// not base64 after all.
std::optional<token::Bytes> decode_ocsp_get(std::string_view encoded);

// RFC 9110 5.6.7 IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT", for
// Last-Modified and Expires.
std::string http_date(std::chrono::system_clock::time_point when);

}  // namespace hsmca::appliance
