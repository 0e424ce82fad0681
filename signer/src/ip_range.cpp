// iPAddress rules: addresses as inet_pton reads them and the CIDR ranges a
// CA file allows.
#include <arpa/inet.h>

#include <algorithm>

#include "name_rules.hpp"

namespace hsmca::signer::names {

std::string Address::str() const {
  std::array<char, INET6_ADDRSTRLEN> text{};
  inet_ntop(size == 4 ? AF_INET : AF_INET6, octets.data(), text.data(), static_cast<socklen_t>(text.size()));
  return text.data();
}

std::optional<Address> parse_address(std::string_view text) {
  const std::string s(text);  // inet_pton reads up to a NUL
  Address a;
  if (inet_pton(AF_INET, s.c_str(), a.octets.data()) == 1) {
    a.size = 4;
  } else if (inet_pton(AF_INET6, s.c_str(), a.octets.data()) == 1) {
    a.size = 16;
  } else {
    return std::nullopt;
  }
  return a;
}


Outcome<SubjectAltName> check_ip(const std::string& requested, const NamePolicy& policy,
                                 std::string_view profile_name) {
  const auto address = parse_address(requested);
  if (!address) return refused(in_quotes(requested) + " is not an IP address");
  const std::string text = address->str();
  if (policy.restricted && std::ranges::none_of(policy.ip, [&address](const IpRange& range) {
        return range.contains(address->bytes());
      })) {
    return refused(outside("IP " + text, policy, Kind::ip, profile_name));
  }
  return SubjectAltName{Kind::ip, text};
}

}  // namespace hsmca::signer::names

namespace hsmca::signer {

using names::Address;
using names::all_digits;
using names::parse_address;

std::optional<IpRange> IpRange::parse(std::string_view text) {
  const std::size_t slash = text.find('/');
  const auto address = parse_address(text.substr(0, slash));
  if (!address) return std::nullopt;
  IpRange range;
  range.network = address->octets;
  range.size = address->size;
  range.prefix_length = static_cast<int>(address->size * 8);
  if (slash != std::string_view::npos) {
    const std::string_view prefix = text.substr(slash + 1);
    // Digits only, no sign, no leading zero: "/08" or "/+8" is not a prefix anyone means.
    if (prefix.empty() || prefix.size() > 3 || !all_digits(prefix) || (prefix.size() > 1 && prefix.front() == '0')) {
      return std::nullopt;
    }
    const int length = std::stoi(std::string(prefix));
    if (length > range.prefix_length) return std::nullopt;
    range.prefix_length = length;
  }
  return range;
}

IpRange IpRange::without_host_bits() const noexcept {
  IpRange out = *this;
  for (std::size_t i = 0; i < out.network.size(); ++i) {
    const int bits_in_prefix = std::clamp(prefix_length - static_cast<int>(i * 8), 0, 8);
    const auto mask = static_cast<unsigned char>(bits_in_prefix == 0 ? 0 : 0xff << (8 - bits_in_prefix));
    out.network[i] = static_cast<unsigned char>(i < size ? out.network[i] & mask : 0);
  }
  return out;
}

bool IpRange::has_host_bits() const noexcept { return without_host_bits() != *this; }

bool IpRange::contains(std::span<const unsigned char> address) const noexcept {
  if (address.size() != size) return false;
  for (std::size_t i = 0; i < size; ++i) {
    const int bits_in_prefix = std::clamp(prefix_length - static_cast<int>(i * 8), 0, 8);
    if (bits_in_prefix == 0) break;
    const auto mask = static_cast<unsigned char>(0xff << (8 - bits_in_prefix));
    if ((address[i] & mask) != (network[i] & mask)) return false;
  }
  return true;
}

std::string IpRange::str() const {
  Address a;
  a.octets = network;
  a.size = size;
  return a.str() + "/" + std::to_string(prefix_length);
}

}  // namespace hsmca::signer
