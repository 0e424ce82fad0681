#include "hsmca/signer/leaf.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>
#include <string_view>

#include "hsmca/signer/algorithm.hpp"
#include "hsmca/signer/clock.hpp"
#include "hsmca/signer/name_policy.hpp"
#include "hsmca/signer/signed_object.hpp"
#include "name_rules.hpp"
#include "x509_build.hpp"

namespace hsmca::signer {
namespace {

using detail::check;

using GeneralNamePtr = std::unique_ptr<GENERAL_NAME, Free<GENERAL_NAME_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, Free<GENERAL_NAMES_free>>;
using ExtendedKeyUsagePtr = std::unique_ptr<EXTENDED_KEY_USAGE, Free<EXTENDED_KEY_USAGE_free>>;
using CrlDistPointsPtr = std::unique_ptr<CRL_DIST_POINTS, Free<CRL_DIST_POINTS_free>>;
using DistPointPtr = std::unique_ptr<DIST_POINT, Free<DIST_POINT_free>>;
using AuthorityInfoAccessPtr = std::unique_ptr<AUTHORITY_INFO_ACCESS, Free<AUTHORITY_INFO_ACCESS_free>>;
using AccessDescriptionPtr = std::unique_ptr<ACCESS_DESCRIPTION, Free<ACCESS_DESCRIPTION_free>>;
using Ia5StringPtr = std::unique_ptr<ASN1_IA5STRING, Free<ASN1_IA5STRING_free>>;

// Certificates start a minute in the past so that a relying party whose clock
// lags a little does not reject a certificate fresh from the CA.
constexpr std::int64_t kBackdateSeconds = 60;
constexpr std::int64_t kSecondsPerDay = 86400;

Rejection lint(std::string message) { return {"lint", std::move(message)}; }

int eku_nid(ExtendedKeyUsage eku) {
  switch (eku) {
    case ExtendedKeyUsage::server_auth: return NID_server_auth;
    case ExtendedKeyUsage::client_auth: return NID_client_auth;
    case ExtendedKeyUsage::code_signing: return NID_code_sign;
    case ExtendedKeyUsage::email_protection: return NID_email_protect;
    case ExtendedKeyUsage::time_stamping: return NID_time_stamp;
    case ExtendedKeyUsage::ocsp_signing: return NID_OCSP_sign;
  }
  throw std::invalid_argument("unknown extended key usage");
}

void require_issuer(const IssuerContext& issuer) {
  if (issuer.certificate == nullptr || issuer.key == nullptr) {
    throw std::invalid_argument("IssuerContext needs the issuer's certificate and key");
  }
}

// IA5String (URI) holds ASCII; spaces and control characters have no place in
// a URL a relying party is to fetch.
using names::visible_ascii;

GeneralNamePtr ia5_name(int type, const std::string& value) {
  Ia5StringPtr ia5(ASN1_IA5STRING_new());
  if (!ia5) throw OpenSslError("ASN1_IA5STRING_new");
  check(ASN1_STRING_set(ia5.get(), value.data(), static_cast<int>(value.size())), "ASN1_STRING_set");
  GeneralNamePtr name(GENERAL_NAME_new());
  if (!name) throw OpenSslError("GENERAL_NAME_new");
  GENERAL_NAME_set0_value(name.get(), type, ia5.release());
  return name;
}

// A name grant_names granted (so already checked and canonical), in the form
// the certificate carries it.
GeneralNamePtr general_name(const SubjectAltName& san) {
  switch (san.kind) {
    case SubjectAltName::Kind::dns: return ia5_name(GEN_DNS, san.value);
    case SubjectAltName::Kind::email: return ia5_name(GEN_EMAIL, san.value);
    case SubjectAltName::Kind::uri: return ia5_name(GEN_URI, san.value);
    case SubjectAltName::Kind::ip: {
      Asn1OctetStringPtr octets(a2i_IPADDRESS(san.value.c_str()));
      if (!octets) throw OpenSslError("a2i_IPADDRESS(" + san.value + ")");
      GeneralNamePtr name(GENERAL_NAME_new());
      if (!name) throw OpenSslError("GENERAL_NAME_new");
      GENERAL_NAME_set0_value(name.get(), GEN_IPADD, octets.release());
      return name;
    }
  }
  throw std::invalid_argument("a subjectAltName of an unknown kind");
}

void check_url(const std::optional<std::string>& url, const char* what) {
  if (url && !visible_ascii(*url)) {
    throw std::invalid_argument(std::string("issuer ") + what + " must be a URL of visible ASCII characters");
  }
}

// RFC 5280 4.2.1.13 and 4.2.2.1: where relying parties find the issuer's CRL,
// its OCSP responder and its certificate; added to every certificate it signs.
void add_issuer_urls(X509* cert, const IssuerContext& issuer) {
  check_url(issuer.crl_url, "crl_url");
  check_url(issuer.ocsp_url, "ocsp_url");
  check_url(issuer.issuer_url, "issuer_url");
  if (issuer.crl_url) {
    GeneralNamesPtr names(GENERAL_NAMES_new());
    if (!names) throw OpenSslError("GENERAL_NAMES_new");
    GeneralNamePtr uri = ia5_name(GEN_URI, *issuer.crl_url);
    if (sk_GENERAL_NAME_push(names.get(), uri.get()) <= 0) throw OpenSslError("sk_GENERAL_NAME_push");
    uri.release();
    DistPointPtr point(DIST_POINT_new());
    if (!point || !(point->distpoint = DIST_POINT_NAME_new())) throw OpenSslError("DIST_POINT_new");
    point->distpoint->type = 0;  // fullName
    point->distpoint->name.fullname = names.release();
    CrlDistPointsPtr points(CRL_DIST_POINTS_new());
    if (!points || sk_DIST_POINT_push(points.get(), point.get()) <= 0) throw OpenSslError("CRL_DIST_POINTS");
    point.release();
    detail::add_extension(cert, NID_crl_distribution_points, points.get(), false);
  }
  if (issuer.ocsp_url || issuer.issuer_url) {
    AuthorityInfoAccessPtr access(AUTHORITY_INFO_ACCESS_new());
    if (!access) throw OpenSslError("AUTHORITY_INFO_ACCESS_new");
    auto add = [&access](int method, const std::string& url) {
      AccessDescriptionPtr description(ACCESS_DESCRIPTION_new());
      if (!description) throw OpenSslError("ACCESS_DESCRIPTION_new");
      ASN1_OBJECT_free(description->method);
      description->method = OBJ_nid2obj(method);
      GENERAL_NAME_free(description->location);
      description->location = ia5_name(GEN_URI, url).release();
      if (sk_ACCESS_DESCRIPTION_push(access.get(), description.get()) <= 0) {
        throw OpenSslError("sk_ACCESS_DESCRIPTION_push");
      }
      description.release();
    };
    if (issuer.ocsp_url) add(NID_ad_OCSP, *issuer.ocsp_url);
    if (issuer.issuer_url) add(NID_ad_ca_issuers, *issuer.issuer_url);
    detail::add_extension(cert, NID_info_access, access.get(), false);
  }
}

// A validity in seconds since the epoch whose notAfter is no later than the
// issuer's: a relying party stops trusting the certificate with its issuer in
// any case, and RFC 5280 6.1.3 path validation would refuse it past that date.
struct Validity {
  std::int64_t not_before = 0;
  std::int64_t not_after = 0;
  bool clamped = false;  // not_after was cut to the issuer's
};

Validity clamp_to_issuer(const IssuerContext& issuer, std::int64_t not_before, std::int64_t not_after) {
  const std::int64_t issuer_not_after = unix_seconds(X509_get0_notAfter(issuer.certificate));
  return {not_before, std::min(not_after, issuer_not_after), not_after > issuer_not_after};
}

// The fields every certificate the issuer signs shares: version, serial,
// issuer name, validity, subject key.
X509Ptr new_certificate(const IssuerContext& issuer, std::int64_t not_before, std::int64_t not_after) {
  X509Ptr cert(X509_new());
  if (!cert) throw OpenSslError("X509_new");
  check(X509_set_version(cert.get(), X509_VERSION_3), "X509_set_version");
  check(X509_set_serialNumber(cert.get(), detail::random_serial().get()), "X509_set_serialNumber");
  check(X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer.certificate)), "X509_set_issuer_name");
  check(X509_set1_notBefore(cert.get(), detail::asn1_time(static_cast<std::time_t>(not_before)).get()),
        "X509_set1_notBefore");
  check(X509_set1_notAfter(cert.get(), detail::asn1_time(static_cast<std::time_t>(not_after)).get()),
        "X509_set1_notAfter");
  return cert;
}

// An extension decoded straight from the certificate's extension list, not
// through OpenSSL's per-certificate cache, which a certificate still being
// built (or altered after it was planned) may have filled from older contents.
template <typename T>
struct Decoded {
  std::unique_ptr<T, void (*)(T*)> value;
  int critical = -1;  // -1 when absent
};

template <typename T>
Decoded<T> decoded(X509* cert, int nid, void (*free_fn)(T*)) {
  int critical = -1;
  T* value = static_cast<T*>(X509_get_ext_d2i(cert, nid, &critical, nullptr));
  return {std::unique_ptr<T, void (*)(T*)>(value, free_fn), value ? critical : -1};
}

// The checks shared by leaves (ca = false) and subordinate CAs (ca = true); the
// first that fails, in words.
std::optional<std::string> first_problem(X509* cert, const IssuerContext& issuer, bool ca) {
  if (X509_get_version(cert) != X509_VERSION_3) return "not a version 3 certificate";

  const ASN1_INTEGER* serial = X509_get0_serialNumber(cert);
  BignumPtr serial_bn(ASN1_INTEGER_to_BN(serial, nullptr));
  if (!serial_bn) throw OpenSslError("ASN1_INTEGER_to_BN");
  if (BN_is_negative(serial_bn.get()) || BN_is_zero(serial_bn.get())) return "serial number is not positive";
  if (BN_num_bits(serial_bn.get()) < 64) return "serial number has fewer than 64 bits";
  // DER content octets: the magnitude plus a 0x00 pad when its top bit is set.
  const int serial_octets = BN_num_bytes(serial_bn.get()) + (BN_num_bits(serial_bn.get()) % 8 == 0 ? 1 : 0);
  if (serial_octets > 20) return "serial number is longer than 20 octets (RFC 5280 4.1.2.2)";

  if (X509_ALGOR_cmp(X509_get0_tbs_sigalg(cert), signature_algorithm(issuer.key->scheme()).get()) != 0) {
    return "signature algorithm is not the issuer key's " + std::string(token::scheme_name(issuer.key->scheme()));
  }
  if (X509_NAME_cmp(X509_get_issuer_name(cert), X509_get_subject_name(issuer.certificate)) != 0) {
    return "issuer name is not the issuer certificate's subject";
  }
  if (X509_check_ca(issuer.certificate) != 1) {
    return "the issuer certificate is not a CA certificate allowed to sign certificates";
  }

  const ASN1_TIME* not_before = X509_get0_notBefore(cert);
  const ASN1_TIME* not_after = X509_get0_notAfter(cert);
  if (ASN1_TIME_compare(not_before, not_after) >= 0) return "notBefore is not before notAfter";
  if (ASN1_TIME_compare(not_after, X509_get0_notAfter(issuer.certificate)) > 0) {
    return "notAfter is later than the issuer certificate's notAfter";
  }

  const int count = X509_get_ext_count(cert);
  for (int i = 0; i < count; ++i) {
    const ASN1_OBJECT* oid = X509_EXTENSION_get_object(X509_get_ext(cert, i));
    for (int j = i + 1; j < count; ++j) {
      if (OBJ_cmp(oid, X509_EXTENSION_get_object(X509_get_ext(cert, j))) == 0) {
        std::array<char, 80> name{};
        OBJ_obj2txt(name.data(), static_cast<int>(name.size()), oid, 0);
        return "duplicate extension " + std::string(name.data());
      }
    }
  }

  auto basic = decoded<BASIC_CONSTRAINTS>(cert, NID_basic_constraints, BASIC_CONSTRAINTS_free);
  if (!basic.value || basic.critical != 1) return "basicConstraints missing or not critical";
  if ((basic.value->ca != 0) != ca) return ca ? "basicConstraints is not CA:TRUE" : "basicConstraints is not CA:FALSE";
  if (!ca && basic.value->pathlen != nullptr) return "pathLenConstraint in a certificate that is not a CA";

  auto usage = decoded<ASN1_BIT_STRING>(cert, NID_key_usage, ASN1_BIT_STRING_free);
  if (!usage.value || usage.critical != 1) return "keyUsage missing or not critical";
  auto has_usage = [&usage](int bit) { return ASN1_BIT_STRING_get_bit(usage.value.get(), bit) == 1; };
  if (has_usage(detail::kKeyEncipherment) && detail::public_key_nid(cert) != NID_rsaEncryption) {
    return "keyEncipherment for a key that cannot encipher (only RSA keys can)";
  }
  if (ca != has_usage(detail::kKeyCertSign)) {
    return ca ? "keyUsage of a CA lacks keyCertSign" : "keyUsage keyCertSign in a certificate that is not a CA";
  }
  if (!ca && has_usage(detail::kCrlSign)) return "keyUsage cRLSign in a certificate that is not a CA";

  bool server = false;
  if (auto eku = decoded<EXTENDED_KEY_USAGE>(cert, NID_ext_key_usage, EXTENDED_KEY_USAGE_free); eku.value) {
    for (int i = 0; i < sk_ASN1_OBJECT_num(eku.value.get()); ++i) {
      const int nid = OBJ_obj2nid(sk_ASN1_OBJECT_value(eku.value.get(), i));
      if (nid == NID_server_auth) server = true;
      if (nid == NID_anyExtendedKeyUsage) return "extendedKeyUsage anyExtendedKeyUsage";
      // RFC 5280 4.2.1.12 / RFC 5246 7.4.2: TLS authenticates with a signature
      // (or, for RSA servers, key transport).
      if ((nid == NID_server_auth || nid == NID_client_auth) && !has_usage(detail::kDigitalSignature) &&
          !has_usage(detail::kKeyEncipherment)) {
        return "extendedKeyUsage for TLS but keyUsage allows neither digitalSignature nor keyEncipherment";
      }
    }
  }

  auto sans = decoded<GENERAL_NAMES>(cert, NID_subject_alt_name, GENERAL_NAMES_free);
  if (server && (!sans.value || sk_GENERAL_NAME_num(sans.value.get()) == 0)) {
    return "server certificate without subjectAltName";
  }
  // RFC 5280 4.2.1.6: with an empty subject the SAN carries the identity and must be critical.
  if (X509_NAME_entry_count(X509_get_subject_name(cert)) == 0 && (!sans.value || sans.critical != 1)) {
    return "empty subject without a critical subjectAltName";
  }

  if (X509_get_ext_by_NID(cert, NID_subject_key_identifier, -1) < 0) return "subjectKeyIdentifier missing";
  auto authority = decoded<AUTHORITY_KEYID>(cert, NID_authority_key_identifier, AUTHORITY_KEYID_free);
  if (!authority.value || authority.value->keyid == nullptr ||
      ASN1_OCTET_STRING_cmp(authority.value->keyid, detail::issuer_key_identifier(issuer.certificate).get()) != 0) {
    return "authorityKeyIdentifier does not name the issuer's key";
  }
  return std::nullopt;
}

}  // namespace

Outcome<LeafPlan> plan_leaf(const CertificateRequest& request, const Profile& profile, const IssuerContext& issuer,
                            std::optional<int> days, std::chrono::system_clock::time_point now,
                            SubjectRule subject_rule) {
  require_issuer(issuer);
  if (!request.request) throw std::invalid_argument("plan_leaf needs a parsed request");
  if (profile.validity_days < 1) {
    throw std::invalid_argument("profile \"" + profile.name + "\" has a validity of less than one day");
  }
  if (days && *days < 1) {
    return Rejection{"invalid_validity", "days must be at least 1, not " + std::to_string(*days)};
  }

  X509NamePtr common_name_only;
  if (subject_rule == SubjectRule::common_name_only) {
    common_name_only.reset(X509_NAME_new());
    if (!common_name_only) throw OpenSslError("X509_NAME_new");
    const std::string cn = request.common_name();
    if (!cn.empty()) {
      check(X509_NAME_add_entry_by_NID(common_name_only.get(), NID_commonName, MBSTRING_UTF8,
                                       reinterpret_cast<const unsigned char*>(cn.data()), static_cast<int>(cn.size()),
                                       -1, 0),
            "X509_NAME_add_entry_by_NID");
    }
  }
  const X509_NAME* subject = common_name_only ? common_name_only.get() : request.subject();
  // A leaf named as its issuer reads, to a path builder, as the CA itself.
  if (X509_NAME_entry_count(subject) > 0 && X509_NAME_cmp(subject, X509_get_subject_name(issuer.certificate)) == 0) {
    return Rejection{"name_policy", "the request's subject is the issuing CA's own name"};
  }
  auto names = grant_names(request, profile.names, profile.name);
  if (!names.ok()) return names.rejection();
  const std::vector<SubjectAltName>& granted = names.value();
  if (request.common_name().empty() && granted.empty()) {
    return Rejection{"no_identity", "the request names no subject common name and no subjectAltName"};
  }

  const std::int64_t now_s = unix_seconds(now);
  const std::int64_t granted_days = std::min(days.value_or(profile.validity_days), profile.validity_days);
  const auto [not_before, not_after, clamped] =
      clamp_to_issuer(issuer, now_s - kBackdateSeconds, now_s + granted_days * kSecondsPerDay);

  X509Ptr cert = new_certificate(issuer, not_before, not_after);
  check(X509_set_subject_name(cert.get(), subject), "X509_set_subject_name");
  // The key the request proved possession of, exactly as the request carries it.
  detail::copy_public_key(cert.get(), X509_REQ_get_X509_PUBKEY(request.request.get()));

  detail::add_basic_constraints(cert.get(), false, std::nullopt);
  // keyEncipherment only where RSA key transport can happen: a TLS server's RSA
  // key in TLS 1.2's RSA key exchange.
  if (profile.server() && detail::public_key_nid(cert.get()) == NID_rsaEncryption) {
    detail::add_key_usage(cert.get(), {detail::kDigitalSignature, detail::kKeyEncipherment});
  } else {
    detail::add_key_usage(cert.get(), {detail::kDigitalSignature});
  }
  if (!profile.extended_key_usage.empty()) {
    ExtendedKeyUsagePtr eku(EXTENDED_KEY_USAGE_new());
    if (!eku) throw OpenSslError("EXTENDED_KEY_USAGE_new");
    std::vector<int> added;
    for (ExtendedKeyUsage usage : profile.extended_key_usage) {
      const int nid = eku_nid(usage);
      if (std::ranges::find(added, nid) != added.end()) continue;
      added.push_back(nid);
      // OBJ_nid2obj returns a static object; EXTENDED_KEY_USAGE_free leaves it be.
      if (sk_ASN1_OBJECT_push(eku.get(), OBJ_nid2obj(nid)) <= 0) throw OpenSslError("sk_ASN1_OBJECT_push");
    }
    detail::add_extension(cert.get(), NID_ext_key_usage, eku.get(), false);
  }
  detail::add_key_identifiers(cert.get(), *detail::issuer_key_identifier(issuer.certificate));

  LeafPlan plan;
  if (!granted.empty()) {
    GeneralNamesPtr general_names(GENERAL_NAMES_new());
    if (!general_names) throw OpenSslError("GENERAL_NAMES_new");
    for (const SubjectAltName& san : granted) {
      GeneralNamePtr name = general_name(san);
      if (sk_GENERAL_NAME_push(general_names.get(), name.get()) <= 0) throw OpenSslError("sk_GENERAL_NAME_push");
      name.release();
      plan.sans.push_back(san.str());
    }
    // RFC 5280 4.2.1.6: critical when the subject is empty.
    detail::add_extension(cert.get(), NID_subject_alt_name, general_names.get(),
                          X509_NAME_entry_count(subject) == 0);
  }
  add_issuer_urls(cert.get(), issuer);
  detail::set_signature_algorithm(cert.get(), issuer.key->scheme());

  if (auto problem = check_before_signing(cert.get(), issuer)) return *problem;

  plan.serial_hex = detail::serial_hex(X509_get0_serialNumber(cert.get()));
  plan.subject = detail::rfc2253(subject);
  plan.tbs_sha256 = sha256_hex(detail::encode_tbs(cert.get()));
  plan.not_before = not_before;
  plan.not_after = not_after;
  plan.tbs = std::move(cert);
  return plan;
}

std::optional<Rejection> check_before_signing(X509* tbs, const IssuerContext& issuer) {
  require_issuer(issuer);
  if (tbs == nullptr) throw std::invalid_argument("check_before_signing needs a certificate");
  if (auto problem = first_problem(tbs, issuer, false)) return lint(std::move(*problem));
  return std::nullopt;
}

IssuedCertificate sign_planned(const LeafPlan& plan, const IssuerContext& issuer) {
  require_issuer(issuer);
  if (!plan.tbs) throw std::invalid_argument("sign_planned needs a plan");
  // What is signed is what was checked and what the ledger recorded as pending.
  const Bytes tbs = detail::encode_tbs(plan.tbs.get());
  if (sha256_hex(tbs) != plan.tbs_sha256) {
    throw VerificationError("the certificate changed after it was planned and checked");
  }
  // The hot path. sign_tbs verifies the signature over exactly these bytes
  // under the key's public key; when the issuer certificate carries that very
  // key, that is the check relying parties will make, and the certificate is
  // the checked TBS plus that signature by construction: no parse needed.
  if (detail::spki_der_of(issuer.certificate) == issuer.key->spki_der()) {
    return IssuedCertificate::assembled(sign_tbs(*issuer.key, tbs), plan.serial_hex);
  }
  return detail::sign_certificate(tbs, *issuer.key, issuer.certificate);
}

SubordinateCertificate issue_subordinate_ca(const IssuerContext& issuer, const Bytes& subject_spki,
                                            const SubordinateSpec& spec) {
  require_issuer(issuer);
  if (spec.path_length < 0) throw std::invalid_argument("path_length must not be negative");
  if (X509_check_ca(issuer.certificate) != 1) {
    throw std::invalid_argument("the issuer certificate is not a CA certificate allowed to sign certificates");
  }
  // RFC 5280 4.2.1.9: the issuer's pathLenConstraint counts the CA certificates
  // that may follow it in a path, this one included.
  if (const long issuer_path_length = X509_get_pathlen(issuer.certificate);
      issuer_path_length >= 0 && spec.path_length >= issuer_path_length) {
    throw std::invalid_argument("the issuer's pathLenConstraint " + std::to_string(issuer_path_length) +
                                " does not allow a subordinate CA with path_length " +
                                std::to_string(spec.path_length));
  }
  X509NamePtr subject = to_x509_name(spec.subject);
  const auto [not_before, not_after, clamped] =
      clamp_to_issuer(issuer, unix_seconds(spec.not_before), unix_seconds(spec.not_after));
  if (not_after <= not_before) {
    throw std::invalid_argument(clamped ? "the issuer's certificate expires before the subordinate's not_before"
                                        : "not_after must be later than not_before");
  }

  X509Ptr cert = new_certificate(issuer, not_before, not_after);
  check(X509_set_subject_name(cert.get(), subject.get()), "X509_set_subject_name");
  // The ceremony records the key the token gave; certify exactly that.
  if (!detail::set_public_key(cert.get(), subject_spki)) {
    throw std::invalid_argument("the subordinate key's SubjectPublicKeyInfo is not in canonical DER");
  }
  detail::add_basic_constraints(cert.get(), true, spec.path_length);
  // digitalSignature too: an issuing CA signs OCSP responses with its own key.
  detail::add_key_usage(cert.get(), {detail::kDigitalSignature, detail::kKeyCertSign, detail::kCrlSign});
  detail::add_key_identifiers(cert.get(), *detail::issuer_key_identifier(issuer.certificate));
  add_issuer_urls(cert.get(), issuer);
  detail::set_signature_algorithm(cert.get(), issuer.key->scheme());

  if (auto problem = first_problem(cert.get(), issuer, true)) {
    throw std::invalid_argument("the subordinate CA certificate fails a pre-issuance check: " + *problem);
  }
  const Bytes tbs = detail::encode_tbs(cert.get());
  return {detail::sign_certificate(tbs, *issuer.key, issuer.certificate), clamped};
}

OcspResponderCertificate issue_ocsp_responder(const IssuerContext& issuer, const Bytes& responder_spki,
                                              const OcspResponderSpec& spec) {
  require_issuer(issuer);
  if (X509_check_ca(issuer.certificate) != 1) {
    throw std::invalid_argument("the issuer certificate is not a CA certificate allowed to sign certificates");
  }
  X509NamePtr subject = to_x509_name(spec.subject);
  const std::int64_t not_before = unix_seconds(spec.not_before);
  const std::int64_t requested_not_after = unix_seconds(spec.not_after);
  if (requested_not_after <= not_before) throw std::invalid_argument("not_after must be later than not_before");
  if (requested_not_after - not_before > std::int64_t{kMaxOcspResponderDays} * kSecondsPerDay) {
    throw std::invalid_argument("an OCSP responder certificate may be valid for at most " +
                                std::to_string(kMaxOcspResponderDays) +
                                " days: nobody checks whether it is revoked (id-pkix-ocsp-nocheck)");
  }
  const Validity validity = clamp_to_issuer(issuer, not_before, requested_not_after);
  if (validity.not_after <= not_before) {
    throw std::invalid_argument("the issuer's certificate expires before the responder's not_before");
  }

  X509Ptr cert = new_certificate(issuer, not_before, validity.not_after);
  check(X509_set_subject_name(cert.get(), subject.get()), "X509_set_subject_name");
  if (!detail::set_public_key(cert.get(), responder_spki)) {
    throw std::invalid_argument("the responder key's SubjectPublicKeyInfo is not in canonical DER");
  }
  detail::add_basic_constraints(cert.get(), false, std::nullopt);
  detail::add_key_usage(cert.get(), {detail::kDigitalSignature});
  ExtendedKeyUsagePtr eku(EXTENDED_KEY_USAGE_new());
  // OBJ_nid2obj returns a static object; EXTENDED_KEY_USAGE_free leaves it be.
  if (!eku || sk_ASN1_OBJECT_push(eku.get(), OBJ_nid2obj(NID_OCSP_sign)) <= 0) {
    throw OpenSslError("EXTENDED_KEY_USAGE");
  }
  detail::add_extension(cert.get(), NID_ext_key_usage, eku.get(), false);
  const std::unique_ptr<ASN1_NULL, Free<ASN1_NULL_free>> nocheck(ASN1_NULL_new());
  if (!nocheck) throw OpenSslError("ASN1_NULL_new");
  detail::add_extension(cert.get(), NID_id_pkix_OCSP_noCheck, nocheck.get(), false);
  detail::add_key_identifiers(cert.get(), *detail::issuer_key_identifier(issuer.certificate));
  detail::set_signature_algorithm(cert.get(), issuer.key->scheme());

  if (auto problem = first_problem(cert.get(), issuer, false)) {
    throw std::invalid_argument("the OCSP responder certificate fails a pre-issuance check: " + *problem);
  }
  const Bytes tbs = detail::encode_tbs(cert.get());
  return {detail::sign_certificate(tbs, *issuer.key, issuer.certificate), validity.clamped};
}

}  // namespace hsmca::signer
