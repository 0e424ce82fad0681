#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hsmca::signer {

enum class ExtendedKeyUsage { server_auth, client_auth, code_signing, email_protection, time_stamping, ocsp_signing };

std::string_view eku_name(ExtendedKeyUsage eku) noexcept;  // "server_auth", ...
std::optional<ExtendedKeyUsage> parse_eku(std::string_view name) noexcept;
std::string eku_names();  // for error messages

// What a class of certificates may contain, as the CA file's `profiles` says.
struct Profile {
  std::string name{};
  int validity_days = 90;
  std::vector<ExtendedKeyUsage> extended_key_usage{};
  std::vector<std::string> allowed_dns_suffixes{};  // empty: any DNS name
  bool server() const noexcept;                      // has server_auth
};

}  // namespace hsmca::signer
