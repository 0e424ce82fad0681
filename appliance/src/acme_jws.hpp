#pragma once
// ACME's request authentication (RFC 8555 6.2-6.5, 7.3.4, 7.3.5): base64url,
// JSON Web Keys (RFC 7517/7518, RFC 8037 for Ed25519), their RFC 7638
// thumbprints, flattened JWS verification (RFC 7515 7.2.2), External Account
// Binding, key rollover, and the replay nonces.
//
// Every function here is total over hostile input: whatever the bytes, it
// returns or throws JwsError. Only an internal failure (out of memory, an
// RNG that does not answer) throws anything else. JSON is read strictly
// everywhere (parse_strict_json): duplicate member names and nesting deeper
// than kMaxJsonDepth are refused, so no two parsers can read one request
// differently.
#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "hsmca/signer/clock.hpp"
#include "hsmca/signer/openssl.hpp"

namespace hsmca::appliance::acme {

using signer::Bytes;

// ---------------------------------------------------------------- errors

// The ACME error types (RFC 8555 6.7) a JWS can earn.
enum class JwsProblem {
  malformed,               // not a JWS ACME accepts, or its signature does not verify
  bad_signature_algorithm, // alg unsupported or unfit for the key (answer with supported_algorithms())
  bad_public_key,          // a JWK that is not an acceptable public key
  unauthorized,            // url not the request's, EAB or key-change binding refused
  bad_nonce,               // nonce absent, unknown, used or expired
  account_does_not_exist,  // kid names no account
};

// "malformed", "badSignatureAlgorithm", ...: the suffix of
// "urn:ietf:params:acme:error:".
std::string_view acme_error_name(JwsProblem problem) noexcept;

// A request refused. what() is the detail, safe to show the client (it never
// holds key material or secrets).
class JwsError : public std::runtime_error {
 public:
  JwsError(JwsProblem problem, const std::string& detail) : std::runtime_error(detail), problem_(problem) {}
  JwsProblem problem() const noexcept { return problem_; }

 private:
  JwsProblem problem_;
};

// ---------------------------------------------------------------- encodings

// RFC 7515 2: base64url without padding.
std::string base64url_encode(std::span<const unsigned char> bytes);
std::string base64url_encode(std::string_view bytes);
// Strict: only A-Z a-z 0-9 - _, no padding, no whitespace, no length of 4k+1,
// and the unused low bits of the last character zero (so each byte string has
// exactly one spelling). nullopt otherwise.
std::optional<Bytes> base64url_decode(std::string_view text);

inline constexpr int kMaxJsonDepth = 16;

// nlohmann's parse, refusing what it would silently accept: duplicate member
// names (it keeps the last), nesting deeper than kMaxJsonDepth. Invalid UTF-8
// is refused by nlohmann itself. nullopt when it does not read.
std::optional<nlohmann::json> parse_strict_json(std::string_view text);

// ---------------------------------------------------------------- keys

enum class KeyType { ec_p256, ec_p384, ec_p521, rsa, ed25519 };

// RFC 8555 6.2: the JWS algorithms accepted. "none" and the MACs never sign
// an ACME request (the MACs only bind an account, verify_eab).
enum class JwsAlgorithm { es256, es384, es512, rs256, eddsa };

// The names, for the "algorithms" member of a badSignatureAlgorithm problem.
std::span<const std::string_view> supported_algorithms() noexcept;
std::string_view algorithm_name(JwsAlgorithm alg) noexcept;
// nullopt for anything not in supported_algorithms(), exactly spelled.
std::optional<JwsAlgorithm> parse_algorithm(std::string_view name) noexcept;

namespace detail {
struct JwkAccess;
}

// An account's public key, checked and canonical. Copies share the immutable
// EVP_PKEY (EVP_PKEY_up_ref).
class Jwk {
 public:
  Jwk(const Jwk& other);
  Jwk& operator=(const Jwk& other);
  Jwk(Jwk&&) noexcept = default;
  Jwk& operator=(Jwk&&) noexcept = default;
  ~Jwk() = default;

  KeyType type() const noexcept { return type_; }
  EVP_PKEY* key() const noexcept { return key_.get(); }
  // The RFC 7638 required members only, values re-encoded from the decoded
  // bytes: {"crv","kty","x","y"}, {"e","kty","n"} or {"crv","kty","x"}. One
  // key has exactly one canonical form, so equal keys compare equal here.
  const nlohmann::json& json() const noexcept { return json_; }
  // Whether `alg` is the algorithm for this key: ES256 for P-256, ES384 for
  // P-384, ES512 for P-521, RS256 for RSA, EdDSA for Ed25519.
  bool fits(JwsAlgorithm alg) const noexcept;

  friend bool operator==(const Jwk& a, const Jwk& b) { return a.json_ == b.json_; }

 private:
  friend struct detail::JwkAccess;  // parse_jwk builds one, nobody else
  Jwk(KeyType type, signer::EvpPkeyPtr key, nlohmann::json json)
      : type_(type), key_(std::move(key)), json_(std::move(json)) {}

  KeyType type_;
  signer::EvpPkeyPtr key_;
  nlohmann::json json_;
};

// A JWK (RFC 7517) as an account key: kty "EC" on P-256, P-384 or P-521 with
// x and y the full coordinate length and the point on the curve (SP 800-56A
// 5.6.2.3.4); "RSA" with an odd n of 2048..8192 bits without a leading zero
// octet and e = 65537 (the signer's CSR key policy); "OKP" with crv "Ed25519"
// and a 32-octet x (RFC 8037). Refuses private members (d, p, q, dp, dq, qi,
// oth, k) and other key types. Other members (alg, use, kid, ...) are
// ignored, as RFC 7517 4 asks.
// Throws JwsError(bad_public_key).
Jwk parse_jwk(const nlohmann::json& jwk);

// RFC 7638: base64url(SHA-256(canonical JSON)).
std::string jwk_thumbprint(const Jwk& jwk);
// RFC 8555 8.1: token || "." || thumbprint.
std::string key_authorization(std::string_view token, const Jwk& jwk);

// The signature check alone: `signature` in JOSE form (RFC 7518 3.4: ECDSA as
// r || s, each exactly the curve's octet length; RSA exactly the modulus
// length; Ed25519 64 octets) over `signing_input`. False when it does not
// verify, is the wrong length, or `alg` does not fit the key.
bool verify_signature(const Jwk& key, JwsAlgorithm alg, std::string_view signing_input,
                      std::span<const unsigned char> signature);

// ---------------------------------------------------------------- JWS

inline constexpr std::size_t kMaxJwsBytes = 64 * 1024;

// Which key a route takes (RFC 8555 6.2): newAccount names its key ("jwk"),
// everything an account does names the account ("kid"); revokeCert takes
// either (the account, or the certificate's own key).
enum class KeyReference { kid, jwk, either };

struct JwsRequest {
  // The URL the request arrived at, as the server spells its own URLs
  // (directory entries); the header's "url" must equal it octet for octet
  // (RFC 8555 6.4), else unauthorized.
  std::string_view url;
  KeyReference key = KeyReference::kid;
  // The account key for a "kid" (the account URL); nullopt: no such account
  // (accountDoesNotExist). It may throw JwsError itself, e.g. unauthorized
  // for a deactivated account (RFC 8555 7.3.6). Not called for "jwk".
  std::function<std::optional<Jwk>(std::string_view kid)> key_for_kid;
  // Takes the nonce out of circulation; false when it was unknown, used or
  // expired (NonceStore::consume). Called only once the signature and url
  // have been checked, so a forged request never spends a client's nonce.
  std::function<bool(std::string_view nonce)> consume_nonce;
};

struct VerifiedJws {
  nlohmann::json protected_header;
  std::string payload;             // the decoded payload; empty for POST-as-GET
  std::optional<Jwk> jwk;          // the key, when the header carried "jwk"
  std::optional<std::string> kid;  // the account URL, when it carried "kid"
  Jwk key;                         // the key that signed: *jwk, or the kid's account key
  JwsAlgorithm algorithm;
  std::string nonce, url;

  bool post_as_get() const noexcept { return payload.empty(); }
  // The payload as a JSON object (parse_strict_json); JwsError(malformed) when
  // it is anything else.
  nlohmann::json payload_object() const;
};

// Verifies an ACME request body: a flattened JSON JWS (RFC 7515 7.2.2) with
// exactly "protected", "payload" and "signature" (no "header", no
// "signatures", no compact form), each strict base64url; a protected header
// with "alg" among supported_algorithms() fitting the key, exactly one of
// "jwk"/"kid" (as `request.key` allows), "nonce" (base64url) and "url", and
// neither "b64" (RFC 7797) nor "crit". The signature is checked over the
// protected and payload members exactly as received. Then url equality, then
// the nonce is consumed: everything RFC 8555 6.2-6.5 asks of a request is
// decided here. Throws JwsError; body at most kMaxJwsBytes.
VerifiedJws verify_jws(std::string_view body, const JwsRequest& request);

// RFC 8555 7.3.4: the "externalAccountBinding" member of a newAccount
// payload. A flattened JWS whose protected header has alg HS256, HS384 or
// HS512, "kid" (the EAB key id), "url" equal to `new_account_url`, and no
// "nonce"; its MAC (compared in constant time) verifies under the key
// `hmac_key_for_kid` returns; its payload is the outer JWS's key
// (`account_key`, compared as canonical keys). Returns the EAB kid. Unknown
// kid, wrong MAC, url or key: unauthorized; structure: malformed. The HMAC
// key returned is wiped after use.
std::string verify_eab(const nlohmann::json& eab, const Jwk& account_key, std::string_view new_account_url,
                       const std::function<std::optional<Bytes>(std::string_view kid)>& hmac_key_for_kid);

// RFC 8555 7.3.5: a keyChange request, already verified by verify_jws with
// the account's key (`old_key`, kid `account_url`). Its payload is an inner
// flattened JWS signed by the new key, carrying "jwk" (not "kid"), a "url"
// equal to the outer one; "nonce" may be absent and is not checked. The inner
// payload is {"account": account_url, "oldKey": the old key}. Returns the new
// key (which must differ from the old). Whether another account already holds
// it (409) is the caller's question.
Jwk verify_key_change(const VerifiedJws& outer, const Jwk& old_key, std::string_view account_url);

// ---------------------------------------------------------------- nonces

// RFC 8555 6.5: Replay-Nonce values. 128 random bits, base64url; each is
// accepted once, within `lifetime` of its issue, and only while it is among
// the last `capacity` issued (memory is fixed: a ring of issued nonces; a
// nonce pushed out is refused and the client retries with a fresh one, as
// 6.5 provides). Safe from many threads.
class NonceStore {
 public:
  static constexpr std::size_t kDefaultCapacity = 64 * 1024;
  static constexpr std::chrono::seconds kDefaultLifetime{3600};

  explicit NonceStore(const signer::Clock& clock, std::size_t capacity = kDefaultCapacity,
                      std::chrono::seconds lifetime = kDefaultLifetime);
  // Not copyable: two copies would each accept the same nonce once.
  NonceStore(const NonceStore&) = delete;
  NonceStore& operator=(const NonceStore&) = delete;

  std::string issue();
  // True once for a nonce this store issued, unexpired and not pushed out.
  bool consume(std::string_view nonce);
  // Nonces issued and not yet consumed (expired ones included until pushed out).
  std::size_t outstanding() const;

 private:
  struct Slot {
    std::string nonce;  // empty once consumed
    std::chrono::steady_clock::time_point issued;
  };
  const signer::Clock& clock_;
  const std::chrono::seconds lifetime_;
  mutable std::mutex mutex_;
  std::vector<Slot> ring_;
  std::size_t next_ = 0;
  std::unordered_map<std::string, std::size_t> index_;  // nonce -> slot in ring_
};

}  // namespace hsmca::appliance::acme
