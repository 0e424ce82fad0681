#pragma once
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

#include "hsmca/signer/certificate.hpp"
#include "hsmca/token/signature.hpp"
#include "hsmca/signer/token_target.hpp"

namespace hsmca::cli {

using signer::TokenTarget;

struct KeySpec {
  std::string label;
  token::KeyType type;
};

struct CertificateSpec {
  signer::DistinguishedName subject;
  std::chrono::system_clock::time_point not_before;
  std::chrono::system_clock::time_point not_after;
  token::SignatureScheme scheme;  // of the key that signs: the new key (root, csr) or the issuer's
  int path_length = 0;            // intermediate
};

// The CA that signs an intermediate: its certificate and its key in its token.
struct IssuerSpec {
  std::filesystem::path certificate;
  TokenTarget target;
  std::string key_label;
  std::optional<token::SignatureScheme> scheme;  // default: per the issuer key's type
};

// A ceremony file, parsed strictly: unknown keys, missing keys and values of
// the wrong kind are errors that name the key.
struct CeremonySpec {
  std::string kind;  // "root", "intermediate", "csr" or "key"
  TokenTarget target;
  KeySpec key;
  std::optional<CertificateSpec> certificate;  // root, intermediate, csr (subject only matters)
  std::optional<IssuerSpec> issuer;            // intermediate
  std::filesystem::path certificate_out;       // root, intermediate
  std::filesystem::path csr_out;               // csr
  std::filesystem::path public_key_out;        // key (optional)
  std::filesystem::path transcript_out;

  std::vector<std::filesystem::path> outputs() const;
};

CeremonySpec parse_ceremony(const std::filesystem::path& file, std::chrono::system_clock::time_point now);

// What a file that may not parse as a ceremony says about itself: its kind
// (to announce the number of steps) and outputs.transcript, so that a ceremony
// refused at parsing still leaves its record. Empty fields when not found.
struct CeremonyOutline {
  std::string kind;
  std::filesystem::path transcript;
  bool public_key = false;  // outputs.public_key is set
};
CeremonyOutline peek_ceremony(const std::filesystem::path& file) noexcept;

// "2026-05-01T00:00:00Z" or with a "+02:00" offset. Throws ConfigError.
std::chrono::system_clock::time_point parse_rfc3339(const std::string& text, const std::string& what);

}  // namespace hsmca::cli
