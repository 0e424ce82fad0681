#pragma once
// Certificate requests as parse_certificate_request would hand them over,
// built directly (a subject of any shape, several CNs, any SANs), for the tests
// of what the CA grants.
#include <string>
#include <utility>
#include <vector>

#include "hsmca/signer/openssl.hpp"
#include "hsmca/signer/request.hpp"

namespace hsmca::test {

struct RequestSpec {
  std::vector<std::pair<int, std::string>> subject;  // NID, UTF-8 value, in order
  std::vector<signer::SubjectAltName> sans;
  bool ask_ca = false;
};

inline void add_request_extension(STACK_OF(X509_EXTENSION) * extensions, int nid, const std::string& conf) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, nullptr, nid, conf.c_str());
  if (ext == nullptr) throw signer::OpenSslError("X509V3_EXT_conf_nid(" + conf + ")");
  sk_X509_EXTENSION_push(extensions, ext);
}

// What parse_certificate_request would hand over for a request made with `key`:
// a self-signed PKCS#10 request and the fields read from it.
inline signer::CertificateRequest make_request(EVP_PKEY* key, const RequestSpec& spec) {
  using namespace signer;
  X509ReqPtr req(X509_REQ_new());
  if (!req) throw OpenSslError("X509_REQ_new");
  X509_REQ_set_version(req.get(), X509_REQ_VERSION_1);
  X509NamePtr name(X509_NAME_new());
  for (const auto& [nid, value] : spec.subject) {
    X509_NAME_add_entry_by_NID(name.get(), nid, MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(value.data()),
                               static_cast<int>(value.size()), -1, 0);
  }
  X509_REQ_set_subject_name(req.get(), name.get());
  X509_REQ_set_pubkey(req.get(), key);

  STACK_OF(X509_EXTENSION)* extensions = sk_X509_EXTENSION_new_null();
  if (!spec.sans.empty()) {
    std::string conf;
    for (const auto& san : spec.sans) conf += (conf.empty() ? "" : ",") + san.str();
    add_request_extension(extensions, NID_subject_alt_name, conf);
  }
  if (spec.ask_ca) {
    add_request_extension(extensions, NID_basic_constraints, "critical,CA:TRUE");
    add_request_extension(extensions, NID_key_usage, "critical,keyCertSign,cRLSign");
  }
  if (sk_X509_EXTENSION_num(extensions) > 0) X509_REQ_add_extensions(req.get(), extensions);
  sk_X509_EXTENSION_pop_free(extensions, X509_EXTENSION_free);

  const int type = EVP_PKEY_get_base_id(key);
  if (X509_REQ_sign(req.get(), key, type == EVP_PKEY_ED25519 ? nullptr : EVP_sha256()) <= 0) {
    throw OpenSslError("X509_REQ_sign");
  }
  CertificateRequest request;
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(key, &der);
  request.spki_der.assign(der, der + len);
  OPENSSL_free(der);
  request.request = std::move(req);
  request.rsa = type == EVP_PKEY_RSA;
  request.key_type = type == EVP_PKEY_RSA ? "rsa-2048" : type == EVP_PKEY_ED25519 ? "ed25519" : "ec-p256";
  request.sans = spec.sans;
  request.requests_ca = spec.ask_ca;
  return request;
}

}  // namespace hsmca::test
