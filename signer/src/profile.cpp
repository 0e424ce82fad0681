#include "hsmca/signer/profile.hpp"

#include <algorithm>
#include <array>
#include <utility>

namespace hsmca::signer {
namespace {

// The names a CA file's `profiles` use; in enum order.
constexpr std::array<std::pair<ExtendedKeyUsage, std::string_view>, 6> kEkuNames{{
    {ExtendedKeyUsage::server_auth, "server_auth"},
    {ExtendedKeyUsage::client_auth, "client_auth"},
    {ExtendedKeyUsage::code_signing, "code_signing"},
    {ExtendedKeyUsage::email_protection, "email_protection"},
    {ExtendedKeyUsage::time_stamping, "time_stamping"},
    {ExtendedKeyUsage::ocsp_signing, "ocsp_signing"},
}};

}  // namespace

std::string_view eku_name(ExtendedKeyUsage eku) noexcept {
  for (const auto& [value, name] : kEkuNames) {
    if (value == eku) return name;
  }
  return "unknown";
}

std::optional<ExtendedKeyUsage> parse_eku(std::string_view name) noexcept {
  for (const auto& [value, known] : kEkuNames) {
    if (known == name) return value;
  }
  return std::nullopt;
}

std::string eku_names() {
  std::string names;
  for (const auto& [value, name] : kEkuNames) {
    if (!names.empty()) names += ", ";
    names += name;
  }
  return names;
}

bool Profile::server() const noexcept {
  return std::ranges::find(extended_key_usage, ExtendedKeyUsage::server_auth) != extended_key_usage.end();
}

}  // namespace hsmca::signer
