#include "hsmca/signer/profile.hpp"

#include <algorithm>
#include <array>
#include <utility>

#include "hsmca/token/enum_names.hpp"

namespace hsmca::signer {
namespace {

// The names a CA file's `profiles` use; in enum order.
constexpr token::EnumNames<ExtendedKeyUsage, 6> kEkuNames{{{
    {ExtendedKeyUsage::server_auth, "server_auth"},
    {ExtendedKeyUsage::client_auth, "client_auth"},
    {ExtendedKeyUsage::code_signing, "code_signing"},
    {ExtendedKeyUsage::email_protection, "email_protection"},
    {ExtendedKeyUsage::time_stamping, "time_stamping"},
    {ExtendedKeyUsage::ocsp_signing, "ocsp_signing"},
}}};

}  // namespace

std::string_view eku_name(ExtendedKeyUsage eku) noexcept { return kEkuNames.name(eku); }
std::optional<ExtendedKeyUsage> parse_eku(std::string_view name) noexcept { return kEkuNames.parse(name); }
std::string eku_names() { return kEkuNames.list(); }

bool Profile::server() const noexcept {
  return std::ranges::find(extended_key_usage, ExtendedKeyUsage::server_auth) != extended_key_usage.end();
}

}  // namespace hsmca::signer
