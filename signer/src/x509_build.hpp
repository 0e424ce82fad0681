#pragma once
// The pieces every certificate the CA makes is built from: the root in
// certificate.cpp, subordinate CAs and leaves in leaf.cpp. One copy, so a root
// and the leaves under it cannot drift apart in how they encode a serial, a
// key identifier or a signature algorithm.
#include <chrono>
#include <cstdint>
#include <ctime>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>

#include "hsmca/signer/certificate.hpp"
#include "hsmca/signer/clock.hpp"
#include "hsmca/signer/openssl.hpp"
#include "hsmca/signer/signing_key.hpp"
#include "hsmca/token/signature.hpp"

namespace hsmca::signer::detail {

// Throws OpenSslError(what) unless rc == 1, OpenSSL's success value.
void check(int rc, const char* what);

std::string bio_contents(BIO* bio);

// RFC 5280 4.1.2.2: positive, at most 20 octets; BRs 7.1: at least 64 bits
// from a CSPRNG.
Asn1IntegerPtr random_serial();
// Lowercase hex of the serial's magnitude, "-" in front when negative, "00" for zero.
std::string serial_hex(const ASN1_INTEGER* serial);

// UTCTime through 2049, GeneralizedTime from 2050 on (RFC 5280 4.1.2.5).
Asn1TimePtr asn1_time(std::time_t t);

// RFC 2253, UTF-8 left as UTF-8, as IssuedCertificate::subject() prints it.
std::string rfc2253(const X509_NAME* name);

// The certificate's SubjectPublicKeyInfo as it encodes it.
Bytes spki_der_of(X509* cert);
// Puts the key `spki_der` describes into `cert`. X509_set_pubkey re-encodes the
// key; returns whether the certificate now carries exactly the given bytes.
bool set_public_key(X509* cert, const Bytes& spki_der);
// Copies a SubjectPublicKeyInfo (a request's) into the certificate as it
// stands — algorithm and key bits — without turning it into a key object and
// back: in OpenSSL 3.0 each of those is a provider decoder or encoder lookup,
// which cost more than the token's signature.
void copy_public_key(X509* cert, const X509_PUBKEY* from);
// Sets `to` to copies of an algorithm identifier and key bits (what
// copy_public_key and the request reader assemble keys from). false when a
// copy fails or the parameters are of a kind no key here has (only an OID, a
// SEQUENCE, an OCTET STRING, NULL or none); `to` is then unchanged.
bool set_public_key_parts(X509_PUBKEY* to, const X509_ALGOR* algorithm, std::span<const unsigned char> key);
// The NID of the certificate's public-key algorithm (NID_rsaEncryption,
// NID_X9_62_id_ecPublicKey, NID_ED25519), read without decoding the key.
int public_key_nid(const X509* cert);

// The TBSCertificate encoded afresh from the fields, not from a cached encoding.
Bytes encode_tbs(X509* cert);

void add_extension(X509* cert, int nid, void* value, bool critical);
// RFC 5280 4.2.1.9: critical; pathLenConstraint only on a CA.
void add_basic_constraints(X509* cert, bool ca, std::optional<long> path_length);
// RFC 5280 4.2.1.3, critical. `bits` as in the KeyUsage BIT STRING:
// 0 digitalSignature, 2 keyEncipherment, 5 keyCertSign, 6 cRLSign.
void add_key_usage(X509* cert, std::initializer_list<int> bits);
inline constexpr int kDigitalSignature = 0;
inline constexpr int kKeyEncipherment = 2;
inline constexpr int kKeyCertSign = 5;
inline constexpr int kCrlSign = 6;

// RFC 5280 4.2.1.2 method (1): SHA-1 over the subjectPublicKey BIT STRING's contents.
Asn1OctetStringPtr key_identifier(X509* cert);
// The key identifier the issuer's certificates name in their AKI: its SKI, or
// method (1) over its key when it has none (a root made elsewhere).
Asn1OctetStringPtr issuer_key_identifier(X509* issuer);
// subjectKeyIdentifier of the certificate's own key, then authorityKeyIdentifier
// with keyIdentifier only: no issuer name and serial, which would tie the
// certificate to one issuer certificate rather than its key.
void add_key_identifiers(X509* cert, const ASN1_OCTET_STRING& issuer_key_id);

// Both signature AlgorithmIdentifiers of `cert` (in the TBS and outside it).
void set_signature_algorithm(X509* cert, token::SignatureScheme scheme);

// Signs `tbs` (the encoding of a certificate whose signature algorithms already
// name key.scheme()'s) through `key` and accepts the result only if it parses,
// re-encodes to exactly `tbs` and verifies under `issuer`'s public key. A
// certificate a relying party would decode differently is never handed out.
// `issuer` is the issuing CA's certificate, or the unsigned certificate itself
// for a self-signed one. VerificationError otherwise.
IssuedCertificate sign_certificate(std::span<const unsigned char> tbs, const SigningKey& key, X509* issuer);

}  // namespace hsmca::signer::detail
