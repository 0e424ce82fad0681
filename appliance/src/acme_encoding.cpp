// base64url and strict JSON for ACME's JWS layer (see acme_jws.hpp).
#include <set>

#include "acme_jws.hpp"

namespace hsmca::appliance::acme {

using nlohmann::json;

// ---------------------------------------------------------------- base64url

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int sextet(char c) noexcept {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

}  // namespace

std::string base64url_encode(std::span<const unsigned char> bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const unsigned v = (unsigned{bytes[i]} << 16) | (unsigned{bytes[i + 1]} << 8) | bytes[i + 2];
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest == 1) {
    const unsigned v = unsigned{bytes[i]} << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
  } else if (rest == 2) {
    const unsigned v = (unsigned{bytes[i]} << 16) | (unsigned{bytes[i + 1]} << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
  }
  return out;
}

std::string base64url_encode(std::string_view bytes) {
  return base64url_encode(std::span(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()));
}

std::optional<Bytes> base64url_decode(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;
  Bytes out;
  out.reserve(text.size() / 4 * 3 + 2);
  unsigned acc = 0;
  int bits = 0;
  for (char c : text) {
    const int v = sextet(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<unsigned char>((acc >> bits) & 0xff));
      acc &= (1u << bits) - 1;
    }
  }
  // What is left are the unused low bits of the last character: a second
  // spelling of the same bytes unless they are zero (RFC 4648 3.5).
  if (acc != 0) return std::nullopt;
  return out;
}

// ---------------------------------------------------------------- JSON

std::optional<json> parse_strict_json(std::string_view text) {
  // nlohmann skips a UTF-8 byte order mark; RFC 8259 8.1 says not to send one.
  if (text.starts_with("\xEF\xBB\xBF")) return std::nullopt;
  bool refused = false;
  std::vector<std::set<std::string>> open;  // member names so far, per open object or array
  const json::parser_callback_t check = [&](int /*depth*/, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        open.emplace_back();
        if (open.size() > static_cast<std::size_t>(kMaxJsonDepth)) refused = true;
        break;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        if (!open.empty()) open.pop_back();
        break;
      case json::parse_event_t::key:
        if (!open.empty() && parsed.is_string() &&
            !open.back().insert(parsed.get_ref<const std::string&>()).second) {
          refused = true;
        }
        break;
      case json::parse_event_t::value: break;
    }
    return true;
  };
  json value = json::parse(text.begin(), text.end(), check, /*allow_exceptions=*/false);
  if (refused || value.is_discarded()) return std::nullopt;
  return value;
}

}  // namespace hsmca::appliance::acme
