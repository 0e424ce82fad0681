#include "hsmca/signer/certificate.hpp"

#include <openssl/pem.h>

#include <ctime>

#include "hsmca/signer/clock.hpp"
#include "x509_build.hpp"

namespace hsmca::signer {
namespace {

using detail::check;

void add_ca_extensions(X509* cert) {
  // No pathLenConstraint on a root.
  detail::add_basic_constraints(cert, true, std::nullopt);
  // keyCertSign and cRLSign; critical, as RFC 5280 4.2.1.3 says it SHOULD be.
  detail::add_key_usage(cert, {detail::kKeyCertSign, detail::kCrlSign});
  // A self-signed certificate's authority key is its own key.
  detail::add_key_identifiers(cert, *detail::key_identifier(cert));
}

}  // namespace

IssuedCertificate::IssuedCertificate(X509Ptr cert, Bytes der)
    : parsed_(std::make_shared<Parsed>()), der_(std::move(der)) {
  parsed_->cert = std::move(cert);
}

IssuedCertificate IssuedCertificate::assembled(Bytes der, std::string serial_hex) {
  IssuedCertificate c(nullptr, std::move(der));
  c.serial_hex_ = std::move(serial_hex);
  return c;
}

X509* IssuedCertificate::x509() const {
  std::call_once(parsed_->once, [this] {
    if (parsed_->cert) return;
    const unsigned char* p = der_.data();
    X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der_.size())));
    if (!cert || p != der_.data() + der_.size()) throw OpenSslError("d2i_X509 of an assembled certificate");
    parsed_->cert = std::move(cert);
  });
  return parsed_->cert.get();
}

IssuedCertificate IssuedCertificate::from_der(std::span<const unsigned char> der) {
  const unsigned char* p = der.data();
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert) throw OpenSslError("d2i_X509");
  if (p != der.data() + der.size()) throw OpenSslError("d2i_X509: trailing bytes after the certificate");
  return IssuedCertificate(std::move(cert), Bytes(der.begin(), der.end()));
}

std::string IssuedCertificate::pem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  // From the stored DER, so the PEM carries exactly the bytes that were signed.
  if (!bio || PEM_write_bio(bio.get(), PEM_STRING_X509, "", der_.data(), static_cast<long>(der_.size())) <= 0) {
    throw OpenSslError("PEM_write_bio");
  }
  return detail::bio_contents(bio.get());
}

std::string IssuedCertificate::serial_hex() const {
  return serial_hex_.empty() ? detail::serial_hex(X509_get0_serialNumber(x509())) : serial_hex_;
}

std::string IssuedCertificate::sha256_fingerprint() const { return sha256_hex(der_); }

std::string IssuedCertificate::subject() const { return detail::rfc2253(X509_get_subject_name(x509())); }

std::string IssuedCertificate::not_before() const { return rfc3339(unix_seconds(X509_get0_notBefore(x509()))); }
std::string IssuedCertificate::not_after() const { return rfc3339(unix_seconds(X509_get0_notAfter(x509()))); }

IssuedCertificate issue_self_signed_ca(const SigningKey& key, const RootCertificateSpec& spec) {
  X509NamePtr name = to_x509_name(spec.subject);
  const std::time_t not_before = unix_seconds(spec.not_before);
  const std::time_t not_after = unix_seconds(spec.not_after);
  if (not_after <= not_before) throw std::invalid_argument("not_after must be later than not_before");

  X509Ptr cert(X509_new());
  if (!cert) throw OpenSslError("X509_new");
  check(X509_set_version(cert.get(), X509_VERSION_3), "X509_set_version");
  check(X509_set_serialNumber(cert.get(), detail::random_serial().get()), "X509_set_serialNumber");
  check(X509_set_issuer_name(cert.get(), name.get()), "X509_set_issuer_name");
  check(X509_set_subject_name(cert.get(), name.get()), "X509_set_subject_name");
  check(X509_set1_notBefore(cert.get(), detail::asn1_time(not_before).get()), "X509_set1_notBefore");
  check(X509_set1_notAfter(cert.get(), detail::asn1_time(not_after).get()), "X509_set1_notAfter");
  // Certify only the exact bytes the token gave.
  if (!detail::set_public_key(cert.get(), key.spki_der())) {
    throw std::invalid_argument("the key's SubjectPublicKeyInfo is not in canonical DER");
  }
  add_ca_extensions(cert.get());
  detail::set_signature_algorithm(cert.get(), key.scheme());
  // Self-signed: the certificate is its own issuer.
  return detail::sign_certificate(detail::encode_tbs(cert.get()), key, cert.get());
}

bool spki_matches(X509* cert, const Bytes& spki_der) {
  const EVP_PKEY* cert_key = X509_get0_pubkey(cert);
  if (cert_key == nullptr) throw OpenSslError("X509_get0_pubkey");
  return EVP_PKEY_eq(cert_key, public_key_from_spki(spki_der).get()) == 1;
}

}  // namespace hsmca::signer
