#include "hsmca/signer/revocation.hpp"

#include <openssl/pem.h>

#include <algorithm>
#include <array>
#include <stdexcept>

#include "hsmca/signer/clock.hpp"
#include "hsmca/signer/der.hpp"
#include "hsmca/signer/algorithm.hpp"
#include "hsmca/signer/signed_object.hpp"
#include "x509_build.hpp"

namespace hsmca::signer {
namespace {

using X509CrlPtr = std::unique_ptr<X509_CRL, Free<X509_CRL_free>>;
using X509RevokedPtr = std::unique_ptr<X509_REVOKED, Free<X509_REVOKED_free>>;
using Asn1EnumeratedPtr = std::unique_ptr<ASN1_ENUMERATED, Free<ASN1_ENUMERATED_free>>;

Asn1IntegerPtr serial_from_hex(const std::string& hex) {
  if (!is_lower_hex(hex)) throw std::invalid_argument("CRL entry: serial must be lowercase hex, got \"" + hex + "\"");
  Asn1IntegerPtr serial = integer_from_hex(hex);
  if (!serial) throw OpenSslError("BN_hex2bn");
  return serial;
}

Asn1IntegerPtr integer(std::int64_t value) {
  Asn1IntegerPtr i(ASN1_INTEGER_new());
  if (!i) throw OpenSslError("ASN1_INTEGER_new");
  detail::check(ASN1_INTEGER_set_int64(i.get(), value), "ASN1_INTEGER_set_int64");
  return i;
}

// OpenSSL 3.0 has no setter for a CRL's inner signature algorithm (the
// TBSCertList's `signature` field), and without one i2d_re_X509_CRL_tbs
// refuses to encode. So the CRL starts as a DER skeleton that carries it —
// SEQUENCE { SEQUENCE { version v2, signature, issuer, thisUpdate }, signature,
// empty BIT STRING } — parsed with d2i_X509_CRL; every other field is then set
// through OpenSSL's own CRL API. The skeleton's outer signature is replaced by
// sign_tbs's result.
X509CrlPtr crl_skeleton(X509* issuer_cert, token::SignatureScheme scheme, std::time_t this_update) {
  static constexpr std::array<unsigned char, 3> kVersion2{0x02, 0x01, 0x01};  // INTEGER 1 (v2)
  const auto alg = signature_algorithm_der(scheme);
  const Bytes issuer_name = der::encode(i2d_X509_NAME, X509_get_subject_name(issuer_cert), "i2d_X509_NAME");
  const Asn1TimePtr time = detail::asn1_time(this_update);
  const Bytes this_update_der = der::encode(i2d_ASN1_TIME, time.get(), "i2d_ASN1_TIME");
  const Bytes tbs = der::sequence({kVersion2, alg, issuer_name, this_update_der});
  const Bytes skeleton = der::sequence({tbs, alg, der::bit_string({})});
  const unsigned char* p = skeleton.data();
  X509CrlPtr crl(d2i_X509_CRL(nullptr, &p, static_cast<long>(skeleton.size())));
  if (!crl || p != skeleton.data() + skeleton.size()) throw OpenSslError("d2i_X509_CRL (skeleton)");
  return crl;
}

void add_entry(X509_CRL* crl, const RevokedEntry& entry) {
  X509RevokedPtr revoked(X509_REVOKED_new());
  if (!revoked) throw OpenSslError("X509_REVOKED_new");
  detail::check(X509_REVOKED_set_serialNumber(revoked.get(), serial_from_hex(entry.serial_hex).get()),
                "X509_REVOKED_set_serialNumber");
  detail::check(X509_REVOKED_set_revocationDate(revoked.get(), detail::asn1_time(entry.revoked_at).get()),
                "X509_REVOKED_set_revocationDate");
  if (entry.reason != RevocationReason::unspecified) {
    Asn1EnumeratedPtr code(ASN1_ENUMERATED_new());
    if (!code) throw OpenSslError("ASN1_ENUMERATED_new");
    detail::check(ASN1_ENUMERATED_set(code.get(), reason_code(entry.reason)), "ASN1_ENUMERATED_set");
    // RFC 5280 5.3.1: reasonCode is non-critical.
    detail::check(X509_REVOKED_add1_ext_i2d(revoked.get(), NID_crl_reason, code.get(), 0, 0),
                  "X509_REVOKED_add1_ext_i2d(reasonCode)");
  }
  detail::check(X509_CRL_add0_revoked(crl, revoked.get()), "X509_CRL_add0_revoked");
  revoked.release();  // owned by `crl` now
}

}  // namespace

std::string IssuedCrl::pem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio(bio.get(), PEM_STRING_X509_CRL, "", der.data(), static_cast<long>(der.size())) <= 0) {
    throw OpenSslError("PEM_write_bio");
  }
  return detail::bio_contents(bio.get());
}

IssuedCrl issue_crl(const IssuerContext& issuer, std::span<const RevokedEntry> entries, std::int64_t crl_number,
                    std::chrono::system_clock::time_point this_update,
                    std::chrono::system_clock::time_point next_update) {
  if (issuer.certificate == nullptr || issuer.key == nullptr) {
    throw std::invalid_argument("issue_crl: the issuer needs its certificate and key");
  }
  if (crl_number < 1) throw std::invalid_argument("issue_crl: the CRL number must be at least 1");
  const std::time_t this_seconds = signer::unix_seconds(this_update);
  const std::time_t next_seconds = signer::unix_seconds(next_update);
  if (next_seconds <= this_seconds) throw std::invalid_argument("issue_crl: nextUpdate must be after thisUpdate");

  const SigningKey& key = *issuer.key;
  X509CrlPtr crl = crl_skeleton(issuer.certificate, key.scheme(), this_seconds);
  // RFC 5280 5.1.2.5: conforming CAs include nextUpdate.
  detail::check(X509_CRL_set1_nextUpdate(crl.get(), detail::asn1_time(next_seconds).get()), "X509_CRL_set1_nextUpdate");
  for (const auto& entry : entries) add_entry(crl.get(), entry);
  // Sorted by serial: a relying party's lookup does not depend on the ledger's order.
  detail::check(X509_CRL_sort(crl.get()), "X509_CRL_sort");

  // RFC 5280 5.2.1: keyIdentifier only, the same the issuer's certificates name.
  AuthorityKeyIdPtr authority(AUTHORITY_KEYID_new());
  if (!authority) throw OpenSslError("AUTHORITY_KEYID_new");
  authority->keyid = detail::issuer_key_identifier(issuer.certificate).release();  // owned by `authority`
  detail::check(X509_CRL_add1_ext_i2d(crl.get(), NID_authority_key_identifier, authority.get(), 0, 0),
                "X509_CRL_add1_ext_i2d(authorityKeyIdentifier)");
  detail::check(X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, integer(crl_number).get(), 0, 0),
                "X509_CRL_add1_ext_i2d(cRLNumber)");

  const Bytes tbs = der::encode(i2d_re_X509_CRL_tbs, crl.get(), "i2d_re_X509_CRL_tbs");
  // sign_tbs has verified the signature under key.spki_der() with key.scheme().
  IssuedCrl issued{sign_tbs(key, tbs), crl_number, this_seconds, next_seconds, entries.size()};

  const unsigned char* p = issued.der.data();
  X509CrlPtr parsed(d2i_X509_CRL(nullptr, &p, static_cast<long>(issued.der.size())));
  if (!parsed || p != issued.der.data() + issued.der.size()) {
    throw VerificationError("the signed CRL does not parse as exactly one CRL: " + drain_openssl_errors());
  }
  if (!std::ranges::equal(der::encode(i2d_re_X509_CRL_tbs, parsed.get(), "i2d_re_X509_CRL_tbs"), tbs)) {
    throw VerificationError("the signed CRL re-encodes to a different TBSCertList");
  }
  // The key relying parties check a CRL with is the issuer certificate's.
  EVP_PKEY* issuer_key = X509_get0_pubkey(issuer.certificate);
  if (issuer_key == nullptr) throw OpenSslError("X509_get0_pubkey(issuer)");
  if (X509_CRL_verify(parsed.get(), issuer_key) != 1) {
    throw VerificationError("the CRL does not verify under the issuer certificate's public key: " +
                            drain_openssl_errors());
  }
  return issued;
}

CrlContents read_crl(std::span<const unsigned char> pem_or_der, X509* issuer) {
  if (issuer == nullptr) throw std::invalid_argument("read_crl needs the issuer certificate");
  X509CrlPtr crl;
  static constexpr std::string_view kPem = "-----BEGIN X509 CRL-----";
  const std::string_view text(reinterpret_cast<const char*>(pem_or_der.data()), pem_or_der.size());
  if (text.find(kPem) != std::string_view::npos) {
    BioPtr bio(BIO_new_mem_buf(pem_or_der.data(), static_cast<int>(pem_or_der.size())));
    if (!bio) throw OpenSslError("BIO_new_mem_buf");
    crl.reset(PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
  } else {
    const unsigned char* p = pem_or_der.data();
    crl.reset(d2i_X509_CRL(nullptr, &p, static_cast<long>(pem_or_der.size())));
    if (crl && p != pem_or_der.data() + pem_or_der.size()) crl.reset();
  }
  if (!crl) {
    drain_openssl_errors();
    throw std::invalid_argument("not a CRL (PEM or DER)");
  }
  if (X509_NAME_cmp(X509_CRL_get_issuer(crl.get()), X509_get_subject_name(issuer)) != 0) {
    throw std::invalid_argument("a CRL of " + detail::rfc2253(X509_CRL_get_issuer(crl.get())) + ", not of " +
                                detail::rfc2253(X509_get_subject_name(issuer)));
  }
  EVP_PKEY* issuer_key = X509_get0_pubkey(issuer);
  if (issuer_key == nullptr || X509_CRL_verify(crl.get(), issuer_key) != 1) {
    drain_openssl_errors();
    throw std::invalid_argument("its signature does not verify under the key of " +
                                detail::rfc2253(X509_get_subject_name(issuer)));
  }

  CrlContents out;
  out.der = der::encode(i2d_X509_CRL, crl.get(), "i2d_X509_CRL");
  int critical = -1;
  const Asn1IntegerPtr number(
      static_cast<ASN1_INTEGER*>(X509_CRL_get_ext_d2i(crl.get(), NID_crl_number, &critical, nullptr)));
  if (number && ASN1_INTEGER_get_int64(&out.number, number.get()) != 1) {
    drain_openssl_errors();
    throw std::invalid_argument("its CRL number does not fit in 63 bits");
  }
  out.this_update = signer::unix_seconds(X509_CRL_get0_lastUpdate(crl.get()));
  if (const ASN1_TIME* next = X509_CRL_get0_nextUpdate(crl.get())) out.next_update = signer::unix_seconds(next);
  STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl.get());
  for (int i = 0; i < sk_X509_REVOKED_num(revoked); ++i) {
    const X509_REVOKED* r = sk_X509_REVOKED_value(revoked, i);
    RevokedEntry entry;
    entry.serial_hex = detail::serial_hex(X509_REVOKED_get0_serialNumber(r));
    entry.revoked_at = signer::unix_seconds(X509_REVOKED_get0_revocationDate(r));
    const Asn1EnumeratedPtr code(
        static_cast<ASN1_ENUMERATED*>(X509_REVOKED_get_ext_d2i(r, NID_crl_reason, &critical, nullptr)));
    if (code) {
      const long value = ASN1_ENUMERATED_get(code.get());
      const auto known = reason_from_code(value);
      if (!known) {
        throw std::invalid_argument("entry " + entry.serial_hex + " has reason code " + std::to_string(value) +
                                    ", which hsmca does not issue");
      }
      entry.reason = *known;
    }
    out.entries.push_back(std::move(entry));
  }
  return out;
}

}  // namespace hsmca::signer
