#include "hsmca/signer/certificate_authority.hpp"

#include <openssl/pem.h>

#include "hsmca/signer/strict_yaml.hpp"

namespace hsmca::signer {

std::vector<X509Ptr> read_certificates(const std::filesystem::path& file) {
  BioPtr bio(BIO_new_file(file.c_str(), "r"));
  if (!bio) {
    drain_openssl_errors();
    throw ConfigError("cannot read certificate file " + file.string());
  }
  std::vector<X509Ptr> certs;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) certs.emplace_back(cert);
  drain_openssl_errors();  // the loop ends on "no start line"
  if (certs.empty()) throw ConfigError(file.string() + " holds no PEM certificate");
  return certs;
}

std::string issuer_id(X509* cert) {
  const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(cert);
  if (ski == nullptr) throw std::invalid_argument("the issuer certificate has no subject key identifier");
  return to_hex({ASN1_STRING_get0_data(ski), static_cast<std::size_t>(ASN1_STRING_length(ski))});
}

CertificateAuthority::CertificateAuthority(X509Ptr issuer, std::vector<X509Ptr> chain, const SigningKey& key,
                                           Ledger& ledger, std::vector<Profile> profiles,
                                           RevocationSettings revocation)
    : issuer_(std::move(issuer)), chain_(std::move(chain)), ledger_(ledger), profiles_(std::move(profiles)) {
  if (!spki_matches(issuer_.get(), key.spki_der())) {
    throw std::invalid_argument("the issuer certificate does not carry the signing key's public key");
  }
  issuer_id_ = signer::issuer_id(issuer_.get());
  context_.certificate = issuer_.get();
  context_.key = &key;
  context_.crl_url = std::move(revocation.crl_url);
  context_.ocsp_url = std::move(revocation.ocsp_url);
  context_.issuer_url = std::move(revocation.issuer_url);
}

const Profile* CertificateAuthority::profile(const std::string& name) const noexcept {
  for (const auto& p : profiles_) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

std::string CertificateAuthority::chain_pem() const {
  std::string out = to_pem(issuer_.get());
  for (const auto& c : chain_) out += to_pem(c.get());
  return out;
}

Outcome<LeafPlan> CertificateAuthority::prepare(const IssuanceRequest& request,
                                                std::chrono::system_clock::time_point now) const {
  const Profile* p = profile(request.profile);
  if (p == nullptr) {
    std::string names;
    for (const auto& q : profiles_) names += (names.empty() ? "" : ", ") + q.name;
    return Rejection{"unknown_profile", "no profile '" + request.profile + "' (profiles: " + names + ")"};
  }
  auto parsed = parse_certificate_request(request.csr);
  if (!parsed.ok()) return parsed.rejection();
  return plan_leaf(parsed.value(), *p, context_, request.days, now);
}

IssuedCertificate CertificateAuthority::complete(const LeafPlan& plan, const std::string& profile,
                                                 const std::string& requester) {
  IssuanceRecord record;
  record.issuer_id = issuer_id_;
  record.serial = plan.serial_hex;
  record.subject = plan.subject;
  record.sans = plan.sans;
  record.tbs_sha256 = plan.tbs_sha256;
  record.profile = profile;
  record.requester = requester;
  record.not_before = plan.not_before;
  record.not_after = plan.not_after;
  // Durable before the key signs: a crash from here on leaves a pending row,
  // never a certificate the ledger lacks.
  const std::int64_t id = ledger_.record_pending(record);
  std::optional<IssuedCertificate> cert;
  try {
    cert.emplace(sign_planned(plan, context_));
  } catch (const std::exception& e) {
    try {
      ledger_.record_failed(id, e.what());
    } catch (...) {
      // The pending row stays: it already says the certificate may not exist.
    }
    throw;
  }
  ledger_.record_issued(id, cert->der());
  return std::move(*cert);
}

Outcome<IssuedCertificate> CertificateAuthority::issue(const IssuanceRequest& request) {
  // A serial collision among 126 random bits means a broken random source
  // more than bad luck; one fresh attempt, then the error stands.
  for (int attempt = 0;; ++attempt) {
    auto plan = prepare(request, std::chrono::system_clock::now());
    if (!plan.ok()) return plan.rejection();
    try {
      return complete(plan.value(), request.profile, request.requester);
    } catch (const DuplicateSerial&) {
      if (attempt > 0) throw;
    }
  }
}

IssuedCrl CertificateAuthority::issue_crl(std::chrono::seconds validity) {
  std::vector<RevokedEntry> entries;
  for (const auto& e : ledger_.revoked(issuer_id_)) {
    const auto reason = parse_revocation_reason(e.revocation_reason);
    if (!reason || !e.revoked_at) {
      throw std::runtime_error("the ledger holds revoked certificate " + e.record.serial + " with an unknown reason '" +
                               e.revocation_reason + "'");
    }
    entries.push_back({e.record.serial, *e.revoked_at, *reason});
  }
  const std::int64_t number = ledger_.next_crl_number(issuer_id_);
  const auto now = std::chrono::system_clock::now();
  return signer::issue_crl(context_, entries, number, now, now + validity);
}

IssuingCa::~IssuingCa() = default;

std::unique_ptr<IssuingCa> IssuingCa::open(const CaConfig& config, token::PoolOptions observers) {
  auto issuer_certs = read_certificates(config.issuer_certificate);
  std::vector<X509Ptr> chain;
  for (const auto& file : config.chain) {
    for (auto& c : read_certificates(file)) chain.push_back(std::move(c));
  }

  std::unique_ptr<IssuingCa> ca(new IssuingCa());
  ca->pool_ = config.pkcs11.connect(false, std::move(observers));
  // A key of the token, checked to be the key of `certificate`.
  auto token_key = [&](const std::string& label, X509* certificate, const std::filesystem::path& certificate_file,
                       const std::optional<token::SignatureScheme>& wanted, const char* what) {
    auto description = ca->pool_->with_session([&](token::Session& s) {
      return token::describe_key(s, token::find_key_pair(s, label));
    });
    auto type = token::key_type_of(description);
    if (!type) throw ConfigError(std::string(what) + " key '" + label + "' is a " + description.type + " key, which hsmca cannot sign with");
    token::SignatureScheme scheme = wanted.value_or(token::default_scheme(*type));
    if (!token::scheme_fits(scheme, *type)) {
      throw ConfigError("issuer.signature_algorithm " + std::string(token::scheme_name(scheme)) + " cannot be used with the " +
                        description.type + " key '" + label + "'");
    }
    if (!spki_matches(certificate, description.spki_der)) {
      throw ConfigError(certificate_file.string() + " is not the certificate of key '" + label + "' on token '" +
                        ca->pool_->token().label + "'");
    }
    return std::make_unique<TokenSigningKey>(*ca->pool_, label, scheme, description.spki_der);
  };
  ca->key_ = token_key(config.key_label, issuer_certs.front().get(), config.issuer_certificate,
                       config.signature_algorithm, "issuer");
  if (const auto& responder = config.revocation.ocsp_signer) {
    auto certs = read_certificates(responder->certificate);
    ca->ocsp_key_ = token_key(responder->key_label, certs.front().get(), responder->certificate, std::nullopt,
                              "revocation.ocsp_signer");
    ca->ocsp_certificate_ = std::move(certs.front());
  }
  ca->ledger_ = Ledger::open(config.ledger);
  ca->ca_ = std::make_unique<CertificateAuthority>(std::move(issuer_certs.front()), std::move(chain), *ca->key_,
                                                   *ca->ledger_, config.profiles, config.revocation);
  return ca;
}

}  // namespace hsmca::signer
