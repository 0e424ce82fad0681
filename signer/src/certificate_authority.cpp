#include "hsmca/signer/certificate_authority.hpp"

#include <openssl/pem.h>

#include <algorithm>

#include "hsmca/signer/clock.hpp"
#include "hsmca/signer/strict_yaml.hpp"
#include "x509_build.hpp"

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
    // Only the profiles this caller may have: the others are not its business.
    std::string names;
    for (const auto& q : requestable_profiles(profiles_, request.caller)) names += (names.empty() ? "" : ", ") + q;
    return Rejection{"unknown_profile", "no profile '" + request.profile + "' (profiles you may request: " +
                                            (names.empty() ? "none" : names) + ")"};
  }
  // A renewal is authorized by the certificate it renews (RFC 7030 4.2.2:
  // the holder authenticates with it; renewal_of checked it is ours,
  // issued, unrevoked and unexpired): a device bootstrapped with a password
  // renews without one. Only for profiles remote callers may request at all;
  // a profile for `hsmca sign` alone is renewed there.
  const bool renewing_own = request.renewal && request.renewal->profile == p->name && !p->requesters.empty();
  if (!renewing_own) {
    if (auto refused = authorize_profile(*p, request.caller)) return *refused;
  }
  if (request.renewal && request.renewal->profile != p->name) {
    return Rejection{"renewal_mismatch", "certificate " + request.renewal->serial + " was issued under profile \"" +
                                             request.renewal->profile + "\"; a renewal keeps its profile"};
  }
  auto parsed = parse_certificate_request(request.csr);
  if (!parsed.ok()) return parsed.rejection();
  if (!p->key_types.empty() &&
      std::find(p->key_types.begin(), p->key_types.end(), parsed.value().key_type) == p->key_types.end()) {
    std::string allowed;
    for (const auto& t : p->key_types) allowed += (allowed.empty() ? "" : ", ") + t;
    return Rejection{"key_policy", "profile '" + p->name + "' takes " + allowed + " keys; the request has an " +
                                       parsed.value().key_type + " key"};
  }
  // An ACME account proved control of names and nothing else: its
  // certificate names no organisation, unit or country its CSR claims.
  const bool names_proven_only = std::find(request.caller.roles.begin(), request.caller.roles.end(), kRoleAcme) !=
                                 request.caller.roles.end();
  auto plan = plan_leaf(parsed.value(), *p, context_, request.days, now,
                        names_proven_only ? SubjectRule::common_name_only : SubjectRule::as_requested);
  if (plan.ok() && request.renewal) {
    // RFC 7030 4.2.2: the renewal's Subject and SubjectAltName are those of
    // the certificate it renews; compared as the ledger records both.
    const Renewal& old = *request.renewal;
    auto sorted = [](std::vector<std::string> v) {
      std::sort(v.begin(), v.end());
      return v;
    };
    if (plan.value().subject != old.subject) {
      return Rejection{"renewal_mismatch", "the request's subject \"" + plan.value().subject +
                                               "\" differs from the renewed certificate's \"" + old.subject + "\""};
    }
    if (sorted(plan.value().sans) != sorted(old.sans)) {
      std::string asked, had;
      for (const auto& s : plan.value().sans) asked += (asked.empty() ? "" : ", ") + s;
      for (const auto& s : old.sans) had += (had.empty() ? "" : ", ") + s;
      return Rejection{"renewal_mismatch", "the request's names (" + (asked.empty() ? "none" : asked) +
                                               ") differ from the renewed certificate's (" +
                                               (had.empty() ? "none" : had) + ")"};
    }
    plan.value().renews = old.serial;
  }
  return plan;
}

std::string_view standing_name(Standing::Status status) noexcept {
  switch (status) {
    case Standing::Status::not_ours: return "not issued by this CA";
    case Standing::Status::issued: return "issued";
    case Standing::Status::revoked: return "revoked";
    case Standing::Status::expired: return "expired";
  }
  return "unknown";
}

OcspStatus CertificateAuthority::ocsp_status(const std::string& serial_hex) const {
  OcspStatus out;
  auto entry = ledger_.find(issuer_id_, serial_hex);
  if (!entry) return out;
  if (entry->status == CertificateStatus::issued) {
    out.status = OcspStatus::Status::good;
  } else if (entry->status == CertificateStatus::revoked) {
    out.status = OcspStatus::Status::revoked;
    out.revoked_at = entry->revoked_at.value_or(0);
    out.reason = entry->revocation_reason.value_or(RevocationReason::unspecified);
  }
  return out;
}

Standing CertificateAuthority::standing(X509* certificate, std::chrono::system_clock::time_point now) const {
  Standing out;
  if (certificate == nullptr) return out;
  // Cheap refusals first: another issuer's certificate costs no ledger read.
  if (X509_NAME_cmp(X509_get_issuer_name(certificate), X509_get_subject_name(issuer_.get())) != 0) return out;
  auto entry = ledger_.find(issuer_id_, detail::serial_hex(X509_get0_serialNumber(certificate)));
  if (!entry || entry->der.empty()) return out;
  const Bytes der = to_der(certificate);
  if (der.size() != entry->der.size() || !std::equal(der.begin(), der.end(), entry->der.begin())) return out;
  const std::int64_t t = unix_seconds(now);
  if (entry->status == CertificateStatus::revoked) {
    out.status = Standing::Status::revoked;
  } else if (entry->status != CertificateStatus::issued) {
    return out;
  } else if (t < entry->record.not_before || t >= entry->record.not_after) {
    out.status = Standing::Status::expired;
  } else {
    out.status = Standing::Status::issued;
  }
  out.entry = std::move(entry);
  return out;
}

Outcome<Renewal> CertificateAuthority::renewal_of(X509* certificate, const std::optional<std::string>& named_profile,
                                                  std::chrono::system_clock::time_point now) const {
  auto found = standing(certificate, now);
  if (found.status != Standing::Status::issued) {
    return Rejection{"renewal_refused", "the certificate presented for renewal is " +
                                            std::string(standing_name(found.status)) +
                                            ": only an unrevoked, unexpired certificate of this CA can be renewed"};
  }
  const auto& record = found.entry->record;
  if (named_profile && *named_profile != record.profile) {
    return Rejection{"renewal_refused", "certificate " + record.serial + " was issued under profile \"" +
                                            record.profile + "\", not \"" + *named_profile +
                                            "\": a renewal keeps its profile (RFC 7030 4.2.2)"};
  }
  return Renewal{record.serial, record.profile, record.subject, record.sans};
}

Outcome<IssuedCertificate> CertificateAuthority::complete(const LeafPlan& plan, const std::string& profile,
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
  // A token known to be away is refused before anything is recorded: an
  // outage costs no row per request.
  context_.key->check_available();
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
  if (!plan.renews) {
    ledger_.record_issued(id, cert->der());
    return std::move(*cert);
  }
  if (!ledger_.record_renewal_issued(id, cert->der(), issuer_id_, *plan.renews,
                                     unix_seconds(std::chrono::system_clock::now()))) {
    // Another renewal of it, or a revocation, came first: this one never goes out.
    const std::string why = "certificate " + *plan.renews + " was renewed or revoked while this renewal was made";
    ledger_.record_failed(id, why);
    return Rejection{"renewal_refused", why};
  }
  return std::move(*cert);
}

Outcome<IssuedCertificate> CertificateAuthority::issue(const IssuanceRequest& request) {
  // A serial collision among 126 random bits means a broken random source
  // more than bad luck; one fresh attempt, then the error stands.
  for (int attempt = 0;; ++attempt) {
    auto plan = prepare(request, std::chrono::system_clock::now());
    if (!plan.ok()) return plan.rejection();
    try {
      return complete(plan.value(), request.profile, request.caller.description);
    } catch (const DuplicateSerial&) {
      if (attempt > 0) throw;
    }
  }
}

IssuedCrl CertificateAuthority::issue_crl(std::chrono::seconds validity) {
  std::vector<RevokedEntry> entries;
  for (const auto& e : ledger_.revoked(issuer_id_)) {
    if (!e.revocation_reason || !e.revoked_at) {
      throw std::runtime_error("the ledger holds revoked certificate " + e.record.serial + " without a reason or time");
    }
    entries.push_back({e.record.serial, *e.revoked_at, *e.revocation_reason});
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
  ca->key_ = open_token_key(*ca->pool_, config.key_label, issuer_certs.front().get(), config.issuer_certificate,
                            config.signature_algorithm, "issuer")
                 .key;
  if (const auto& responder = config.revocation.ocsp_signer) {
    auto certs = read_certificates(responder->certificate);
    ca->ocsp_key_ = open_token_key(*ca->pool_, responder->key_label, certs.front().get(), responder->certificate,
                                   std::nullopt, "revocation.ocsp_signer")
                        .key;
    ca->ocsp_certificate_ = std::move(certs.front());
  }
  ca->ledger_ = open_sqlite_ledger(config.ledger);
  ca->ca_ = std::make_unique<CertificateAuthority>(std::move(issuer_certs.front()), std::move(chain), *ca->key_,
                                                   *ca->ledger_, config.profiles, config.revocation);
  return ca;
}

}  // namespace hsmca::signer
