#include "hsmca/appliance/ocsp_http.hpp"

#include <cstdio>
#include <ctime>

#include "hsmca/appliance/est.hpp"
#include "hsmca/token/uri.hpp"

namespace hsmca::appliance {

std::optional<token::Bytes> decode_ocsp_get(std::string_view encoded) {
  const auto decoded = token::percent_decode(encoded);
  if (!decoded) return std::nullopt;
  std::string b64;
  b64.reserve(decoded->size());
  for (char c : *decoded) {
    if (c == '-') c = '+';
    if (c == '_') c = '/';
    if (c == ' ' || c == '\r' || c == '\n' || c == '\t') return std::nullopt;
    b64 += c;
  }
  if (b64.empty()) return std::nullopt;
  while (b64.size() % 4 != 0) b64 += '=';
  auto der = base64_decode(b64);
  if (!der || der->empty()) return std::nullopt;
  return der;
}

std::string http_date(std::chrono::system_clock::time_point when) {
  const std::time_t t = std::chrono::system_clock::to_time_t(when);
  std::tm tm{};
  gmtime_r(&t, &tm);
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char out[32];
  std::snprintf(out, sizeof out, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday], tm.tm_mday,
                kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return out;
}

}  // namespace hsmca::appliance
