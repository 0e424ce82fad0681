#pragma once
// End-entity and subordinate CA certificates: the CA decides their contents,
// checks them before the token signs, and checks the signed result.
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "hsmca/signer/certificate.hpp"
#include "hsmca/signer/outcome.hpp"
#include "hsmca/signer/profile.hpp"
#include "hsmca/signer/request.hpp"

namespace hsmca::signer {

// The issuing CA as the certificates it signs see it.
struct IssuerContext {
  X509* certificate = nullptr;  // the issuer's own certificate (not owned)
  const SigningKey* key = nullptr;
  // RFC 5280 4.2.1.13 / 4.2.2.1: added to every certificate when set.
  std::optional<std::string> crl_url;
  std::optional<std::string> ocsp_url;
  std::optional<std::string> issuer_url;  // caIssuers
};

// A certificate decided and checked but not yet signed: what the ledger
// records as pending before the token signs.
struct LeafPlan {
  X509Ptr tbs;  // complete but for the signature; signature algorithm already set
  std::string serial_hex;              // lowercase, as IssuedCertificate::serial_hex
  std::string subject;                 // RFC 2253
  std::vector<std::string> sans;       // SubjectAltName::str() of the granted names
  std::string tbs_sha256;              // of the DER TBSCertificate that will be signed
  std::int64_t not_before = 0;         // unix seconds
  std::int64_t not_after = 0;
  // A renewal: the serial of the certificate it replaces, which is revoked
  // (superseded) in the same ledger transaction that records this one issued.
  std::optional<std::string> renews{};
};

// Decides the certificate for a request under a profile: subject from the
// request; basicConstraints CA:FALSE (critical); keyUsage digitalSignature
// (+ keyEncipherment for RSA keys in server profiles), critical; EKU from the
// profile; SKI; AKI = the issuer's SKI; SANs = what grant_names
// (name_policy.hpp) grants under the profile's name policy: the requested
// DNS/IP/email/URI names, checked and canonical, plus the subject CN as a DNS
// or IP SAN when the policy reads the CN as a name (common_name: name, the
// default) and it is not yet among them. One name the policy refuses — a
// requested name outside it, a malformed one, a second CN, a CN that is
// neither a granted name nor one the policy allows — rejects the whole
// request (name_policy). Other requested extensions (CA:TRUE among them) are
// never copied. Serial: 16 CSPRNG bytes, positive. Validity: notBefore = now -
// 1 min; notAfter = earliest of now + (days, capped at the profile's
// validity_days), now + profile validity and the issuer's notAfter. Then runs
// check_before_signing. Rejection codes: name_policy, no_identity (no subject
// CN and no SAN), invalid_validity (days < 1), lint (a check failed).
// What of the request's subject the certificate carries: all of it, or (for
// a caller who proved control of names and nothing else: ACME) only its
// commonName, every other attribute (O, OU, C, serialNumber, …) dropped.
enum class SubjectRule { as_requested, common_name_only };

Outcome<LeafPlan> plan_leaf(const CertificateRequest& request, const Profile& profile, const IssuerContext& issuer,
                            std::optional<int> days, std::chrono::system_clock::time_point now,
                            SubjectRule subject_rule = SubjectRule::as_requested);

// Pre-issuance checks on the unsigned certificate, as a linter: serial
// positive, <= 20 octets, >= 64 bits; a SAN present for server certificates;
// notBefore < notAfter <= issuer notAfter; keyUsage/EKU consistent with the key
// (no keyEncipherment for EC/Ed25519 keys); no duplicate extensions; issuer
// name == the issuer certificate's subject; basicConstraints CA:FALSE.
// nullopt when every check passes, else the first failure (code "lint").
std::optional<Rejection> check_before_signing(X509* tbs, const IssuerContext& issuer);

// Signs the plan through issuer.key and checks the result: the signature
// verifies with the issuer certificate's public key and the signed TBS is
// byte for byte the checked one. VerificationError otherwise.
IssuedCertificate sign_planned(const LeafPlan& plan, const IssuerContext& issuer);

// A subordinate (issuing) CA certificate for `subject_spki`, signed by the
// issuer: basicConstraints CA:TRUE pathlen `path_length` (critical); keyUsage
// keyCertSign, cRLSign, digitalSignature (critical); SKI; AKI = the issuer's
// SKI; CRL/AIA URLs from the issuer context when set. notAfter is clamped to
// the issuer's notAfter.
struct SubordinateSpec {
  DistinguishedName subject;
  std::chrono::system_clock::time_point not_before;
  std::chrono::system_clock::time_point not_after;
  int path_length = 0;
};
struct SubordinateCertificate {
  IssuedCertificate certificate;
  bool clamped = false;  // notAfter was cut to the issuer's
};
SubordinateCertificate issue_subordinate_ca(const IssuerContext& issuer, const Bytes& subject_spki,
                                            const SubordinateSpec& spec);

// A delegated OCSP responder's certificate (RFC 6960 4.2.2.2) for
// `responder_spki`, signed by the CA whose certificates it answers for:
// basicConstraints CA:FALSE (critical); keyUsage digitalSignature (critical);
// extendedKeyUsage id-kp-OCSPSigning; id-pkix-ocsp-nocheck (NULL,
// non-critical: RFC 6960 4.2.2.2.1 — relying parties do not ask about the
// responder's own status, which is why its life must be short); SKI; AKI = the
// issuer's SKI. No CRL or AIA URLs: with nocheck nobody fetches them.
// notAfter is clamped to the issuer's. std::invalid_argument when the
// requested validity is longer than kMaxOcspResponderDays, ends before it
// begins, or the issuer is no CA; VerificationError when the signature does not
// check out.
inline constexpr int kMaxOcspResponderDays = 366;
struct OcspResponderSpec {
  DistinguishedName subject;
  std::chrono::system_clock::time_point not_before;
  std::chrono::system_clock::time_point not_after;
};
struct OcspResponderCertificate {
  IssuedCertificate certificate;
  bool clamped = false;  // notAfter was cut to the issuer's
};
OcspResponderCertificate issue_ocsp_responder(const IssuerContext& issuer, const Bytes& responder_spki,
                                              const OcspResponderSpec& spec);

}  // namespace hsmca::signer
