#pragma once
// A root to issue under, and a reader for what certificates carry, shared by
// the tests of the certificates the signer makes.
#include <chrono>
#include <cstddef>
#include <span>
#include <string>

#include "hsmca/signer/certificate.hpp"
#include "hsmca/signer/openssl.hpp"
#include "hsmca/signer/signing_key.hpp"

namespace hsmca::test {

// A self-signed root, valid from yesterday until `not_after`.
inline signer::IssuedCertificate make_root(
    const signer::SigningKey& key,
    std::chrono::system_clock::time_point not_after = std::chrono::system_clock::now() + std::chrono::days{3650}) {
  using namespace std::chrono;
  return signer::issue_self_signed_ca(
      key, {signer::DistinguishedName{.country = "DE", .organization = "Example", .common_name = "Example Root"},
            system_clock::now() - days{1}, not_after});
}

// Lowercase hex of an OCTET STRING (a key identifier), "(none)" when absent.
inline std::string octets(const ASN1_OCTET_STRING* s) {
  return s == nullptr ? "(none)"
                      : signer::to_hex(std::span(ASN1_STRING_get0_data(s),
                                                 static_cast<std::size_t>(ASN1_STRING_length(s))));
}

}  // namespace hsmca::test
