#pragma once
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "hsmca/signer/certificate.hpp"
#include "hsmca/signer/revocation.hpp"
#include "hsmca/token/signature.hpp"
#include "hsmca/signer/token_target.hpp"

namespace hsmca::cli {

using signer::TokenTarget;

// What a ceremony file's `ceremony:` asks for, parsed once where the file is read.
enum class CeremonyKind { root, intermediate, ocsp_signer, csr, key, crl };
std::string_view ceremony_kind_name(CeremonyKind kind) noexcept;  // "root", "ocsp-signer", ...
std::optional<CeremonyKind> parse_ceremony_kind(std::string_view name) noexcept;
std::string ceremony_kind_names();  // "root, intermediate, ..." for error messages

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

// One certificate a CRL ceremony revokes: by its file (which must be the
// issuer's) or by serial.
struct CrlEntrySpec {
  std::filesystem::path certificate;  // empty when given by serial
  std::string serial_hex;             // lowercase, even length; empty when given by certificate
  std::chrono::system_clock::time_point revoked_at;
  signer::RevocationReason reason = signer::RevocationReason::unspecified;
};

struct CrlSpec {
  std::int64_t number = 0;
  std::filesystem::path previous;  // the last CRL of this issuer; optional
  std::chrono::system_clock::time_point this_update;
  std::chrono::system_clock::time_point next_update;
  std::vector<CrlEntrySpec> revoked;
};

// CA/Browser Forum Baseline Requirements 4.9.7: a CRL about CA certificates
// has its nextUpdate at most twelve months after its thisUpdate.
inline constexpr int kMaxCrlValidityDays = 366;

// The CA that signs: its certificate and its key in its token.
struct IssuerSpec {
  std::filesystem::path certificate;
  TokenTarget target;
  std::string key_label;
  std::optional<token::SignatureScheme> scheme;  // default: per the issuer key's type
  // intermediate only: where relying parties find the issuer's CRL and
  // certificate, written into the new CA certificate (CDP, AIA caIssuers).
  std::optional<std::string> crl_url;
  std::optional<std::string> issuer_url;
};

// A ceremony file, parsed strictly: unknown keys, missing keys and values of
// the wrong kind are errors that name the key.
struct CeremonySpec {
  CeremonyKind kind = CeremonyKind::root;
  TokenTarget target;                          // all but crl
  KeySpec key;                                 // all but crl
  std::optional<CertificateSpec> certificate;  // root, intermediate, ocsp-signer, csr (subject only matters)
  std::optional<IssuerSpec> issuer;            // intermediate, ocsp-signer, crl
  std::optional<CrlSpec> crl;                  // crl
  std::filesystem::path certificate_out;       // root, intermediate, ocsp-signer
  std::filesystem::path csr_out;               // csr
  std::filesystem::path crl_out;               // crl
  bool crl_der = false;                        // crl: DER rather than PEM
  std::filesystem::path public_key_out;        // key (optional)
  std::filesystem::path transcript_out;

  std::vector<std::filesystem::path> outputs() const;
};

CeremonySpec parse_ceremony(const std::filesystem::path& file, std::chrono::system_clock::time_point now);

// What a file that may not parse as a ceremony says about itself: its kind
// (to announce the number of steps) and outputs.transcript, so that a ceremony
// refused at parsing still leaves its record. Empty fields when not found.
struct CeremonyOutline {
  std::optional<CeremonyKind> kind;
  std::filesystem::path transcript;
  bool public_key = false;  // outputs.public_key is set
  bool previous_crl = false;  // crl.previous is set
};
CeremonyOutline peek_ceremony(const std::filesystem::path& file) noexcept;

// "2026-05-01T00:00:00Z" or with a "+02:00" offset. Throws ConfigError.
std::chrono::system_clock::time_point parse_rfc3339(const std::string& text, const std::string& what);

// A serial as operators copy it ("7F:01", "0x7f01", "007f01") in the form
// IssuedCertificate::serial_hex gives: lowercase, even length, no leading zero
// octets ("7f01"). Empty when it is not a positive hex number.
std::string canonical_serial(const std::string& text);

}  // namespace hsmca::cli
