#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hsmca/signer/name_policy.hpp"

namespace hsmca::signer {

enum class ExtendedKeyUsage { server_auth, client_auth, code_signing, email_protection, time_stamping, ocsp_signing };

std::string_view eku_name(ExtendedKeyUsage eku) noexcept;  // "server_auth", ...
std::optional<ExtendedKeyUsage> parse_eku(std::string_view name) noexcept;
std::string eku_names();  // for error messages

// What a class of certificates may contain, as the CA file's `profiles` says.
struct Profile {
  std::string name{};
  int validity_days = 90;
  // Never ocsp_signing from a CA file: a delegated responder comes only from
  // the ocsp-signer ceremony (it could answer for every certificate of the CA).
  std::vector<ExtendedKeyUsage> extended_key_usage{};
  NamePolicy names{};  // default: unrestricted
  // Who may request this profile remotely: "enroll", "admin", "acme",
  // "sha256:<64 lowercase hex>" (a client certificate's fingerprint) or
  // "user:<NAME>". Empty: nobody remote, only `hsmca sign` on the CA host.
  std::vector<std::string> requesters{};
  bool server() const noexcept;  // has server_auth
};

}  // namespace hsmca::signer
