#pragma once
// Whether bytes are DER (X.690 10, 11), checked by walking them once.
//
// OpenSSL's decoders read BER: long-form and indefinite lengths, constructed
// strings, a primitive tag where a constructed one belongs (the [0]
// attributes of a request). What a signature covers must be the DER the
// signer meant (RFC 2986 4.2, RFC 5280 4.1.1.3), and what the CA copies into
// a certificate must be DER too; so a request is walked before it is read.
//
// The walk knows no schema. It checks every header (definite, shortest
// length; tag number in its shortest form; SEQUENCE and SET constructed, no
// other universal type constructed), the content of the universal types whose
// DER has one form (BOOLEAN, INTEGER, ENUMERATED, BIT STRING, NULL, OBJECT
// IDENTIFIER) and the order of a SET's elements (X.690 11.6), at every depth,
// inside ANY values too. What only a schema tells — a DEFAULT value written
// out, a primitive [0] where the grammar wants a SET — is left to comparing
// the request with its re-encoding (request.cpp).
#include <optional>
#include <span>
#include <string>

namespace hsmca::signer::detail {

// Why `der` is not exactly one DER value ("a length in long form where the
// short form fits, at offset 7"), or nullopt when it is. Constructed values
// nested deeper than 32 are refused as well.
std::optional<std::string> der_violation(std::span<const unsigned char> der);

// The first value inside the SEQUENCE that `der` is (already found to be
// DER): a request's CertificationRequestInfo, a certificate's TBSCertificate.
std::span<const unsigned char> first_in_sequence(std::span<const unsigned char> der);

}  // namespace hsmca::signer::detail
