#pragma once
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "hsmca/signer/profile.hpp"
#include "hsmca/signer/token_target.hpp"
#include "hsmca/token/signature.hpp"

namespace hsmca::signer {

// A delegated OCSP responder (RFC 6960 4.2.2.2): its key, in the issuing
// CA's token, and the certificate the issuing CA gave it (`hsmca ceremony`
// with `ceremony: ocsp-signer` makes both).
struct OcspSignerSettings {
  std::string key_label;
  std::filesystem::path certificate;
};

struct RevocationSettings {
  std::optional<std::string> crl_url;     // CRL distribution point in every certificate
  std::optional<std::string> ocsp_url;    // AIA OCSP
  std::optional<std::string> issuer_url;  // AIA caIssuers
  int crl_validity_hours = 24;
  int ocsp_validity_hours = 24;  // an OCSP response's nextUpdate - thisUpdate
  // Token signatures per second the OCSP responder may spend on answers it
  // cannot cache: a nonce echoed, several certificates in one request, a
  // serial the CA does not know. Beyond it a nonce is left out (the cached
  // answer is served), the others get tryLater or unauthorized (RFC 5019).
  int ocsp_fresh_signatures_per_second = 50;
  std::optional<OcspSignerSettings> ocsp_signer;  // absent: the issuing key signs OCSP responses
};

// The CA file: which token and key sign, the issuer's certificate and chain,
// the ledger, the profiles. Parsed strictly; relative paths are relative to
// the file. The `appliance` block is kept for hsmca-appliance to read.
struct CaConfig {
  std::filesystem::path file;
  TokenTarget pkcs11;  // sessions defaults to 4
  std::string key_label;
  std::filesystem::path issuer_certificate;
  std::vector<std::filesystem::path> chain;  // above the issuer, nearest first
  std::optional<token::SignatureScheme> signature_algorithm;  // e.g. rsa-pss-sha256; default per key type
  std::filesystem::path ledger;
  std::vector<Profile> profiles;
  RevocationSettings revocation;
  YAML::Node appliance;  // null when absent

  static CaConfig load(const std::filesystem::path& file);
  // nullptr when there is no such profile.
  const Profile* profile(const std::string& name) const noexcept;
  std::string profile_names() const;
};

}  // namespace hsmca::signer
