#include "hsmca/token/uri.hpp"

#include <stdexcept>
#include <utility>

namespace hsmca::token {
namespace {

bool is_pchar(unsigned char c) {
  // RFC 7512 §2.3 pk11-pchar: unreserved characters plus the few sub-delims
  // allowed in path attribute values; everything else is percent-encoded.
  // "/" is not among them: only the query may carry it unencoded.
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~' || c == ':' || c == '[' || c == ']' || c == '@' ||
         c == '!' || c == '$' || c == '\'' || c == '(' || c == ')' || c == '*' || c == '+' ||
         c == ',';
}

// pk11-qchar: a query value (module-path, pin-source) keeps its slashes.
bool is_qchar(unsigned char c) { return is_pchar(c) || c == '/'; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string decode(std::string_view attr, std::string_view value) {
  auto out = percent_decode(value);
  if (!out) throw std::invalid_argument("pkcs11 URI: bad percent-encoding in '" + std::string(attr) + "'");
  return std::move(*out);
}

const char kHex[] = "0123456789ABCDEF";

std::string encode(std::string_view raw, bool (*keep)(unsigned char)) {
  std::string out;
  for (unsigned char c : raw) {
    if (keep(c)) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

void append_attr(std::string& out, char sep, std::string_view name, std::string_view value) {
  if (value.empty()) return;
  if (out.back() != ':' && out.back() != '?') out += sep;
  out += name;
  out += '=';
  out += sep == '&' ? encode(value, is_qchar) : encode(value, is_pchar);
}

}  // namespace

std::string percent_encode(std::string_view raw) { return encode(raw, is_pchar); }

std::optional<std::string> percent_decode(std::string_view encoded) {
  std::string out;
  out.reserve(encoded.size());
  for (std::size_t i = 0; i < encoded.size(); ++i) {
    if (encoded[i] != '%') {
      out += encoded[i];
      continue;
    }
    const int hi = i + 2 < encoded.size() ? hex_value(encoded[i + 1]) : -1;
    const int lo = i + 2 < encoded.size() ? hex_value(encoded[i + 2]) : -1;
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

Pkcs11Uri Pkcs11Uri::parse(std::string_view text) {
  constexpr std::string_view kScheme = "pkcs11:";
  if (text.substr(0, kScheme.size()) != kScheme) {
    throw std::invalid_argument("not a pkcs11 URI (must start with 'pkcs11:')");
  }
  text.remove_prefix(kScheme.size());
  std::string_view path = text, query;
  if (auto q = text.find('?'); q != std::string_view::npos) {
    path = text.substr(0, q);
    query = text.substr(q + 1);
  }

  Pkcs11Uri uri;
  auto each = [](std::string_view part, char sep, auto&& fn) {
    while (!part.empty()) {
      auto end = part.find(sep);
      std::string_view item = part.substr(0, end);
      if (!item.empty()) {
        auto eq = item.find('=');
        if (eq == std::string_view::npos) {
          // An item without '=' is not repeated: it may be a PIN typed where
          // pin-source belongs, in the query or the path alike.
          throw std::invalid_argument(std::string("pkcs11 URI: ") + (sep == '&' ? "a query" : "a path") +
                                      " attribute has no value (expected NAME=VALUE)");
        }
        fn(item.substr(0, eq), item.substr(eq + 1));
      }
      if (end == std::string_view::npos) break;
      part.remove_prefix(end + 1);
    }
  };

  each(path, ';', [&](std::string_view name, std::string_view raw) {
    std::string value = decode(name, raw);
    if (name == "token") uri.token = value;
    else if (name == "serial") uri.serial = value;
    else if (name == "manufacturer") uri.manufacturer = value;
    else if (name == "model") uri.model = value;
    else if (name == "object") uri.object = value;
    else if (name == "id") uri.id.assign(value.begin(), value.end());
    else if (name == "type") {
      if (value != "private" && value != "public" && value != "cert" && value != "secret-key" && value != "data") {
        throw std::invalid_argument("pkcs11 URI: unknown type '" + value + "'");
      }
      uri.type = value;
    }
    // Standard attributes we do not select on are accepted; anything else is
    // refused, since ignoring a misspelt one would widen the selection.
    else if (name == "library-description" || name == "library-manufacturer" ||
             name == "library-version" || name == "slot-description" || name == "slot-manufacturer" ||
             name == "slot-id") {
    } else {
      throw std::invalid_argument("pkcs11 URI: unknown attribute '" + std::string(name) + "'");
    }
  });
  each(query, '&', [&](std::string_view name, std::string_view raw) {
    std::string value = decode(name, raw);
    if (name == "module-path") uri.module_path = value;
    else if (name == "pin-source") uri.pin_source = value;
    else if (name == "pin-value") {
      throw std::invalid_argument(
          "pkcs11 URI: pin-value is refused (a PIN must not appear on a command line); use pin-source=file:PATH or HSMCA_PIN");
    } else if (name == "module-name") {
    } else {
      throw std::invalid_argument("pkcs11 URI: unknown query attribute '" + std::string(name) + "'");
    }
  });
  return uri;
}

std::string Pkcs11Uri::str() const {
  std::string out = "pkcs11:";
  append_attr(out, ';', "model", model);
  append_attr(out, ';', "manufacturer", manufacturer);
  append_attr(out, ';', "serial", serial);
  append_attr(out, ';', "token", token);
  if (!id.empty()) {
    if (out.back() != ':') out += ';';
    out += "id=";
    for (unsigned char c : id) {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  append_attr(out, ';', "object", object);
  append_attr(out, ';', "type", type);
  if (!module_path.empty() || !pin_source.empty()) {
    out += '?';
    append_attr(out, '&', "module-path", module_path);
    append_attr(out, '&', "pin-source", pin_source);
  }
  return out;
}

}  // namespace hsmca::token
