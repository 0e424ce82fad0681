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
  // The key types a request may carry ("ec-p256", "rsa-3072", see
  // kRequestKeyTypes); empty: any the key policy allows.
  std::vector<std::string> key_types{};
  bool server() const noexcept;  // has server_auth
};

// The key types a profile may name: what parse_certificate_request reports.
inline constexpr std::string_view kRequestKeyTypes[] = {"ec-p256",  "ec-p384",  "ec-p521", "ed25519",
                                                        "rsa-2048", "rsa-3072", "rsa-4096"};

// What the profile asks of a request before it is made, as EST's csrattrs
// answers it (RFC 7030 4.5.2, RFC 9908): the DER of a CsrAttrs SEQUENCE with
// one AttrOrOID per key type the profile takes (id-ecPublicKey with its curve,
// rsaEncryption with its size, id-Ed25519). Empty when it asks nothing.
std::vector<unsigned char> csr_attributes(const Profile& profile);

}  // namespace hsmca::signer
