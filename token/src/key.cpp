#include "hsmca/token/key.hpp"

#include <openssl/rand.h>

#include <array>

#include "hsmca/token/enum_names.hpp"
#include "hsmca/token/error.hpp"
#include "public_key.hpp"

namespace hsmca::token {
namespace {

constexpr EnumNames<KeyType, 6> kTypeNames{{{
    {KeyType::ec_p256, "ec-p256"},
    {KeyType::ec_p384, "ec-p384"},
    {KeyType::rsa_2048, "rsa-2048"},
    {KeyType::rsa_3072, "rsa-3072"},
    {KeyType::rsa_4096, "rsa-4096"},
    {KeyType::ed25519, "ed25519"},
}}};

constexpr CK_BBOOL kTrue = CK_TRUE;
constexpr CK_BBOOL kFalse = CK_FALSE;
constexpr std::size_t kIdBytes = 16;

CK_ATTRIBUTE flag(CK_ATTRIBUTE_TYPE type, bool on) {
  return {type, const_cast<CK_BBOOL*>(on ? &kTrue : &kFalse), sizeof(CK_BBOOL)};
}

CK_ATTRIBUTE bytes_attr(CK_ATTRIBUTE_TYPE type, const void* data, std::size_t size) {
  return {type, const_cast<void*>(data), size};
}

std::vector<CK_OBJECT_HANDLE> find_keys(Session& session, CK_OBJECT_CLASS cls, CK_ATTRIBUTE match) {
  CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof cls}, match};
  return session.find(tmpl);
}

KeyPair complete_pair(Session& session, CK_OBJECT_HANDLE private_key, std::string label) {
  KeyPair pair;
  pair.private_key = private_key;
  pair.id = session.attribute(private_key, CKA_ID);
  pair.label = std::move(label);
  if (pair.id.empty()) throw LookupError("key '" + pair.label + "' has no CKA_ID, so its public key cannot be found");
  auto pubs = find_keys(session, CKO_PUBLIC_KEY, bytes_attr(CKA_ID, pair.id.data(), pair.id.size()));
  if (pubs.size() != 1) {
    throw LookupError("key '" + pair.label + "': expected one public key with its CKA_ID, found " +
                      std::to_string(pubs.size()));
  }
  pair.public_key = pubs.front();
  return pair;
}

}  // namespace

std::string_view key_type_name(KeyType type) noexcept { return kTypeNames.name(type); }
std::optional<KeyType> parse_key_type(std::string_view name) noexcept { return kTypeNames.parse(name); }
std::string key_type_names() { return kTypeNames.list(); }

bool key_label_exists(Session& session, std::string_view label) {
  CK_ATTRIBUTE match = bytes_attr(CKA_LABEL, label.data(), label.size());
  return !find_keys(session, CKO_PRIVATE_KEY, match).empty() || !find_keys(session, CKO_PUBLIC_KEY, match).empty();
}

KeyPair generate_key_pair(Session& session, std::string_view label, KeyType type) {
  if (label.empty()) throw std::invalid_argument("key label must not be empty");
  if (key_label_exists(session, label)) {
    throw AlreadyExists("a key labelled '" + std::string(label) + "' already exists on the token");
  }
  Bytes id(kIdBytes);
  if (RAND_bytes(id.data(), static_cast<int>(id.size())) != 1) throw std::runtime_error("RAND_bytes failed");

  CK_MECHANISM mechanism{CKM_EC_KEY_PAIR_GEN, nullptr, 0};
  CK_KEY_TYPE key_type = CKK_EC;
  CK_ULONG modulus_bits = 0;
  static constexpr unsigned char kExponent[] = {0x01, 0x00, 0x01};
  std::vector<CK_ATTRIBUTE> pub = {
      flag(CKA_TOKEN, true), flag(CKA_PRIVATE, false), flag(CKA_VERIFY, true),
      // SoftHSM defaults ENCRYPT and WRAP to true for public keys.
      flag(CKA_ENCRYPT, false), flag(CKA_WRAP, false), flag(CKA_VERIFY_RECOVER, false),
      bytes_attr(CKA_ID, id.data(), id.size()), bytes_attr(CKA_LABEL, label.data(), label.size()),
  };
  Bytes ec_params;
  switch (type) {
    case KeyType::ec_p256:
    case KeyType::ec_p384:
      ec_params = curve_params_der(type);
      pub.push_back(bytes_attr(CKA_EC_PARAMS, ec_params.data(), ec_params.size()));
      break;
    case KeyType::ed25519:
      mechanism.mechanism = CKM_EC_EDWARDS_KEY_PAIR_GEN;
      key_type = CKK_EC_EDWARDS;
      ec_params = curve_params_der(type);
      pub.push_back(bytes_attr(CKA_EC_PARAMS, ec_params.data(), ec_params.size()));
      break;
    case KeyType::rsa_2048:
    case KeyType::rsa_3072:
    case KeyType::rsa_4096:
      mechanism.mechanism = CKM_RSA_PKCS_KEY_PAIR_GEN;
      key_type = CKK_RSA;
      modulus_bits = type == KeyType::rsa_2048 ? 2048 : type == KeyType::rsa_3072 ? 3072 : 4096;
      pub.push_back({CKA_MODULUS_BITS, &modulus_bits, sizeof modulus_bits});
      pub.push_back(bytes_attr(CKA_PUBLIC_EXPONENT, kExponent, sizeof kExponent));
      break;
  }
  pub.push_back({CKA_KEY_TYPE, &key_type, sizeof key_type});

  // Every attribute set explicitly: token defaults differ.
  std::vector<CK_ATTRIBUTE> priv = {
      flag(CKA_TOKEN, true),       flag(CKA_PRIVATE, true),  flag(CKA_SENSITIVE, true),
      flag(CKA_SIGN, true),        flag(CKA_EXTRACTABLE, false), flag(CKA_DECRYPT, false),
      flag(CKA_UNWRAP, false),     flag(CKA_DERIVE, false),  flag(CKA_SIGN_RECOVER, false),
      {CKA_KEY_TYPE, &key_type, sizeof key_type},
      bytes_attr(CKA_ID, id.data(), id.size()), bytes_attr(CKA_LABEL, label.data(), label.size()),
  };

  KeyPair pair;
  check(session.fn()->C_GenerateKeyPair(session.handle(), &mechanism, pub.data(), pub.size(), priv.data(),
                                        priv.size(), &pair.public_key, &pair.private_key),
        "C_GenerateKeyPair", std::string(key_type_name(type)) + " key '" + std::string(label) + "'");
  pair.label = label;
  pair.id = std::move(id);
  return pair;
}

KeyPair find_key_pair(Session& session, std::string_view label) {
  auto found = find_keys(session, CKO_PRIVATE_KEY, bytes_attr(CKA_LABEL, label.data(), label.size()));
  if (found.empty()) throw LookupError("no private key labelled '" + std::string(label) + "' on the token");
  if (found.size() > 1) {
    throw LookupError(std::to_string(found.size()) + " private keys are labelled '" + std::string(label) +
                      "'; select the key by id");
  }
  return complete_pair(session, found.front(), std::string(label));
}

KeyDescription describe_key(Session& session, const KeyPair& pair) {
  KeyDescription d;
  d.label = pair.label;
  d.id = pair.id;

  // One C_GetAttributeValue for the five flags: they are all public booleans
  // even on a sensitive key.
  CK_BBOOL local = CK_FALSE, sensitive = CK_FALSE, always = CK_FALSE, extractable = CK_TRUE, never = CK_FALSE;
  CK_ATTRIBUTE flags[] = {
      {CKA_LOCAL, &local, sizeof local},
      {CKA_SENSITIVE, &sensitive, sizeof sensitive},
      {CKA_ALWAYS_SENSITIVE, &always, sizeof always},
      {CKA_EXTRACTABLE, &extractable, sizeof extractable},
      {CKA_NEVER_EXTRACTABLE, &never, sizeof never},
  };
  check(session.fn()->C_GetAttributeValue(session.handle(), pair.private_key, flags, 5), "C_GetAttributeValue",
        "evidence of key '" + pair.label + "'");
  d.evidence = {local == CK_TRUE, sensitive == CK_TRUE, always == CK_TRUE, extractable == CK_TRUE, never == CK_TRUE};

  PublicKey pk = read_public_key(session, pair.public_key);
  d.type = pk.type_name;
  d.spki_der = std::move(pk.spki_der);
  return d;
}

void destroy_key_pair(Session& session, const KeyPair& pair) {
  if (pair.private_key != CK_INVALID_HANDLE) session.destroy(pair.private_key);
  if (pair.public_key != CK_INVALID_HANDLE) session.destroy(pair.public_key);
}

}  // namespace hsmca::token
