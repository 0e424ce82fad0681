#include "public_key.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include <memory>

#include "hsmca/token/error.hpp"
#include "hsmca/token/free.hpp"

namespace hsmca::token {
namespace {

using PkeyPtr = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Free<EVP_PKEY_CTX_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Free<BN_free>>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, Free<OSSL_PARAM_BLD_free>>;
using ParamsPtr = std::unique_ptr<OSSL_PARAM, Free<OSSL_PARAM_free>>;
using ObjectPtr = std::unique_ptr<ASN1_OBJECT, Free<ASN1_OBJECT_free>>;
using OctetsPtr = std::unique_ptr<ASN1_OCTET_STRING, Free<ASN1_OCTET_STRING_free>>;

[[noreturn]] void fail(const std::string& what) {
  ERR_clear_error();
  throw std::invalid_argument("public key: " + what);
}

PkeyPtr from_params(const char* algorithm, OSSL_PARAM_BLD* bld) {
  ParamsPtr params(OSSL_PARAM_BLD_to_param(bld));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, algorithm, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    fail(std::string("the token's ") + algorithm + " public key is not valid");
  }
  return PkeyPtr(raw);
}

// CKA_EC_POINT is a DER OCTET STRING around the point (PKCS#11 2.40 §2.3.3);
// some tokens store the bare point, so accept that too.
Bytes unwrap_point(const Bytes& raw) {
  const unsigned char* p = raw.data();
  OctetsPtr octets(d2i_ASN1_OCTET_STRING(nullptr, &p, static_cast<long>(raw.size())));
  if (octets && p == raw.data() + raw.size()) {
    return Bytes(octets->data, octets->data + octets->length);
  }
  ERR_clear_error();
  return raw;
}

Bytes to_spki(EVP_PKEY* key) {
  int len = i2d_PUBKEY(key, nullptr);
  if (len <= 0) fail("cannot encode SubjectPublicKeyInfo");
  Bytes der(static_cast<std::size_t>(len));
  unsigned char* p = der.data();
  i2d_PUBKEY(key, &p);
  return der;
}

PublicKey rsa_key(Session& session, CK_OBJECT_HANDLE object) {
  Bytes n = session.attribute(object, CKA_MODULUS);
  Bytes e = session.attribute(object, CKA_PUBLIC_EXPONENT);
  BnPtr bn_n(BN_bin2bn(n.data(), static_cast<int>(n.size()), nullptr));
  BnPtr bn_e(BN_bin2bn(e.data(), static_cast<int>(e.size()), nullptr));
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bn_n || !bn_e || !bld || !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get())) {
    fail("cannot build RSA key");
  }
  PkeyPtr key = from_params("RSA", bld.get());
  return {"rsa-" + std::to_string(EVP_PKEY_get_bits(key.get())), to_spki(key.get())};
}

PublicKey ec_key(Session& session, CK_OBJECT_HANDLE object) {
  Bytes params = session.attribute(object, CKA_EC_PARAMS);
  const unsigned char* p = params.data();
  ObjectPtr oid(d2i_ASN1_OBJECT(nullptr, &p, static_cast<long>(params.size())));
  if (!oid) fail("CKA_EC_PARAMS is not a named curve");
  int nid = OBJ_obj2nid(oid.get());
  const char* group = OBJ_nid2sn(nid);
  if (nid == NID_undef || group == nullptr) fail("unsupported curve");
  Bytes point = unwrap_point(session.attribute(object, CKA_EC_POINT));

  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld || !OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0) ||
      !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size())) {
    fail("cannot build EC key");
  }
  PkeyPtr key = from_params("EC", bld.get());
  std::string name;
  switch (nid) {
    case NID_X9_62_prime256v1: name = "ec-p256"; break;
    case NID_secp384r1: name = "ec-p384"; break;
    case NID_secp521r1: name = "ec-p521"; break;
    default: name = std::string("ec-") + group;
  }
  return {name, to_spki(key.get())};
}

PublicKey edwards_key(Session& session, CK_OBJECT_HANDLE object) {
  Bytes point = unwrap_point(session.attribute(object, CKA_EC_POINT));
  PkeyPtr key(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, point.data(), point.size()));
  if (!key) fail("not an Ed25519 point (Ed448 is not supported)");
  return {"ed25519", to_spki(key.get())};
}

}  // namespace

Bytes curve_params_der(KeyType type) {
  switch (type) {
    case KeyType::ec_p256: return {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};  // prime256v1
    case KeyType::ec_p384: return {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};                    // secp384r1
    case KeyType::ed25519: return {0x06, 0x03, 0x2b, 0x65, 0x70};                                // id-Ed25519
    default: throw std::invalid_argument("not an elliptic-curve key type");
  }
}

PublicKey read_public_key(Session& session, CK_OBJECT_HANDLE object) {
  switch (session.ulong_attribute(object, CKA_KEY_TYPE)) {
    case CKK_RSA: return rsa_key(session, object);
    case CKK_EC: return ec_key(session, object);
    case CKK_EC_EDWARDS: return edwards_key(session, object);
    default: throw std::invalid_argument("public key: unsupported key type");
  }
}

}  // namespace hsmca::token
