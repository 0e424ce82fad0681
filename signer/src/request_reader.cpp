#include "request_reader.hpp"

#include "x509_build.hpp"

#include <openssl/asn1t.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>

#include <array>
#include <cstring>

// The ASN.1 templates below are OpenSSL's own macros, written for C.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast"
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace hsmca::signer::detail {
namespace {

// SubjectPublicKeyInfo (RFC 5280 4.1), the key left undecoded.
typedef struct {
  X509_ALGOR* algorithm;
  ASN1_BIT_STRING* public_key;
} HSMCA_SPKI;

ASN1_SEQUENCE(HSMCA_SPKI) = {
    ASN1_SIMPLE(HSMCA_SPKI, algorithm, X509_ALGOR),
    ASN1_SIMPLE(HSMCA_SPKI, public_key, ASN1_BIT_STRING),
} static_ASN1_SEQUENCE_END(HSMCA_SPKI)

// CertificationRequestInfo (RFC 2986 4.1), as OpenSSL's X509_REQ_INFO reads
// it (attributes OPTIONAL there too, for the encoders that leave the empty
// SET out).
typedef struct {
  ASN1_INTEGER* version;
  X509_NAME* subject;
  HSMCA_SPKI* spki;
  STACK_OF(X509_ATTRIBUTE) * attributes;
} HSMCA_REQ_INFO;

ASN1_SEQUENCE(HSMCA_REQ_INFO) = {
    ASN1_SIMPLE(HSMCA_REQ_INFO, version, ASN1_INTEGER),
    ASN1_SIMPLE(HSMCA_REQ_INFO, subject, X509_NAME),
    ASN1_SIMPLE(HSMCA_REQ_INFO, spki, HSMCA_SPKI),
    ASN1_IMP_SET_OF_OPT(HSMCA_REQ_INFO, attributes, X509_ATTRIBUTE, 0),
} static_ASN1_SEQUENCE_END(HSMCA_REQ_INFO)

// CertificationRequest (RFC 2986 4.2).
typedef struct {
  HSMCA_REQ_INFO* info;
  X509_ALGOR* signature_algorithm;
  ASN1_BIT_STRING* signature;
} HSMCA_REQ;

ASN1_SEQUENCE(HSMCA_REQ) = {
    ASN1_SIMPLE(HSMCA_REQ, info, HSMCA_REQ_INFO),
    ASN1_SIMPLE(HSMCA_REQ, signature_algorithm, X509_ALGOR),
    ASN1_SIMPLE(HSMCA_REQ, signature, ASN1_BIT_STRING),
} static_ASN1_SEQUENCE_END(HSMCA_REQ)

// RSAPublicKey (RFC 8017 A.1.1).
typedef struct {
  ASN1_INTEGER* modulus;
  ASN1_INTEGER* public_exponent;
} HSMCA_RSA_PUBLIC_KEY;

ASN1_SEQUENCE(HSMCA_RSA_PUBLIC_KEY) = {
    ASN1_SIMPLE(HSMCA_RSA_PUBLIC_KEY, modulus, ASN1_INTEGER),
    ASN1_SIMPLE(HSMCA_RSA_PUBLIC_KEY, public_exponent, ASN1_INTEGER),
} static_ASN1_SEQUENCE_END(HSMCA_RSA_PUBLIC_KEY)

#pragma GCC diagnostic pop

template <typename T>
struct ItemFree {
  const ASN1_ITEM* item;
  void operator()(T* p) const noexcept { ASN1_item_free(reinterpret_cast<ASN1_VALUE*>(p), item); }
};
template <typename T>
using ItemPtr = std::unique_ptr<T, ItemFree<T>>;

// The whole of `der` as one `item`, or nullptr (errors dropped: the usual
// reading says what is wrong).
template <typename T>
ItemPtr<T> read_whole(std::span<const unsigned char> der, const ASN1_ITEM* item) {
  const unsigned char* p = der.data();
  ItemPtr<T> out(reinterpret_cast<T*>(ASN1_item_d2i(nullptr, &p, static_cast<long>(der.size()), item)), {item});
  if (!out || p != der.data() + der.size()) {
    ERR_clear_error();
    return ItemPtr<T>(nullptr, {item});
  }
  return out;
}

std::span<const unsigned char> bytes_of(const ASN1_STRING* s) {
  return {ASN1_STRING_get0_data(s), static_cast<std::size_t>(ASN1_STRING_length(s))};
}

// A BIT STRING holding whole octets, as every key and signature here does.
bool whole_octets(const ASN1_BIT_STRING* s) { return (s->flags & ASN1_STRING_FLAG_BITS_LEFT) == 0 || (s->flags & 0x07) == 0; }

EvpPkeyPtr import(const char* type, std::array<OSSL_PARAM, 3>& params) {
  const EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* key = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params.data()) != 1) {
    ERR_clear_error();
    return nullptr;
  }
  return EvpPkeyPtr(key);
}

EvpPkeyPtr ec_key(const X509_ALGOR* algorithm, std::span<const unsigned char> point) {
  int param_type = V_ASN1_UNDEF;
  const void* param = nullptr;
  X509_ALGOR_get0(nullptr, &param_type, &param, algorithm);
  if (param_type != V_ASN1_OBJECT) return nullptr;  // explicit parameters: the usual reading refuses them
  const int curve = OBJ_obj2nid(static_cast<const ASN1_OBJECT*>(param));
  if (curve != NID_X9_62_prime256v1 && curve != NID_secp384r1 && curve != NID_secp521r1) return nullptr;
  std::array<OSSL_PARAM, 3> params = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, const_cast<char*>(OBJ_nid2sn(curve)), 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, const_cast<unsigned char*>(point.data()),
                                        point.size()),
      OSSL_PARAM_construct_end(),
  };
  return import("EC", params);
}

EvpPkeyPtr rsa_key(const X509_ALGOR* algorithm, std::span<const unsigned char> encoded) {
  int param_type = V_ASN1_UNDEF;
  X509_ALGOR_get0(nullptr, &param_type, nullptr, algorithm);
  if (param_type != V_ASN1_NULL && param_type != V_ASN1_UNDEF) return nullptr;
  const auto rsa = read_whole<HSMCA_RSA_PUBLIC_KEY>(encoded, ASN1_ITEM_rptr(HSMCA_RSA_PUBLIC_KEY));
  if (!rsa || ASN1_STRING_type(rsa->modulus) != V_ASN1_INTEGER ||
      ASN1_STRING_type(rsa->public_exponent) != V_ASN1_INTEGER) {
    return nullptr;  // negative numbers among them
  }
  const BignumPtr n(ASN1_INTEGER_to_BN(rsa->modulus, nullptr));
  const BignumPtr e(ASN1_INTEGER_to_BN(rsa->public_exponent, nullptr));
  if (!n || !e) return nullptr;
  // OSSL_PARAM integers are native-endian unsigned bytes.
  std::vector<unsigned char> n_bytes(static_cast<std::size_t>(BN_num_bytes(n.get())));
  std::vector<unsigned char> e_bytes(static_cast<std::size_t>(BN_num_bytes(e.get())));
  if (n_bytes.empty() || e_bytes.empty() ||
      BN_bn2nativepad(n.get(), n_bytes.data(), static_cast<int>(n_bytes.size())) < 0 ||
      BN_bn2nativepad(e.get(), e_bytes.data(), static_cast<int>(e_bytes.size())) < 0) {
    return nullptr;
  }
  std::array<OSSL_PARAM, 3> params = {
      OSSL_PARAM_construct_BN(OSSL_PKEY_PARAM_RSA_N, n_bytes.data(), n_bytes.size()),
      OSSL_PARAM_construct_BN(OSSL_PKEY_PARAM_RSA_E, e_bytes.data(), e_bytes.size()),
      OSSL_PARAM_construct_end(),
  };
  return import("RSA", params);
}

EvpPkeyPtr ed25519_key(const X509_ALGOR* algorithm, std::span<const unsigned char> raw) {
  int param_type = V_ASN1_UNDEF;
  X509_ALGOR_get0(nullptr, &param_type, nullptr, algorithm);
  if (param_type != V_ASN1_UNDEF || raw.size() != 32) return nullptr;  // RFC 8410 3: parameters absent
  EVP_PKEY* key = EVP_PKEY_new_raw_public_key_ex(nullptr, "ED25519", nullptr, raw.data(), raw.size());
  if (key == nullptr) ERR_clear_error();
  return EvpPkeyPtr(key);
}

}  // namespace

std::optional<FastRequest> read_request_fast(std::span<const unsigned char> der) {
  const auto parsed = read_whole<HSMCA_REQ>(der, ASN1_ITEM_rptr(HSMCA_REQ));
  if (!parsed) return std::nullopt;
  const HSMCA_REQ_INFO* info = parsed->info;
  if (ASN1_INTEGER_get(info->version) != X509_REQ_VERSION_1) return std::nullopt;
  if (!whole_octets(info->spki->public_key) || !whole_octets(parsed->signature)) return std::nullopt;

  const ASN1_OBJECT* key_oid = nullptr;
  X509_ALGOR_get0(&key_oid, nullptr, nullptr, info->spki->algorithm);
  const auto key_bytes = bytes_of(info->spki->public_key);
  EvpPkeyPtr key;
  switch (OBJ_obj2nid(key_oid)) {
    case NID_X9_62_id_ecPublicKey:
      key = ec_key(info->spki->algorithm, key_bytes);
      break;
    case NID_rsaEncryption:
      key = rsa_key(info->spki->algorithm, key_bytes);
      break;
    case NID_ED25519:
      key = ed25519_key(info->spki->algorithm, key_bytes);
      break;
    default:
      return std::nullopt;
  }
  if (!key) return std::nullopt;

  X509ReqPtr req(X509_REQ_new());
  if (!req) throw OpenSslError("X509_REQ_new");
  bool ok = X509_REQ_set_version(req.get(), X509_REQ_VERSION_1) == 1 &&
            X509_REQ_set_subject_name(req.get(), info->subject) == 1 && set_public_key_parts(X509_REQ_get_X509_PUBKEY(req.get()), info->spki->algorithm,
                                 bytes_of(info->spki->public_key)) &&
            X509_REQ_set1_signature_algo(req.get(), parsed->signature_algorithm) == 1;
  for (int i = 0; ok && i < sk_X509_ATTRIBUTE_num(info->attributes); ++i) {
    ok = X509_REQ_add1_attr(req.get(), sk_X509_ATTRIBUTE_value(info->attributes, i)) == 1;
  }
  if (ok) {
    ASN1_BIT_STRING* signature = ASN1_STRING_dup(parsed->signature);
    ok = signature != nullptr;
    if (ok) X509_REQ_set0_signature(req.get(), signature);
  }
  if (!ok) {
    ERR_clear_error();
    return std::nullopt;
  }
  return FastRequest{std::move(req), std::move(key)};
}

}  // namespace hsmca::signer::detail
