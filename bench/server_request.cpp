#include "server_request.hpp"

#include <openssl/x509v3.h>

#include <memory>

namespace hsmca::bench {

using signer::OpenSslError;

namespace {

// The stack owns its extensions: freeing it frees them too.
struct FreeExtensions {
  void operator()(STACK_OF(X509_EXTENSION) * s) const noexcept { sk_X509_EXTENSION_pop_free(s, X509_EXTENSION_free); }
};
using ExtensionStackPtr = std::unique_ptr<STACK_OF(X509_EXTENSION), FreeExtensions>;

}  // namespace

signer::EvpPkeyPtr make_p256_key() {
  signer::EvpPkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) throw OpenSslError("EVP_EC_gen(P-256)");
  return key;
}

signer::X509ReqPtr make_server_request(EVP_PKEY* key, const std::string& dns_name) {
  signer::X509ReqPtr req(X509_REQ_new());
  if (!req) throw OpenSslError("X509_REQ_new");
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(dns_name.c_str()),
                                 -1, -1, 0) != 1 ||
      X509_REQ_set_pubkey(req.get(), key) != 1) {
    throw OpenSslError("X509_REQ subject and key");
  }
  ExtensionStackPtr extensions(sk_X509_EXTENSION_new_null());
  signer::X509ExtensionPtr san(
      X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, ("DNS:" + dns_name).c_str()));
  if (!extensions || !san || sk_X509_EXTENSION_push(extensions.get(), san.get()) <= 0) {
    throw OpenSslError("subjectAltName");
  }
  san.release();  // the stack owns it now
  if (X509_REQ_add_extensions(req.get(), extensions.get()) != 1) throw OpenSslError("X509_REQ_add_extensions");
  if (X509_REQ_sign(req.get(), key, EVP_sha256()) <= 0) throw OpenSslError("X509_REQ_sign");
  return req;
}

}  // namespace hsmca::bench
