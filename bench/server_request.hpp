#pragma once
// The PKCS#10 request a server sends for one DNS name: CN and subjectAltName
// both that name, signed with the server's own key. hsmca-bench-csrs writes
// them to files; hsmca-bench-acme finalizes each ACME order with one.
#include <string>

#include "hsmca/signer/openssl.hpp"
#include "hsmca/signer/request.hpp"

namespace hsmca::bench {

// A fresh P-256 key (EVP_EC_gen); throws signer::OpenSslError.
signer::EvpPkeyPtr make_p256_key();

// Throws signer::OpenSslError.
signer::X509ReqPtr make_server_request(EVP_PKEY* key, const std::string& dns_name);

}  // namespace hsmca::bench
