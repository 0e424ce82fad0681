#pragma once
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "hsmca/token/free.hpp"

namespace hsmca::signer {

using Bytes = std::vector<unsigned char>;  // the same type as token::Bytes

// One owner per OpenSSL object: token::Free, the type's own free function.
using token::Free;

using X509Ptr = std::unique_ptr<X509, Free<X509_free>>;
using X509NamePtr = std::unique_ptr<X509_NAME, Free<X509_NAME_free>>;
using X509ExtensionPtr = std::unique_ptr<X509_EXTENSION, Free<X509_EXTENSION_free>>;
using X509AlgorPtr = std::unique_ptr<X509_ALGOR, Free<X509_ALGOR_free>>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY_free>>;
using EvpPkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Free<EVP_PKEY_CTX_free>>;
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, Free<EVP_MD_CTX_free>>;
using BioPtr = std::unique_ptr<BIO, Free<BIO_free_all>>;
using BignumPtr = std::unique_ptr<BIGNUM, Free<BN_free>>;
using Asn1IntegerPtr = std::unique_ptr<ASN1_INTEGER, Free<ASN1_INTEGER_free>>;
using Asn1TimePtr = std::unique_ptr<ASN1_TIME, Free<ASN1_TIME_free>>;
using Asn1OctetStringPtr = std::unique_ptr<ASN1_OCTET_STRING, Free<ASN1_OCTET_STRING_free>>;
using Asn1BitStringPtr = std::unique_ptr<ASN1_BIT_STRING, Free<ASN1_BIT_STRING_free>>;
using BasicConstraintsPtr = std::unique_ptr<BASIC_CONSTRAINTS, Free<BASIC_CONSTRAINTS_free>>;
using AuthorityKeyIdPtr = std::unique_ptr<AUTHORITY_KEYID, Free<AUTHORITY_KEYID_free>>;

// An OpenSSL call failed. The constructor drains the thread's error queue into
// the message ("what: reason; reason"), so a stale entry never shows up in an
// unrelated later error.
class OpenSslError : public std::runtime_error {
 public:
  explicit OpenSslError(const std::string& what);
};

// Empties the thread's OpenSSL error queue and returns its reasons joined by
// "; " (empty when there were none).
std::string drain_openssl_errors();

// Lowercase hex, no separators.
std::string to_hex(std::span<const unsigned char> bytes);
// The bytes hex (either case) spells, two digits each; nullopt when it is
// not that. With a `separator` (':' reads what openssl prints) that character
// is skipped wherever it stands ("00:AB", "00AB" and "00::AB" read alike);
// '\0': none is allowed. Text after an embedded NUL is not read.
std::optional<std::vector<unsigned char>> from_hex(std::string_view hex, char separator = '\0');
// Non-empty and only 0-9, a-f: how the ledger spells serials and issuer ids.
bool is_lower_hex(std::string_view s);
// The INTEGER a hex string (either case) spells; nullptr when it is not hex.
Asn1IntegerPtr integer_from_hex(const std::string& hex);
std::string sha256_hex(std::span<const unsigned char> bytes);

// Seconds since the epoch of a certificate's or CRL's time (ASN1_TIME_to_tm).
// Throws OpenSslError when it does not read.
std::int64_t unix_seconds(const ASN1_TIME* time);

std::string to_pem(X509* cert);
Bytes to_der(X509* cert);

// d2i_PUBKEY, refusing trailing bytes.
EvpPkeyPtr public_key_from_spki(const Bytes& spki_der);

}  // namespace hsmca::signer
