#include "framing.hpp"

#include <boost/beast/core/string.hpp>
#include <cstdint>
#include <iterator>

namespace hsmca::appliance {

namespace http = boost::beast::http;

void limit_parser(http::request_parser<http::string_body>& parser, const ApplianceConfig& config) {
  parser.body_limit(config.body_limit);
  parser.header_limit(static_cast<std::uint32_t>(config.header_limit));
}

bool framing_is_faulty(const http::request<http::string_body>& request) {
  const auto [first, last] = request.base().equal_range(http::field::transfer_encoding);
  if (first == last) return false;
  return std::next(first) != last || !boost::beast::iequals(first->value(), "chunked") || request.version() < 11;
}

}  // namespace hsmca::appliance
