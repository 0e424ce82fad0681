#pragma once
// RFC 7030 (EST) encodings: certs-only PKCS#7 and the base64 bodies.
#include <openssl/x509.h>

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hsmca/token/session.hpp"

namespace hsmca::appliance {

// A degenerate CMS SignedData ("certs-only", RFC 7030 4.1.3 / 4.2.3, RFC 5652
// 5.2: id-data with no eContent, no signers) holding `certs` (DER) in order,
// byte for byte what OpenSSL's i2d_PKCS7 writes: written directly, so a
// certificate that was just assembled need not be parsed to be sent.
token::Bytes certs_only_from_der(const std::vector<std::span<const unsigned char>>& certs);

// Base64 as RFC 4648 4 has it, on one line without line breaks: what RFC 8951
// (updating RFC 7030) requires of every EST body. Empty data gives "".
std::string base64_encode(const token::Bytes& data);
// Decodes base64 ignoring spaces, tabs and line breaks (CR, LF); nullopt when
// malformed: a character outside the alphabet, a length that is not a
// multiple of 4, or '=' anywhere but the one or two last places.
std::optional<token::Bytes> base64_decode(std::string_view text);

}  // namespace hsmca::appliance
