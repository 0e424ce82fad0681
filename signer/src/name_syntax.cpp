// The text rules every kind of name shares: ASCII classification, case,
// quoting for messages, and the host-name syntax that DNS names, email domains
// and configured entries all obey.
#include <algorithm>
#include <array>
#include <cstdio>

#include "name_rules.hpp"

namespace hsmca::signer::names {
namespace {

char to_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

std::string lowercase(std::string_view s) {
  std::string out(s);
  std::ranges::transform(out, out.begin(), to_lower);
  return out;
}

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::ranges::equal(a, b, [](char x, char y) { return to_lower(x) == to_lower(y); });
}

bool all_digits(std::string_view s) { return std::ranges::all_of(s, is_digit); }

bool visible_ascii(std::string_view s) {
  return !s.empty() && std::ranges::all_of(s, [](unsigned char c) { return c > 0x20 && c < 0x7f; });
}

std::string in_quotes(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) {
      std::array<char, 5> hex{};
      std::snprintf(hex.data(), hex.size(), "\\x%02x", c);
      out += hex.data();
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

// A host name in RFC 1034 3.5 preferred syntax, as RFC 5280 4.2.1.6 asks of a
// dNSName: LDH labels of 1 to 63 octets, 253 in all, no trailing dot. The last
// label is not all digits (RFC 3696 2), so "10.0.0.1" is no host name. A
// single label ("localhost") is one; the policy decides whether it is granted.
// Punycode labels (xn--...) are plain LDH.
bool is_host_name(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  std::string_view last;
  for (std::size_t start = 0;;) {
    const std::size_t dot = name.find('.', start);
    const std::string_view label = name.substr(start, dot == std::string_view::npos ? name.npos : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
    if (!std::ranges::all_of(label, [](unsigned char c) { return is_alnum(c) || c == '-'; })) return false;
    last = label;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return !all_digits(last);
}

// On a label boundary: "example.test" covers itself and "a.example.test",
// never "badexample.test". A configured entry is compared case-insensitively;
// a leading dot on it is ignored.
bool covered_by(std::string_view name, std::string_view entry) {
  if (entry.starts_with('.')) entry.remove_prefix(1);
  if (entry.empty()) return false;
  if (equal_ignoring_case(name, entry)) return true;
  return name.size() > entry.size() && name[name.size() - entry.size() - 1] == '.' &&
         equal_ignoring_case(name.substr(name.size() - entry.size()), entry);
}

}  // namespace hsmca::signer::names
