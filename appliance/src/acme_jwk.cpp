// JSON Web Keys, their thumbprints and the signature check (see acme_jws.hpp).
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <array>
#include <bit>
#include <climits>
#include <variant>

#include "acme_jws.hpp"
#include "acme_jws_internal.hpp"

namespace hsmca::appliance::acme {

using nlohmann::json;
using signer::BignumPtr;
using signer::EvpMdCtxPtr;
using signer::EvpPkeyCtxPtr;
using signer::EvpPkeyPtr;

std::string_view acme_error_name(JwsProblem problem) noexcept {
  switch (problem) {
    case JwsProblem::malformed: return "malformed";
    case JwsProblem::bad_signature_algorithm: return "badSignatureAlgorithm";
    case JwsProblem::bad_public_key: return "badPublicKey";
    case JwsProblem::unauthorized: return "unauthorized";
    case JwsProblem::bad_nonce: return "badNonce";
    case JwsProblem::account_does_not_exist: return "accountDoesNotExist";
  }
  return "malformed";
}

// ---------------------------------------------------------------- algorithms

namespace {

constexpr std::array<std::string_view, 5> kAlgorithmNames = {"ES256", "ES384", "ES512", "RS256", "EdDSA"};

}  // namespace

std::span<const std::string_view> supported_algorithms() noexcept { return kAlgorithmNames; }

std::string_view algorithm_name(JwsAlgorithm alg) noexcept {
  return kAlgorithmNames[static_cast<std::size_t>(alg)];
}

std::optional<JwsAlgorithm> parse_algorithm(std::string_view name) noexcept {
  for (std::size_t i = 0; i < kAlgorithmNames.size(); ++i) {
    if (kAlgorithmNames[i] == name) return static_cast<JwsAlgorithm>(i);
  }
  return std::nullopt;
}

// ---------------------------------------------------------------- keys

Jwk::Jwk(const Jwk& other) : type_(other.type_), json_(other.json_) {
  if (other.key_ && EVP_PKEY_up_ref(other.key_.get()) == 1) key_.reset(other.key_.get());
  if (!key_) throw signer::OpenSslError("EVP_PKEY_up_ref");
}

Jwk& Jwk::operator=(const Jwk& other) {
  if (this != &other) *this = Jwk(other);
  return *this;
}

bool Jwk::fits(JwsAlgorithm alg) const noexcept {
  switch (type_) {
    case KeyType::ec_p256: return alg == JwsAlgorithm::es256;
    case KeyType::ec_p384: return alg == JwsAlgorithm::es384;
    case KeyType::ec_p521: return alg == JwsAlgorithm::es512;
    case KeyType::rsa: return alg == JwsAlgorithm::rs256;
    case KeyType::ed25519: return alg == JwsAlgorithm::eddsa;
  }
  return false;
}

namespace detail {

const std::string* string_member(const json& object, std::string_view name) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(name);
  if (it == object.end() || !it->is_string()) return nullptr;
  return &it->get_ref<const std::string&>();
}

}  // namespace detail

namespace {

using detail::string_member;

constexpr std::size_t kMinRsaBits = 2048;
constexpr std::size_t kMaxRsaBits = 8192;

struct Curve {
  std::string_view crv;
  const char* group;  // OpenSSL's name
  std::size_t octets;
  KeyType type;
};
constexpr std::array<Curve, 3> kCurves = {{
    {"P-256", "prime256v1", 32, KeyType::ec_p256},
    {"P-384", "secp384r1", 48, KeyType::ec_p384},
    {"P-521", "secp521r1", 66, KeyType::ec_p521},
}};

struct KeyRefused {
  std::string why;
};

// A base64url member of the JWK, decoded.
std::variant<Bytes, KeyRefused> octets(const json& jwk, std::string_view name) {
  const std::string* text = string_member(jwk, name);
  if (text == nullptr) return KeyRefused{"the JWK has no string member \"" + std::string(name) + "\""};
  std::optional<Bytes> bytes = base64url_decode(*text);
  if (!bytes) return KeyRefused{"the JWK member \"" + std::string(name) + "\" is not base64url"};
  return std::move(*bytes);
}

EvpPkeyPtr from_params(const char* type, const OSSL_PARAM* params) {
  const EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  if (!ctx) throw signer::OpenSslError("EVP_PKEY_CTX_new_from_name");
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, const_cast<OSSL_PARAM*>(params)) != 1) {
    // OpenSSL refuses a point not on the curve here; the reasons say why,
    // but the client only needs to know its key was not taken.
    signer::drain_openssl_errors();
    return nullptr;
  }
  return EvpPkeyPtr(raw);
}

bool passes_public_check(EVP_PKEY* key) {
  const EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  if (!ctx) throw signer::OpenSslError("EVP_PKEY_CTX_new_from_pkey");
  const bool ok = EVP_PKEY_public_check_quick(ctx.get()) == 1;
  if (!ok) signer::drain_openssl_errors();
  return ok;
}

using KeyRead = std::variant<Jwk, KeyRefused>;

std::variant<std::pair<EvpPkeyPtr, json>, KeyRefused> read_ec(const json& jwk, KeyType& type) {
  const std::string* crv = string_member(jwk, "crv");
  const auto curve = std::ranges::find_if(kCurves, [&](const Curve& c) { return crv && c.crv == *crv; });
  if (curve == kCurves.end()) return KeyRefused{"EC keys must be on P-256, P-384 or P-521"};
  auto x = octets(jwk, "x");
  if (auto* refused = std::get_if<KeyRefused>(&x)) return *refused;
  auto y = octets(jwk, "y");
  if (auto* refused = std::get_if<KeyRefused>(&y)) return *refused;
  const Bytes& xb = std::get<Bytes>(x);
  const Bytes& yb = std::get<Bytes>(y);
  // RFC 7518 6.2.1.2/6.2.1.3: each coordinate is the full length, leading
  // zeros included, so a key has one spelling and one thumbprint.
  if (xb.size() != curve->octets || yb.size() != curve->octets) {
    return KeyRefused{"the EC coordinates must be " + std::to_string(curve->octets) + " octets each for " +
                      std::string(curve->crv)};
  }
  Bytes point{0x04};
  point.insert(point.end(), xb.begin(), xb.end());
  point.insert(point.end(), yb.begin(), yb.end());
  const std::array<OSSL_PARAM, 3> params = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, const_cast<char*>(curve->group), 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()),
      OSSL_PARAM_construct_end()};
  EvpPkeyPtr key = from_params("EC", params.data());
  // SP 800-56A 5.6.2.3.4: on the curve, not the point at infinity, the
  // coordinates in range (cofactor 1: that is the full validation).
  if (!key || !passes_public_check(key.get())) return KeyRefused{"the EC point is not on " + std::string(curve->crv)};
  type = curve->type;
  return std::pair{std::move(key), json{{"kty", "EC"},
                                        {"crv", curve->crv},
                                        {"x", base64url_encode(xb)},
                                        {"y", base64url_encode(yb)}}};
}

std::variant<std::pair<EvpPkeyPtr, json>, KeyRefused> read_rsa(const json& jwk) {
  auto n = octets(jwk, "n");
  if (auto* refused = std::get_if<KeyRefused>(&n)) return *refused;
  auto e = octets(jwk, "e");
  if (auto* refused = std::get_if<KeyRefused>(&e)) return *refused;
  const Bytes& nb = std::get<Bytes>(n);
  const Bytes& eb = std::get<Bytes>(e);
  // RFC 7518 6.3.1.1: the modulus without a leading zero octet.
  if (nb.empty() || nb.front() == 0) return KeyRefused{"the RSA modulus has a leading zero octet"};
  // Counted before OpenSSL sees it, so an oversized modulus costs nothing.
  const std::size_t bits = nb.size() * 8 - static_cast<std::size_t>(std::countl_zero(nb.front()));
  if (bits < kMinRsaBits || bits > kMaxRsaBits) {
    return KeyRefused{"an RSA key of " + std::to_string(bits) + " bits: 2048 to 8192 are accepted"};
  }
  if ((nb.back() & 1) == 0) return KeyRefused{"the RSA modulus is even"};
  // The signer's CSR key policy: e = 65537 only (small exponents have a
  // history of padding attacks, and every real client uses 65537).
  if (eb != Bytes{0x01, 0x00, 0x01}) return KeyRefused{"the RSA public exponent must be 65537 (\"AQAB\")"};
  const BignumPtr nbn(BN_bin2bn(nb.data(), static_cast<int>(nb.size()), nullptr));
  const BignumPtr ebn(BN_bin2bn(eb.data(), static_cast<int>(eb.size()), nullptr));
  const std::unique_ptr<OSSL_PARAM_BLD, signer::Free<OSSL_PARAM_BLD_free>> build(OSSL_PARAM_BLD_new());
  if (!nbn || !ebn || !build || OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_RSA_N, nbn.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_RSA_E, ebn.get()) != 1) {
    throw signer::OpenSslError("OSSL_PARAM_BLD (RSA)");
  }
  const std::unique_ptr<OSSL_PARAM, signer::Free<OSSL_PARAM_free>> params(OSSL_PARAM_BLD_to_param(build.get()));
  if (!params) throw signer::OpenSslError("OSSL_PARAM_BLD_to_param");
  EvpPkeyPtr key = from_params("RSA", params.get());
  // EVP_PKEY_public_check (SP 800-56B partial validation) is left out on
  // purpose: its Miller-Rabin rounds on n cost ~20 ms at 4096 bits (measured)
  // and several times that at 8192, for any unauthenticated newAccount. A
  // weak modulus only weakens the account of whoever chose it.
  if (!key) return KeyRefused{"the RSA key is not usable"};
  return std::pair{std::move(key), json{{"kty", "RSA"}, {"n", base64url_encode(nb)}, {"e", base64url_encode(eb)}}};
}

std::variant<std::pair<EvpPkeyPtr, json>, KeyRefused> read_okp(const json& jwk) {
  const std::string* crv = string_member(jwk, "crv");
  // RFC 8037 2: OKP also names Ed448, X25519 and X448; only Ed25519 signs here.
  if (crv == nullptr || *crv != "Ed25519") return KeyRefused{"OKP keys must be Ed25519"};
  auto x = octets(jwk, "x");
  if (auto* refused = std::get_if<KeyRefused>(&x)) return *refused;
  const Bytes& xb = std::get<Bytes>(x);
  if (xb.size() != 32) return KeyRefused{"an Ed25519 public key is 32 octets"};
  EvpPkeyPtr key(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, xb.data(), xb.size()));
  if (!key) {
    signer::drain_openssl_errors();
    return KeyRefused{"the Ed25519 key is not usable"};
  }
  return std::pair{std::move(key), json{{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", base64url_encode(xb)}}};
}

}  // namespace

namespace detail {

std::variant<Jwk, std::string> read_jwk(const json& jwk) {
  if (!jwk.is_object()) return std::string("the JWK is not a JSON object");
  // RFC 7517 9.2 / RFC 7518 6.2.2, 6.3.2, 6.4: a client that sends these has
  // leaked its private key; nothing it signs proves anything.
  for (const char* secret : {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}) {
    if (jwk.contains(secret)) return std::string("the JWK holds private key members; send the public key only");
  }
  const std::string* kty = string_member(jwk, "kty");
  if (kty == nullptr) return std::string("the JWK has no \"kty\"");
  std::variant<std::pair<EvpPkeyPtr, json>, KeyRefused> read = KeyRefused{};
  KeyType type = KeyType::rsa;
  if (*kty == "EC") {
    read = read_ec(jwk, type);
  } else if (*kty == "RSA") {
    read = read_rsa(jwk);
    type = KeyType::rsa;
  } else if (*kty == "OKP") {
    read = read_okp(jwk);
    type = KeyType::ed25519;
  } else {
    return std::string("key type (kty) not accepted: EC, RSA and OKP (Ed25519) are");
  }
  if (auto* refused = std::get_if<KeyRefused>(&read)) return std::move(refused->why);
  auto& [key, canonical] = std::get<std::pair<EvpPkeyPtr, json>>(read);
  return JwkAccess::make(type, std::move(key), std::move(canonical));
}

}  // namespace detail

Jwk parse_jwk(const json& jwk) {
  auto read = detail::read_jwk(jwk);
  if (auto* why = std::get_if<std::string>(&read)) throw JwsError(JwsProblem::bad_public_key, *why);
  return std::move(std::get<Jwk>(read));
}

std::string jwk_thumbprint(const Jwk& jwk) {
  // nlohmann's objects are sorted by member name and dump() writes no
  // whitespace: exactly RFC 7638 3's form for these ASCII members.
  const std::string canonical = jwk.json().dump();
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  if (EVP_Digest(canonical.data(), canonical.size(), md.data(), &len, EVP_sha256(), nullptr) != 1) {
    throw signer::OpenSslError("EVP_Digest(SHA-256)");
  }
  return base64url_encode(std::span<const unsigned char>(md.data(), len));
}

std::string key_authorization(std::string_view token, const Jwk& jwk) {
  return std::string(token) + "." + jwk_thumbprint(jwk);
}

// ---------------------------------------------------------------- signatures

namespace {

// RFC 7518 3.4: r || s, each the curve's octet length, to the DER
// ECDSA-Sig-Value OpenSSL verifies.
std::optional<Bytes> ecdsa_der(std::span<const unsigned char> jose, std::size_t octets) {
  if (jose.size() != 2 * octets) return std::nullopt;
  const std::unique_ptr<ECDSA_SIG, signer::Free<ECDSA_SIG_free>> sig(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(jose.data(), static_cast<int>(octets), nullptr);
  BIGNUM* s = BN_bin2bn(jose.data() + octets, static_cast<int>(octets), nullptr);
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    throw signer::OpenSslError("ECDSA_SIG_set0");
  }
  unsigned char* der = nullptr;
  const int len = i2d_ECDSA_SIG(sig.get(), &der);
  if (len <= 0) throw signer::OpenSslError("i2d_ECDSA_SIG");
  Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

}  // namespace

bool verify_signature(const Jwk& key, JwsAlgorithm alg, std::string_view signing_input,
                      std::span<const unsigned char> signature) {
  if (!key.fits(alg) || key.key() == nullptr) return false;
  const EVP_MD* md = nullptr;
  Bytes der;
  std::span<const unsigned char> sig = signature;
  switch (alg) {
    case JwsAlgorithm::es256:
    case JwsAlgorithm::es384:
    case JwsAlgorithm::es512: {
      const std::size_t octets = alg == JwsAlgorithm::es256 ? 32 : alg == JwsAlgorithm::es384 ? 48 : 66;
      md = alg == JwsAlgorithm::es256 ? EVP_sha256() : alg == JwsAlgorithm::es384 ? EVP_sha384() : EVP_sha512();
      std::optional<Bytes> converted = ecdsa_der(signature, octets);
      if (!converted) return false;
      der = std::move(*converted);
      sig = der;
      break;
    }
    case JwsAlgorithm::rs256:
      // RFC 8017 8.2.2 step 1: the signature is exactly k octets.
      if (signature.size() != static_cast<std::size_t>(EVP_PKEY_get_size(key.key()))) return false;
      md = EVP_sha256();
      break;
    case JwsAlgorithm::eddsa:
      if (signature.size() != 64) return false;
      break;  // Ed25519 hashes internally: no digest
  }
  const EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), &pctx, md, nullptr, key.key()) != 1) {
    throw signer::OpenSslError("EVP_DigestVerifyInit");
  }
  if (alg == JwsAlgorithm::rs256 && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) {
    throw signer::OpenSslError("EVP_PKEY_CTX_set_rsa_padding");
  }
  const int verdict = EVP_DigestVerify(ctx.get(), sig.data(), sig.size(),
                                       reinterpret_cast<const unsigned char*>(signing_input.data()),
                                       signing_input.size());
  if (verdict != 1) signer::drain_openssl_errors();
  return verdict == 1;
}

}  // namespace hsmca::appliance::acme
