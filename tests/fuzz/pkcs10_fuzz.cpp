// The PKCS#10 reader (signer/src/request.cpp, request_reader.cpp,
// strict_der.cpp), checked against OpenSSL. parse_certificate_request must
// never throw on malformed input (request.hpp), and whatever it accepts
// OpenSSL must accept too: d2i_X509_REQ reads exactly the bytes, encodes
// them back unchanged (so the request was DER) and X509_REQ_verify checks its
// signature. hsmca may refuse more (key policy, names); accepting a request
// OpenSSL refuses is a finding.
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <span>
#include <string_view>

#include "fuzz_support.hpp"
#include "hsmca/signer/request.hpp"

namespace {

using hsmca::fuzz::finding;
using hsmca::signer::Bytes;

// The DER hsmca read: the input, or the contents of its one PEM block.
Bytes der_of(std::span<const unsigned char> input) {
  constexpr std::string_view kPem = "-----BEGIN";
  const std::string_view head(reinterpret_cast<const char*>(input.data()), std::min(input.size(), kPem.size()));
  if (head != kPem) return Bytes(input.begin(), input.end());
  hsmca::signer::BioPtr bio(BIO_new_mem_buf(input.data(), static_cast<int>(input.size())));
  char* name = nullptr;
  char* header = nullptr;
  unsigned char* data = nullptr;
  long len = 0;
  if (PEM_read_bio(bio.get(), &name, &header, &data, &len) != 1) finding("accepted a PEM request OpenSSL cannot read");
  Bytes der(data, data + len);
  OPENSSL_free(name);
  OPENSSL_free(header);
  OPENSSL_free(data);
  return der;
}

void check_with_openssl(std::span<const unsigned char> input, const hsmca::signer::CertificateRequest& accepted) {
  const Bytes der = der_of(input);
  const unsigned char* p = der.data();
  hsmca::signer::X509ReqPtr req(d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size())));
  if (!req) finding("accepted a request d2i_X509_REQ refuses");
  if (p != der.data() + der.size()) finding("accepted a request with bytes after it");
  unsigned char* out = nullptr;
  const int n = i2d_X509_REQ(req.get(), &out);
  const bool same = n > 0 && static_cast<std::size_t>(n) == der.size() && std::equal(der.begin(), der.end(), out);
  OPENSSL_free(out);
  if (!same) finding("accepted a request whose DER re-encoding differs: it was not DER");
  EVP_PKEY* key = X509_REQ_get0_pubkey(req.get());
  if (key == nullptr) finding("accepted a request whose key OpenSSL cannot read");
  if (X509_REQ_verify(req.get(), key) != 1) finding("accepted a request whose signature X509_REQ_verify refuses");
  // The key hsmca checked is the key OpenSSL read.
  if (EVP_PKEY_eq(key, accepted.public_key.get()) != 1) finding("accepted a request with another key than OpenSSL reads");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const unsigned char> input(data, size);
  try {
    auto outcome = hsmca::signer::parse_certificate_request(input);
    if (outcome.ok()) {
      const auto& request = outcome.value();
      // What the CA reads of it next (leaf.cpp, name_policy.cpp) must read too.
      (void)request.subject_text();
      (void)request.common_name();
      check_with_openssl(input, request);
    }
  } catch (const std::exception& e) {
    // "Malformed input is a Rejection, never an exception" (request.hpp).
    finding("parse_certificate_request threw", e.what());
  }
  ERR_clear_error();
  return 0;
}
