#pragma once
// A faster reading of the common PKCS#10 request, for the issuance hot path.
//
// OpenSSL 3.0 turns the public key of every X509_PUBKEY it parses into an
// EVP_PKEY through its provider decoders, and setting those up
// (OSSL_DECODER_CTX_new_for_pkey walks every key manager and decoder of every
// provider) costs more than all the rest of reading a request: ~17% of the
// appliance's CPU per certificate under load (perf, 2026-11-22). OpenSSL 3.2
// caches it; 3.0 does not. This reader parses the same ASN.1 grammar with
// OpenSSL's own template decoder but leaves the subjectPublicKeyInfo as
// AlgorithmIdentifier + BIT STRING, imports the key directly
// (EVP_PKEY_fromdata / raw public key), and assembles an X509_REQ from the
// parts whose public key is set without decoding it.
//
// It reads only what it knows: EC keys on P-256, P-384 and P-521 (named
// curve), RSA keys (rsaEncryption with NULL or absent parameters) and
// Ed25519, version 1, nothing trailing. Everything else — and anything it
// cannot read — is left to d2i_X509_REQ: the caller falls back to the usual
// reading, which also decides every rejection.
//
// The X509_REQ it assembles holds no received encoding: encoding it writes DER
// afresh from the parts read, which BER input (a primitive [0], a long-form
// length) does not survive. X509_REQ_verify on it would check the signature
// over that re-encoding, not over what was sent; the caller verifies over the
// received CertificationRequestInfo instead, and refuses input that is not DER
// before reading it (request.cpp, strict_der.hpp).
#include <openssl/x509.h>

#include <optional>
#include <span>

#include "hsmca/signer/openssl.hpp"
#include "hsmca/signer/request.hpp"

namespace hsmca::signer::detail {

struct FastRequest {
  X509ReqPtr request;  // its X509_PUBKEY holds no decoded key: use `key`; never X509_REQ_verify it
  EvpPkeyPtr key;      // the request's public key, imported directly
};

std::optional<FastRequest> read_request_fast(std::span<const unsigned char> der);

}  // namespace hsmca::signer::detail
