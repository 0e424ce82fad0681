#include "x509_build.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <array>

#include "hsmca/signer/der.hpp"
#include "hsmca/signer/algorithm.hpp"
#include "hsmca/signer/signed_object.hpp"

namespace hsmca::signer::detail {

void check(int rc, const char* what) {
  if (rc != 1) throw OpenSslError(what);
}

std::string bio_contents(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  return {data, static_cast<std::size_t>(len)};
}

// Clearing the top bit keeps the serial positive without a 0x00 pad; setting
// the next one keeps it non-zero and always 16 octets: 126 random bits.
Asn1IntegerPtr random_serial() {
  std::array<unsigned char, 16> bytes{};
  check(RAND_bytes(bytes.data(), static_cast<int>(bytes.size())), "RAND_bytes");
  bytes[0] = static_cast<unsigned char>((bytes[0] & 0x3f) | 0x40);
  Asn1IntegerPtr serial(ASN1_INTEGER_new());
  if (!serial) throw OpenSslError("ASN1_INTEGER_new");
  check(ASN1_STRING_set(serial.get(), bytes.data(), static_cast<int>(bytes.size())), "ASN1_STRING_set");
  return serial;
}

std::string serial_hex(const ASN1_INTEGER* serial) {
  std::string hex = to_hex(std::span(ASN1_STRING_get0_data(serial),
                                     static_cast<std::size_t>(ASN1_STRING_length(serial))));
  if (hex.empty()) return "00";
  return ASN1_STRING_type(serial) == V_ASN1_NEG_INTEGER ? "-" + hex : hex;
}

Asn1TimePtr asn1_time(std::time_t t) {
  Asn1TimePtr time(ASN1_TIME_set(nullptr, t));
  if (!time) throw OpenSslError("ASN1_TIME_set");
  return time;
}

std::string rfc2253(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  // UTF-8 left as UTF-8 (RFC 2253 2.4 allows it) instead of OpenSSL's default
  // \XX escapes for every non-ASCII byte.
  const unsigned long flags = (XN_FLAG_RFC2253 | ASN1_STRFLGS_UTF8_CONVERT) & ~ASN1_STRFLGS_ESC_MSB;
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, flags) < 0) throw OpenSslError("X509_NAME_print_ex");
  return bio_contents(bio.get());
}

Bytes spki_der_of(X509* cert) {
  return der::encode(i2d_X509_PUBKEY, X509_get_X509_PUBKEY(cert), "i2d_X509_PUBKEY");
}

bool set_public_key_parts(X509_PUBKEY* to, const X509_ALGOR* algorithm, std::span<const unsigned char> key) {
  const ASN1_OBJECT* oid = nullptr;
  int param_type = V_ASN1_UNDEF;
  const void* param = nullptr;
  X509_ALGOR_get0(&oid, &param_type, &param, algorithm);
  // X509_PUBKEY_set0_param takes ownership of everything it is given: copies.
  void* param_copy = nullptr;
  if (param_type == V_ASN1_OBJECT) {
    param_copy = OBJ_dup(static_cast<const ASN1_OBJECT*>(param));
  } else if (param_type == V_ASN1_SEQUENCE || param_type == V_ASN1_OCTET_STRING) {
    param_copy = ASN1_STRING_dup(static_cast<const ASN1_STRING*>(param));
  } else if (param_type != V_ASN1_NULL && param_type != V_ASN1_UNDEF) {
    return false;
  }
  const bool has_param = param_type != V_ASN1_NULL && param_type != V_ASN1_UNDEF;
  ASN1_OBJECT* oid_copy = OBJ_dup(oid);
  auto* key_copy = static_cast<unsigned char*>(OPENSSL_memdup(key.data(), key.size()));
  if (oid_copy == nullptr || key_copy == nullptr || (has_param && param_copy == nullptr) ||
      X509_PUBKEY_set0_param(to, oid_copy, param_type, param_copy, key_copy, static_cast<int>(key.size())) != 1) {
    ASN1_OBJECT_free(oid_copy);
    OPENSSL_free(key_copy);
    if (param_type == V_ASN1_OBJECT) {
      ASN1_OBJECT_free(static_cast<ASN1_OBJECT*>(param_copy));
    } else {
      ASN1_STRING_free(static_cast<ASN1_STRING*>(param_copy));
    }
    return false;
  }
  return true;
}

void copy_public_key(X509* cert, const X509_PUBKEY* from) {
  const unsigned char* bits = nullptr;
  int bits_len = 0;
  X509_ALGOR* algorithm = nullptr;
  if (X509_PUBKEY_get0_param(nullptr, &bits, &bits_len, &algorithm, from) != 1) {
    throw OpenSslError("X509_PUBKEY_get0_param");
  }
  if (!set_public_key_parts(X509_get_X509_PUBKEY(cert), algorithm,
                            {bits, static_cast<std::size_t>(bits_len)})) {
    throw OpenSslError("X509_PUBKEY_set0_param");
  }
}

int public_key_nid(const X509* cert) {
  ASN1_OBJECT* algorithm = nullptr;
  if (X509_PUBKEY_get0_param(&algorithm, nullptr, nullptr, nullptr, X509_get_X509_PUBKEY(cert)) != 1) {
    throw OpenSslError("X509_PUBKEY_get0_param");
  }
  return OBJ_obj2nid(algorithm);
}

bool set_public_key(X509* cert, const Bytes& spki_der) {
  EvpPkeyPtr key = public_key_from_spki(spki_der);
  check(X509_set_pubkey(cert, key.get()), "X509_set_pubkey");
  return spki_der_of(cert) == spki_der;
}

Bytes encode_tbs(X509* cert) { return der::encode(i2d_re_X509_tbs, cert, "i2d_re_X509_tbs"); }

void add_extension(X509* cert, int nid, void* value, bool critical) {
  X509ExtensionPtr ext(X509V3_EXT_i2d(nid, critical ? 1 : 0, value));
  if (!ext) throw OpenSslError("X509V3_EXT_i2d");
  check(X509_add_ext(cert, ext.get(), -1), "X509_add_ext");
}

void add_basic_constraints(X509* cert, bool ca, std::optional<long> path_length) {
  BasicConstraintsPtr basic(BASIC_CONSTRAINTS_new());
  if (!basic) throw OpenSslError("BASIC_CONSTRAINTS_new");
  // CA:FALSE is the DEFAULT and so left out of the DER (X.690 11.5): an empty SEQUENCE.
  basic->ca = ca ? 0xff : 0;
  if (path_length) {
    basic->pathlen = ASN1_INTEGER_new();
    if (basic->pathlen == nullptr) throw OpenSslError("ASN1_INTEGER_new");
    check(ASN1_INTEGER_set(basic->pathlen, *path_length), "ASN1_INTEGER_set");
  }
  add_extension(cert, NID_basic_constraints, basic.get(), true);
}

void add_key_usage(X509* cert, std::initializer_list<int> bits) {
  Asn1BitStringPtr usage(ASN1_BIT_STRING_new());
  if (!usage) throw OpenSslError("ASN1_BIT_STRING_new");
  for (int bit : bits) check(ASN1_BIT_STRING_set_bit(usage.get(), bit, 1), "ASN1_BIT_STRING_set_bit");
  add_extension(cert, NID_key_usage, usage.get(), true);
}

Asn1OctetStringPtr key_identifier(X509* cert) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int md_len = 0;
  check(X509_pubkey_digest(cert, EVP_sha1(), md.data(), &md_len), "X509_pubkey_digest");
  Asn1OctetStringPtr key_id(ASN1_OCTET_STRING_new());
  if (!key_id) throw OpenSslError("ASN1_OCTET_STRING_new");
  check(ASN1_OCTET_STRING_set(key_id.get(), md.data(), static_cast<int>(md_len)), "ASN1_OCTET_STRING_set");
  return key_id;
}

Asn1OctetStringPtr issuer_key_identifier(X509* issuer) {
  if (const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(issuer)) {
    Asn1OctetStringPtr copy(ASN1_OCTET_STRING_dup(ski));
    if (!copy) throw OpenSslError("ASN1_OCTET_STRING_dup");
    return copy;
  }
  return key_identifier(issuer);
}

void add_key_identifiers(X509* cert, const ASN1_OCTET_STRING& issuer_key_id) {
  add_extension(cert, NID_subject_key_identifier, key_identifier(cert).get(), false);
  AuthorityKeyIdPtr authority(AUTHORITY_KEYID_new());
  if (!authority) throw OpenSslError("AUTHORITY_KEYID_new");
  authority->keyid = ASN1_OCTET_STRING_dup(&issuer_key_id);  // owned by `authority`
  if (authority->keyid == nullptr) throw OpenSslError("ASN1_OCTET_STRING_dup");
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

IssuedCertificate sign_certificate(std::span<const unsigned char> tbs, const SigningKey& key, X509* issuer) {
  // sign_tbs has verified the signature under key.spki_der() with key.scheme().
  IssuedCertificate issued = IssuedCertificate::from_der(sign_tbs(key, tbs));
  if (!std::ranges::equal(encode_tbs(issued.x509()), tbs)) {
    throw VerificationError("the assembled certificate re-encodes to a different TBSCertificate");
  }
  const X509_ALGOR* outer = nullptr;
  X509_get0_signature(nullptr, &outer, issued.x509());
  if (X509_ALGOR_cmp(outer, X509_get0_tbs_sigalg(issued.x509())) != 0) {
    throw VerificationError("the certificate's two signature algorithms differ");
  }
  // When the issuer certificate carries byte for byte the key sign_tbs checked
  // against, X509_verify would only repeat that signature check (once per
  // issuance, on the service's hot path). Otherwise the signature must also
  // hold under the key relying parties will use: the issuer certificate's.
  if (spki_der_of(issuer) != key.spki_der()) {
    EVP_PKEY* issuer_key = X509_get0_pubkey(issuer);
    if (issuer_key == nullptr) throw OpenSslError("X509_get0_pubkey(issuer)");
    if (X509_verify(issued.x509(), issuer_key) != 1) {
      throw VerificationError("the certificate does not verify under the issuer certificate's public key: " +
                              drain_openssl_errors());
    }
  }
  return issued;
}

}  // namespace hsmca::signer::detail
