// Flattened JWS verification for ACME requests, External Account Binding and
// key rollover (see acme_jws.hpp).
#include "acme_jws.hpp"

#include <openssl/crypto.h>
#include <openssl/hmac.h>

#include <array>

#include "acme_jws_internal.hpp"

namespace hsmca::appliance::acme {

using nlohmann::json;
using detail::string_member;

namespace {

[[noreturn]] void refuse(JwsProblem problem, const std::string& detail) { throw JwsError(problem, detail); }
[[noreturn]] void malformed(const std::string& detail) { refuse(JwsProblem::malformed, detail); }

// A flattened JWS (RFC 7515 7.2.2), its parts decoded. The signing input is
// rebuilt from the members exactly as received.
struct Flattened {
  std::string signing_input;  // BASE64URL(protected) || "." || BASE64URL(payload)
  json header;
  std::string payload;
  Bytes signature;
};

Flattened read_flattened(const json& jws, std::string_view what) {
  const std::string name(what);
  if (!jws.is_object()) malformed(name + " is not a JSON object (only the flattened JSON serialization is accepted)");
  // RFC 8555 6.2: one signature, no unprotected header.
  if (jws.contains("signatures")) malformed(name + " uses the general JSON serialization; send the flattened one");
  if (jws.contains("header")) malformed(name + " has an unprotected header; every header parameter must be protected");
  for (const auto& [member, value] : jws.items()) {
    if (member != "protected" && member != "payload" && member != "signature") {
      malformed(name + " has a member other than \"protected\", \"payload\" and \"signature\"");
    }
  }
  const std::string* protected_b64 = string_member(jws, "protected");
  const std::string* payload_b64 = string_member(jws, "payload");
  const std::string* signature_b64 = string_member(jws, "signature");
  if (!protected_b64 || !payload_b64 || !signature_b64) {
    malformed(name + " needs string members \"protected\", \"payload\" and \"signature\"");
  }
  const std::optional<Bytes> header_bytes = base64url_decode(*protected_b64);
  const std::optional<Bytes> payload = base64url_decode(*payload_b64);
  std::optional<Bytes> signature = base64url_decode(*signature_b64);
  if (!header_bytes || !payload || !signature) malformed(name + " has a member that is not base64url");
  std::optional<json> header =
      parse_strict_json(std::string_view(reinterpret_cast<const char*>(header_bytes->data()), header_bytes->size()));
  if (!header || !header->is_object()) malformed(name + "'s protected header is not a JSON object");
  // RFC 8555 6.2 forbids RFC 7797's unencoded payload; no extension is
  // understood here, so none may be critical (RFC 7515 4.1.11).
  if (header->contains("b64")) malformed(name + " uses the \"b64\" header parameter (RFC 7797), which ACME forbids");
  if (header->contains("crit")) malformed(name + " has critical header parameters (\"crit\"), none is understood");
  return {*protected_b64 + "." + *payload_b64, std::move(*header),
          std::string(payload->begin(), payload->end()), std::move(*signature)};
}

// The "alg" of an account-key JWS.
JwsAlgorithm signature_algorithm(const json& header, std::string_view what) {
  const std::string* alg = string_member(header, "alg");
  if (alg == nullptr) malformed(std::string(what) + " has no \"alg\"");
  const std::optional<JwsAlgorithm> known = parse_algorithm(*alg);
  // RFC 8555 6.2: never "none", never a MAC.
  if (!known) refuse(JwsProblem::bad_signature_algorithm, std::string(what) + "'s algorithm is not accepted");
  return *known;
}

json json_of(const std::string& text, std::string_view what) {
  std::optional<json> value = parse_strict_json(text);
  if (!value || !value->is_object()) malformed(std::string(what) + " is not a JSON object");
  return std::move(*value);
}

}  // namespace

nlohmann::json VerifiedJws::payload_object() const { return json_of(payload, "the JWS payload"); }

VerifiedJws verify_jws(std::string_view body, const JwsRequest& request) {
  if (!request.key_for_kid || !request.consume_nonce) {
    throw std::invalid_argument("verify_jws needs key_for_kid and consume_nonce");
  }
  if (body.size() > kMaxJwsBytes) malformed("the JWS is larger than " + std::to_string(kMaxJwsBytes) + " bytes");
  const std::optional<json> parsed = parse_strict_json(body);
  if (!parsed) malformed("the request body is not JSON (only the flattened JSON serialization is accepted)");
  Flattened jws = read_flattened(*parsed, "the JWS");
  const json& header = jws.header;

  const JwsAlgorithm alg = signature_algorithm(header, "the JWS");
  const bool has_jwk = header.contains("jwk");
  const bool has_kid = header.contains("kid");
  if (has_jwk == has_kid) malformed("the protected header must carry exactly one of \"jwk\" and \"kid\"");
  if (has_jwk && request.key == KeyReference::kid) {
    malformed("this request must be signed by an account (\"kid\"), not a bare key (\"jwk\")");
  }
  if (has_kid && request.key == KeyReference::jwk) malformed("this request must carry its key (\"jwk\"), not \"kid\"");

  // RFC 8555 6.5: a missing nonce is a bad one.
  const std::string* nonce = string_member(header, "nonce");
  if (nonce == nullptr || nonce->empty() || !base64url_decode(*nonce)) {
    refuse(JwsProblem::bad_nonce, "the protected header needs a \"nonce\" in base64url");
  }
  const std::string* url = string_member(header, "url");
  if (url == nullptr) malformed("the protected header has no \"url\"");

  std::optional<Jwk> jwk;
  std::optional<std::string> kid;
  std::optional<Jwk> key;
  if (has_jwk) {
    jwk = parse_jwk(*header.find("jwk"));
    key = jwk;
  } else {
    const std::string* kid_text = string_member(header, "kid");
    if (kid_text == nullptr || kid_text->empty()) malformed("\"kid\" must be an account URL");
    kid = *kid_text;
    key = request.key_for_kid(*kid);
    if (!key) refuse(JwsProblem::account_does_not_exist, "no account has this \"kid\"");
  }
  if (!key->fits(alg)) {
    refuse(JwsProblem::bad_signature_algorithm,
           std::string(algorithm_name(alg)) + " is not the algorithm for this account key");
  }
  if (!verify_signature(*key, alg, jws.signing_input, jws.signature)) malformed("the JWS signature does not verify");
  // Checked only now: neither a forged request nor one for another URL
  // spends the client's nonce.
  if (*url != request.url) refuse(JwsProblem::unauthorized, "the JWS \"url\" is not the URL this request was sent to");
  if (!request.consume_nonce(*nonce)) refuse(JwsProblem::bad_nonce, "the nonce is unknown, used or expired");

  return VerifiedJws{.protected_header = header,
                     .payload = std::move(jws.payload),
                     .jwk = std::move(jwk),
                     .kid = std::move(kid),
                     .key = std::move(*key),
                     .algorithm = alg,
                     .nonce = *nonce,
                     .url = *url};
}

// ---------------------------------------------------------------- EAB

namespace {

// Wiped however the check ends: the EAB key is a secret (SECURITY-NOTES).
struct WipedBytes {
  Bytes bytes;
  ~WipedBytes() {
    if (!bytes.empty()) OPENSSL_cleanse(bytes.data(), bytes.size());
  }
};

const EVP_MD* mac_digest(const json& header) {
  const std::string* alg = string_member(header, "alg");
  if (alg == nullptr) malformed("the externalAccountBinding has no \"alg\"");
  if (*alg == "HS256") return EVP_sha256();
  if (*alg == "HS384") return EVP_sha384();
  if (*alg == "HS512") return EVP_sha512();
  malformed("the externalAccountBinding's algorithm must be HS256, HS384 or HS512");
}

}  // namespace

std::string verify_eab(const nlohmann::json& eab, const Jwk& account_key, std::string_view new_account_url,
                       const std::function<std::optional<Bytes>(std::string_view kid)>& hmac_key_for_kid) {
  const Flattened jws = read_flattened(eab, "the externalAccountBinding");
  const json& header = jws.header;
  const EVP_MD* md = mac_digest(header);
  const std::string* kid = string_member(header, "kid");
  if (kid == nullptr || kid->empty()) malformed("the externalAccountBinding has no \"kid\"");
  if (header.contains("nonce")) malformed("the externalAccountBinding must not carry a \"nonce\" (RFC 8555 7.3.4)");
  if (header.contains("jwk")) malformed("the externalAccountBinding must not carry a \"jwk\"");
  const std::string* url = string_member(header, "url");
  if (url == nullptr) malformed("the externalAccountBinding has no \"url\"");

  std::optional<Bytes> found = hmac_key_for_kid(*kid);
  if (!found || found->empty()) refuse(JwsProblem::unauthorized, "the externalAccountBinding key id is not known");
  const WipedBytes mac_key{std::move(*found)};
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int mac_len = 0;
  if (HMAC(md, mac_key.bytes.data(), static_cast<int>(mac_key.bytes.size()),
           reinterpret_cast<const unsigned char*>(jws.signing_input.data()), jws.signing_input.size(), mac.data(),
           &mac_len) == nullptr) {
    throw signer::OpenSslError("HMAC");
  }
  // The length is public (the algorithm's); the bytes compared in constant time.
  if (jws.signature.size() != mac_len || CRYPTO_memcmp(jws.signature.data(), mac.data(), mac_len) != 0) {
    refuse(JwsProblem::unauthorized, "the externalAccountBinding MAC does not verify");
  }
  if (*url != new_account_url) {
    refuse(JwsProblem::unauthorized, "the externalAccountBinding \"url\" is not the newAccount URL");
  }
  const std::optional<json> payload = parse_strict_json(jws.payload);
  const std::variant<Jwk, std::string> bound =
      payload ? detail::read_jwk(*payload) : std::variant<Jwk, std::string>(std::string("not JSON"));
  if (!std::holds_alternative<Jwk>(bound) || std::get<Jwk>(bound) != account_key) {
    refuse(JwsProblem::unauthorized, "the externalAccountBinding binds another key than this account's");
  }
  return *kid;
}

// ---------------------------------------------------------------- key change

Jwk verify_key_change(const VerifiedJws& outer, const Jwk& old_key, std::string_view account_url) {
  if (!outer.kid) malformed("a keyChange request must be signed by the account (\"kid\")");
  if (*outer.kid != account_url || outer.key != old_key) {
    refuse(JwsProblem::unauthorized, "the keyChange request is not signed by this account");
  }
  const Flattened inner = read_flattened(json_of(outer.payload, "the keyChange payload"), "the inner keyChange JWS");
  const json& header = inner.header;
  const JwsAlgorithm alg = signature_algorithm(header, "the inner keyChange JWS");
  if (header.contains("kid") || !header.contains("jwk")) {
    malformed("the inner keyChange JWS must carry the new key (\"jwk\") and no \"kid\"");
  }
  const std::string* url = string_member(header, "url");
  if (url == nullptr || *url != outer.url) malformed("the inner keyChange JWS's \"url\" is not the outer one");
  Jwk new_key = parse_jwk(*header.find("jwk"));
  if (!new_key.fits(alg)) {
    refuse(JwsProblem::bad_signature_algorithm,
           std::string(algorithm_name(alg)) + " is not the algorithm for the new key");
  }
  if (!verify_signature(new_key, alg, inner.signing_input, inner.signature)) {
    malformed("the inner keyChange JWS signature does not verify");
  }
  const json payload = json_of(inner.payload, "the inner keyChange payload");
  const std::string* account = string_member(payload, "account");
  if (account == nullptr || *account != account_url) {
    refuse(JwsProblem::unauthorized, "the keyChange \"account\" is not the account that signed the request");
  }
  const auto old_in_payload = payload.find("oldKey");
  const std::variant<Jwk, std::string> named =
      old_in_payload == payload.end() ? std::variant<Jwk, std::string>(std::string("absent"))
                                      : detail::read_jwk(*old_in_payload);
  if (!std::holds_alternative<Jwk>(named) || std::get<Jwk>(named) != old_key) {
    refuse(JwsProblem::unauthorized, "the keyChange \"oldKey\" is not the account's current key");
  }
  if (new_key == old_key) malformed("the new key is the account's current key");
  return new_key;
}

}  // namespace hsmca::appliance::acme
