#pragma once
#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "hsmca/signer/authorization.hpp"
#include "hsmca/signer/ca_config.hpp"
#include "hsmca/signer/leaf.hpp"
#include "hsmca/signer/ledger.hpp"
#include "hsmca/signer/ocsp.hpp"
#include "hsmca/signer/revocation.hpp"

namespace hsmca::signer {

// RFC 7030 4.2.2: what a renewal must keep of the certificate it renews.
struct Renewal {
  std::string serial;               // of the certificate being renewed
  std::string profile;              // the renewal is issued under the same profile
  std::string subject;              // RFC 2253, as the ledger recorded it
  std::vector<std::string> sans{};  // as the ledger recorded them ("DNS:...", "IP:...")
};

struct IssuanceRequest {
  std::span<const unsigned char> csr;  // PEM or DER PKCS#10
  std::string profile;
  std::optional<int> days;             // shorter than the profile's, never longer
  Caller caller{};                     // who asked; its description is the ledger's requester
  std::optional<Renewal> renewal{};    // set for a renewal (EST simplereenroll): names and profile must not change
};

// A certificate someone presents to the CA (a TLS client certificate, the
// certificate being renewed) as the ledger knows it.
struct Standing {
  enum class Status {
    not_ours,  // the ledger holds no certificate with exactly these bytes
    issued,    // ours, unrevoked and within its validity
    revoked,
    expired,   // ours, unrevoked, outside its validity
  };
  Status status = Status::not_ours;
  std::optional<LedgerEntry> entry{};  // when ours
};
std::string_view standing_name(Standing::Status status) noexcept;  // "not issued by this CA", "revoked", ...

// An issuing CA: decides certificates from requests, records them in the
// ledger before the key signs, checks them after, and hands out only what the
// ledger holds as issued. Safe to call from many threads at once.
class CertificateAuthority {
 public:
  // Throws std::invalid_argument when `key` is not the key of `issuer`.
  CertificateAuthority(X509Ptr issuer, std::vector<X509Ptr> chain, const SigningKey& key, Ledger& ledger,
                       std::vector<Profile> profiles, RevocationSettings revocation);

  // Decides and checks the certificate; touches neither ledger nor key.
  // Refusals, in this order: unknown_profile; profile_forbidden (the caller
  // may not request the profile, authorize_profile); the request's own
  // (parse_certificate_request, plan_leaf: name_policy, ...); for a renewal,
  // renewal_mismatch when the subject or the SANs differ from the renewed
  // certificate's or the profile is another.
  Outcome<LeafPlan> prepare(const IssuanceRequest& request, std::chrono::system_clock::time_point now) const;
  // Records the plan as pending, signs it, checks the result and records it
  // as issued; returns only once the issued row is durable. A failure after
  // the pending row marks it failed and throws. A renewal (plan.renews) also
  // revokes the renewed certificate as superseded, in the same transaction;
  // renewal_refused when it was renewed or revoked meanwhile.
  Outcome<IssuedCertificate> complete(const LeafPlan& plan, const std::string& profile, const std::string& requester);
  // prepare + complete.
  Outcome<IssuedCertificate> issue(const IssuanceRequest& request);

  // What the ledger says of a presented certificate: a read, no signature
  // check needed — only a certificate byte for byte equal to one this CA
  // recorded as issued counts as ours.
  Standing standing(X509* certificate, std::chrono::system_clock::time_point now) const;
  // What OCSP says of `serial_hex` (lowercase hex): good while issued,
  // revoked with its time and reason, unknown when pending, failed or absent
  // (no certificate went out). A ledger read.
  OcspStatus ocsp_status(const std::string& serial_hex) const;
  // Whether the holder of `certificate` may renew it (EST simplereenroll): it
  // is ours, issued, unrevoked and unexpired, and `named_profile` (an EST
  // label) is absent or its own profile. Rejection "renewal_refused" otherwise.
  Outcome<Renewal> renewal_of(X509* certificate, const std::optional<std::string>& named_profile,
                              std::chrono::system_clock::time_point now) const;
  // A full CRL of everything the ledger holds as revoked, valid for
  // `validity`, numbered with the ledger's next CRL number — taken before
  // signing, so a failed signature leaves a gap, never two CRLs with one number.
  IssuedCrl issue_crl(std::chrono::seconds validity);

  const std::string& issuer_id() const noexcept { return issuer_id_; }  // lowercase hex of the issuer's SKI
  X509* issuer_certificate() const noexcept { return issuer_.get(); }
  const std::vector<X509Ptr>& chain() const noexcept { return chain_; }
  std::string chain_pem() const;  // the issuer's certificate, then the chain above it
  const Profile* profile(const std::string& name) const noexcept;
  const std::vector<Profile>& profiles() const noexcept { return profiles_; }

 private:
  X509Ptr issuer_;
  std::vector<X509Ptr> chain_;
  Ledger& ledger_;
  std::vector<Profile> profiles_;
  IssuerContext context_;
  std::string issuer_id_;
};

// What a front end needs from a CA file: the token's session pool, the issuing
// key in it, the ledger and the CA over them.
class IssuingCa {
 public:
  // Connects to the token (PIN from the configured source), finds the key,
  // checks it against the issuer certificate (and likewise the delegated OCSP
  // responder's, when configured), opens the ledger.
  static std::unique_ptr<IssuingCa> open(const CaConfig& config, token::PoolOptions observers = {});
  ~IssuingCa();
  IssuingCa(const IssuingCa&) = delete;  // owns the token sessions and the ledger
  IssuingCa& operator=(const IssuingCa&) = delete;

  CertificateAuthority& ca() noexcept { return *ca_; }
  Ledger& ledger() noexcept { return *ledger_; }
  token::SessionPool& pool() noexcept { return *pool_; }
  const SigningKey& key() const noexcept { return *key_; }
  // The delegated OCSP responder's key and certificate (revocation.ocsp_signer,
  // same token); nullptr when the issuing key signs OCSP responses.
  const SigningKey* ocsp_key() const noexcept { return ocsp_key_.get(); }
  X509* ocsp_certificate() const noexcept { return ocsp_certificate_.get(); }

 private:
  IssuingCa() = default;
  std::unique_ptr<token::SessionPool> pool_;
  std::unique_ptr<SigningKey> key_;
  std::unique_ptr<SigningKey> ocsp_key_;
  X509Ptr ocsp_certificate_;
  std::unique_ptr<Ledger> ledger_;
  std::unique_ptr<CertificateAuthority> ca_;
};

// The id the ledger files a CA's certificates under: lowercase hex of its
// subject key identifier. std::invalid_argument when it has none.
std::string issuer_id(X509* ca_certificate);

// Every certificate in a PEM file, in order; ConfigError when there is none.
std::vector<X509Ptr> read_certificates(const std::filesystem::path& file);

}  // namespace hsmca::signer
