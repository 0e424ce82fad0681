#include "hsmca/signer/certificate.hpp"

#include <openssl/pem.h>
#include <openssl/rand.h>

#include <array>
#include <ctime>

#include "hsmca/signer/algorithm.hpp"
#include "hsmca/signer/signed_object.hpp"

namespace hsmca::signer {
namespace {

void check(int rc, const char* what) {
  if (rc != 1) throw OpenSslError(what);
}

std::string bio_contents(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  return {data, static_cast<std::size_t>(len)};
}

// RFC 5280 4.1.2.2: positive, at most 20 octets; BRs 7.1: at least 64 bits
// from a CSPRNG. Clearing the top bit keeps it positive without a 0x00 pad;
// setting the next one keeps it non-zero and always 16 octets: 126 random bits.
Asn1IntegerPtr random_serial() {
  std::array<unsigned char, 16> bytes{};
  check(RAND_bytes(bytes.data(), static_cast<int>(bytes.size())), "RAND_bytes");
  bytes[0] = static_cast<unsigned char>((bytes[0] & 0x3f) | 0x40);
  Asn1IntegerPtr serial(ASN1_INTEGER_new());
  if (!serial) throw OpenSslError("ASN1_INTEGER_new");
  check(ASN1_STRING_set(serial.get(), bytes.data(), static_cast<int>(bytes.size())), "ASN1_STRING_set");
  return serial;
}

std::time_t whole_seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::system_clock::to_time_t(std::chrono::floor<std::chrono::seconds>(t));
}

// ASN1_TIME_set picks UTCTime through 2049 and GeneralizedTime from 2050 on,
// as RFC 5280 4.1.2.5 requires.
Asn1TimePtr asn1_time(std::time_t t) {
  Asn1TimePtr time(ASN1_TIME_set(nullptr, t));
  if (!time) throw OpenSslError("ASN1_TIME_set");
  return time;
}

std::string rfc3339(const ASN1_TIME* time) {
  std::tm tm{};
  check(ASN1_TIME_to_tm(time, &tm), "ASN1_TIME_to_tm");
  std::array<char, 32> buf{};
  const std::size_t n = std::strftime(buf.data(), buf.size(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return {buf.data(), n};
}

Bytes spki_der_of(X509* cert) {
  X509_PUBKEY* pub = X509_get_X509_PUBKEY(cert);
  const int len = i2d_X509_PUBKEY(pub, nullptr);
  if (len <= 0) throw OpenSslError("i2d_X509_PUBKEY");
  Bytes der(static_cast<std::size_t>(len));
  unsigned char* p = der.data();
  if (i2d_X509_PUBKEY(pub, &p) != len) throw OpenSslError("i2d_X509_PUBKEY");
  return der;
}

// The TBSCertificate encoded afresh from the fields, not from a cached encoding.
Bytes encode_tbs(X509* cert) {
  const int len = i2d_re_X509_tbs(cert, nullptr);
  if (len <= 0) throw OpenSslError("i2d_re_X509_tbs");
  Bytes der(static_cast<std::size_t>(len));
  unsigned char* p = der.data();
  if (i2d_re_X509_tbs(cert, &p) != len) throw OpenSslError("i2d_re_X509_tbs");
  return der;
}

void add_extension(X509* cert, int nid, void* value, bool critical) {
  X509ExtensionPtr ext(X509V3_EXT_i2d(nid, critical ? 1 : 0, value));
  if (!ext) throw OpenSslError("X509V3_EXT_i2d");
  check(X509_add_ext(cert, ext.get(), -1), "X509_add_ext");
}

void add_ca_extensions(X509* cert) {
  // RFC 5280 4.2.1.9: critical in CA certificates; no pathLenConstraint on a root.
  BasicConstraintsPtr basic(BASIC_CONSTRAINTS_new());
  if (!basic) throw OpenSslError("BASIC_CONSTRAINTS_new");
  basic->ca = 0xff;
  add_extension(cert, NID_basic_constraints, basic.get(), true);

  // RFC 5280 4.2.1.3: keyCertSign (5) and cRLSign (6); critical, as it SHOULD be.
  Asn1BitStringPtr usage(ASN1_BIT_STRING_new());
  if (!usage) throw OpenSslError("ASN1_BIT_STRING_new");
  check(ASN1_BIT_STRING_set_bit(usage.get(), 5, 1), "ASN1_BIT_STRING_set_bit");
  check(ASN1_BIT_STRING_set_bit(usage.get(), 6, 1), "ASN1_BIT_STRING_set_bit");
  add_extension(cert, NID_key_usage, usage.get(), true);

  // RFC 5280 4.2.1.2 method (1): SHA-1 over the subjectPublicKey BIT STRING's
  // contents. A self-signed certificate's authority key is its own key.
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int md_len = 0;
  check(X509_pubkey_digest(cert, EVP_sha1(), md.data(), &md_len), "X509_pubkey_digest");
  Asn1OctetStringPtr key_id(ASN1_OCTET_STRING_new());
  if (!key_id) throw OpenSslError("ASN1_OCTET_STRING_new");
  check(ASN1_OCTET_STRING_set(key_id.get(), md.data(), static_cast<int>(md_len)), "ASN1_OCTET_STRING_set");
  add_extension(cert, NID_subject_key_identifier, key_id.get(), false);

  AuthorityKeyIdPtr authority(AUTHORITY_KEYID_new());
  if (!authority) throw OpenSslError("AUTHORITY_KEYID_new");
  authority->keyid = key_id.release();  // now owned by `authority`
  add_extension(cert, NID_authority_key_identifier, authority.get(), false);
}

// OpenSSL 3.0 has no setter for a certificate's signature algorithms: X509_sign
// fills both from its own key object. The getters return const pointers into
// `cert` itself, which is ours to modify, so casting the const away is sound.
void set_signature_algorithm(X509* cert, token::SignatureScheme scheme) {
  X509AlgorPtr alg = signature_algorithm(scheme);
  const X509_ALGOR* outer = nullptr;
  X509_get0_signature(nullptr, &outer, cert);
  check(X509_ALGOR_copy(const_cast<X509_ALGOR*>(X509_get0_tbs_sigalg(cert)), alg.get()), "X509_ALGOR_copy");
  check(X509_ALGOR_copy(const_cast<X509_ALGOR*>(outer), alg.get()), "X509_ALGOR_copy");
}

// Signs the certificate's TBS through `key` and accepts the result only if it
// parses, verifies under `issuer_key` and re-encodes to exactly the signed TBS:
// a certificate a relying party would decode differently is never handed out.
IssuedCertificate sign_certificate(X509* cert, const SigningKey& key, EVP_PKEY* issuer_key) {
  set_signature_algorithm(cert, key.scheme());
  const Bytes tbs = encode_tbs(cert);
  IssuedCertificate issued = IssuedCertificate::from_der(sign_tbs(key, tbs));
  if (X509_verify(issued.x509(), issuer_key) != 1) {
    throw VerificationError("X509_verify rejects the assembled certificate: " + drain_openssl_errors());
  }
  if (encode_tbs(issued.x509()) != tbs) {
    throw VerificationError("the assembled certificate re-encodes to a different TBSCertificate");
  }
  return issued;
}

}  // namespace

IssuedCertificate::IssuedCertificate(X509Ptr cert, Bytes der) : cert_(std::move(cert)), der_(std::move(der)) {}

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
  return bio_contents(bio.get());
}

std::string IssuedCertificate::serial_hex() const {
  const ASN1_INTEGER* serial = X509_get0_serialNumber(cert_.get());
  std::string hex = to_hex(std::span(ASN1_STRING_get0_data(serial),
                                     static_cast<std::size_t>(ASN1_STRING_length(serial))));
  if (hex.empty()) return "00";
  return ASN1_STRING_type(serial) == V_ASN1_NEG_INTEGER ? "-" + hex : hex;
}

std::string IssuedCertificate::sha256_fingerprint() const { return sha256_hex(der_); }

std::string IssuedCertificate::subject() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  // RFC 2253 with UTF-8 left as UTF-8 (RFC 2253 2.4 allows it) instead of
  // OpenSSL's default \XX escapes for every non-ASCII byte.
  const unsigned long flags = (XN_FLAG_RFC2253 | ASN1_STRFLGS_UTF8_CONVERT) & ~ASN1_STRFLGS_ESC_MSB;
  if (!bio || X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert_.get()), 0, flags) < 0) {
    throw OpenSslError("X509_NAME_print_ex");
  }
  return bio_contents(bio.get());
}

std::string IssuedCertificate::not_before() const { return rfc3339(X509_get0_notBefore(cert_.get())); }
std::string IssuedCertificate::not_after() const { return rfc3339(X509_get0_notAfter(cert_.get())); }

IssuedCertificate issue_self_signed_ca(const SigningKey& key, const RootCertificateSpec& spec) {
  X509NamePtr name = to_x509_name(spec.subject);
  const std::time_t not_before = whole_seconds(spec.not_before);
  const std::time_t not_after = whole_seconds(spec.not_after);
  if (not_after <= not_before) throw std::invalid_argument("not_after must be later than not_before");
  EvpPkeyPtr public_key = public_key_from_spki(key.spki_der());

  X509Ptr cert(X509_new());
  if (!cert) throw OpenSslError("X509_new");
  check(X509_set_version(cert.get(), X509_VERSION_3), "X509_set_version");
  check(X509_set_serialNumber(cert.get(), random_serial().get()), "X509_set_serialNumber");
  check(X509_set_issuer_name(cert.get(), name.get()), "X509_set_issuer_name");
  check(X509_set_subject_name(cert.get(), name.get()), "X509_set_subject_name");
  check(X509_set1_notBefore(cert.get(), asn1_time(not_before).get()), "X509_set1_notBefore");
  check(X509_set1_notAfter(cert.get(), asn1_time(not_after).get()), "X509_set1_notAfter");
  check(X509_set_pubkey(cert.get(), public_key.get()), "X509_set_pubkey");
  // X509_set_pubkey re-encodes the key; certify only the exact bytes the token gave.
  if (spki_der_of(cert.get()) != key.spki_der()) {
    throw std::invalid_argument("the key's SubjectPublicKeyInfo is not in canonical DER");
  }
  add_ca_extensions(cert.get());
  return sign_certificate(cert.get(), key, public_key.get());
}

bool spki_matches(X509* cert, const Bytes& spki_der) {
  const EVP_PKEY* cert_key = X509_get0_pubkey(cert);
  if (cert_key == nullptr) throw OpenSslError("X509_get0_pubkey");
  return EVP_PKEY_eq(cert_key, public_key_from_spki(spki_der).get()) == 1;
}

}  // namespace hsmca::signer
