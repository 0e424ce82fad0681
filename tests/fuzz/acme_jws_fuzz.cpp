// The ACME JWS verifier (appliance/src/acme_jws.hpp), fed a request body:
// verify_jws with a key for any kid and every nonce accepted, then what a
// verified request goes through (its payload, a key change), and the same
// bytes as a JWK, as an EAB binding and as renewalInfo's certID. A finding:
// any exception but JwsError (the verifier is total over hostile input), a
// base64url text that decodes but is not the one spelling of its bytes, a
// certID that parses but is not the one spelling of the issuer and serial it
// names, a request accepted whose signature does not verify on its own, or
// one accepted for another url.
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>

#include "acme_cert_id.hpp"
#include "acme_jws.hpp"
#include "fuzz_support.hpp"
#include "hsmca/signer/openssl.hpp"

using namespace hsmca::appliance::acme;

namespace {

constexpr std::string_view kUrl = "https://ca.example/acme/new-account";

const Jwk& account_key() {
  static const Jwk key = parse_jwk(nlohmann::json{{"kty", "EC"},
                                                  {"crv", "P-256"},
                                                  {"x", "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"},
                                                  {"y", "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}});
  return key;
}

// RFC 9773 4.1: the certID, written again from the ledger's issuer id and
// serial (a positive INTEGER's DER octets), is the text it was read from.
void check_cert_id(std::string_view text) {
  const auto id = parse_cert_id(text);
  if (!id) return;
  if (id->issuer_id.size() % 2 != 0 || id->serial.size() % 2 != 0) hsmca::fuzz::finding("odd hex", id->serial);
  const auto issuer = hsmca::signer::from_hex(id->issuer_id);
  auto serial = hsmca::signer::from_hex(id->serial);
  if (!issuer || !serial) hsmca::fuzz::finding("not hex", id->issuer_id + "." + id->serial);
  if (!serial->empty() && serial->front() >= 0x80) serial->insert(serial->begin(), 0);
  if (base64url_encode(*issuer) + "." + base64url_encode(*serial) != text) {
    hsmca::fuzz::finding("a certID that is not the one spelling of what it names", std::string(text));
  }
}

void check_request(std::string_view text) {
  JwsRequest request;
  request.url = kUrl;
  request.key = KeyReference::either;
  request.key_for_kid = [](std::string_view) { return std::optional<Jwk>(account_key()); };
  request.consume_nonce = [](std::string_view) { return true; };
  VerifiedJws v = verify_jws(text, request);
  if (v.url != kUrl) hsmca::fuzz::finding("accepted for another url", v.url);
  // The signature, checked again on its own over what the body carried.
  const auto body = parse_strict_json(text);
  if (!body) hsmca::fuzz::finding("accepted a body that is not strict JSON");
  const std::string input = (*body)["protected"].get<std::string>() + "." + (*body)["payload"].get<std::string>();
  const auto signature = base64url_decode((*body)["signature"].get<std::string>());
  if (!signature || !verify_signature(v.key, v.algorithm, input, *signature)) {
    hsmca::fuzz::finding("accepted a signature that does not verify");
  }
  try {
    (void)v.payload_object();
  } catch (const JwsError&) {
  }
  try {
    (void)verify_key_change(v, account_key(), "https://ca.example/acme/account/1");
  } catch (const JwsError&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    if (auto bytes = base64url_decode(text); bytes && base64url_encode(*bytes) != text) {
      hsmca::fuzz::finding("base64url text that is not the one spelling of its bytes");
    }
    check_cert_id(text);
    try {
      check_request(text);
    } catch (const JwsError&) {
    }
    if (auto json = parse_strict_json(text)) {
      try {
        const Jwk key = parse_jwk(*json);
        (void)jwk_thumbprint(key);
      } catch (const JwsError&) {
      }
      try {
        (void)verify_eab(*json, account_key(), kUrl,
                         [](std::string_view) { return std::optional<Bytes>(Bytes(32, 1)); });
      } catch (const JwsError&) {
      }
    }
  } catch (const std::exception& e) {
    hsmca::fuzz::finding("an exception other than JwsError", e.what());
  }
  return 0;
}
