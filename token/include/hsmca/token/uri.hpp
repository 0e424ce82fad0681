#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hsmca::token {

// RFC 7512 PKCS#11 URI: the path attributes that name a token and an object,
// and the query attributes module-path and pin-source. pin-value is refused:
// a PIN in a URI ends up on command lines and in shell history.
struct Pkcs11Uri {
  std::string token;         // token label
  std::string serial;
  std::string manufacturer;
  std::string model;
  std::string object;        // object label
  std::vector<unsigned char> id;
  std::string type;          // private, public, cert, secret-key, data
  std::string module_path;
  std::string pin_source;    // e.g. file:/run/pin

  // Throws std::invalid_argument naming the offending attribute.
  static Pkcs11Uri parse(std::string_view text);
  // Every id byte is percent-encoded (libp11 reads "id=01" as text).
  std::string str() const;
};

// Percent-encodes everything outside RFC 7512's pchar set.
std::string percent_encode(std::string_view raw);
// RFC 3986 2.1: every "%XX" (either case) becomes its octet; nullopt when a
// '%' is not followed by two hex digits. '+' stays '+' (that is form encoding).
std::optional<std::string> percent_decode(std::string_view encoded);

}  // namespace hsmca::token
