#pragma once
#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "hsmca/signer/ca_config.hpp"
#include "hsmca/signer/leaf.hpp"
#include "hsmca/signer/ledger.hpp"
#include "hsmca/signer/revocation.hpp"

namespace hsmca::signer {

struct IssuanceRequest {
  std::span<const unsigned char> csr;  // PEM or DER PKCS#10
  std::string profile;
  std::optional<int> days;             // shorter than the profile's, never longer
  std::string requester;               // who asked: "cli:alice@host", "mtls:CN=...", "bearer:enroll"
};

// An issuing CA: decides certificates from requests, records them in the
// ledger before the key signs, checks them after, and hands out only what the
// ledger holds as issued. Safe to call from many threads at once.
class CertificateAuthority {
 public:
  // Throws std::invalid_argument when `key` is not the key of `issuer`.
  CertificateAuthority(X509Ptr issuer, std::vector<X509Ptr> chain, const SigningKey& key, Ledger& ledger,
                       std::vector<Profile> profiles, RevocationSettings revocation);

  // Decides and checks the certificate; touches neither ledger nor key.
  Outcome<LeafPlan> prepare(const IssuanceRequest& request, std::chrono::system_clock::time_point now) const;
  // Records the plan as pending, signs it, checks the result and records it
  // as issued; returns only once the issued row is durable. A failure after
  // the pending row marks it failed and throws.
  IssuedCertificate complete(const LeafPlan& plan, const std::string& profile, const std::string& requester);
  // prepare + complete.
  Outcome<IssuedCertificate> issue(const IssuanceRequest& request);
  // A full CRL of everything the ledger holds as revoked, valid for
  // `validity`, numbered with the ledger's next CRL number — taken before
  // signing, so a failed signature leaves a gap, never two CRLs with one number.
  IssuedCrl issue_crl(std::chrono::seconds validity);

  const std::string& issuer_id() const noexcept { return issuer_id_; }  // lowercase hex of the issuer's SKI
  X509* issuer_certificate() const noexcept { return issuer_.get(); }
  const std::vector<X509Ptr>& chain() const noexcept { return chain_; }
  std::string chain_pem() const;  // the issuer's certificate, then the chain above it
  const Profile* profile(const std::string& name) const noexcept;

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
