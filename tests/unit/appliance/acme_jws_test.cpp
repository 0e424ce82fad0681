#include "acme_jws.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "acme_jws_signer.hpp"

namespace hsmca::appliance::acme {
namespace {

using nlohmann::json;
using test::JwsTestKey;
using test::make_jws;
using test::make_mac_jws;

constexpr std::string_view kNewAccountUrl = "https://ca.example/acme/new-account";
constexpr std::string_view kOrderUrl = "https://ca.example/acme/order/17";
constexpr std::string_view kAccountUrl = "https://ca.example/acme/acct/1";

Bytes bytes_of(std::string_view s) { return Bytes(s.begin(), s.end()); }
Bytes decoded(std::string_view s) {
  std::optional<Bytes> b = base64url_decode(s);
  if (!b) throw std::runtime_error("test vector is not base64url");
  return *b;
}

// Keys are slow to make (RSA): one of each per test process.
const JwsTestKey& key_of(KeyType type) {
  static std::map<KeyType, JwsTestKey> keys;
  auto it = keys.find(type);
  if (it == keys.end()) it = keys.emplace(type, JwsTestKey::generate(type)).first;
  return it->second;
}
const JwsTestKey& other_p256() {
  static const JwsTestKey key = JwsTestKey::generate(KeyType::ec_p256);
  return key;
}

// Runs `f`, expecting JwsError with `problem`.
template <typename F>
void expect_problem(JwsProblem problem, F&& f, const std::string& why = "") {
  try {
    f();
    ADD_FAILURE() << "accepted; expected " << acme_error_name(problem) << " " << why;
  } catch (const JwsError& e) {
    EXPECT_EQ(acme_error_name(e.problem()), acme_error_name(problem)) << e.what() << " " << why;
  }
}

// ---------------------------------------------------------------- base64url

TEST(Base64urlTest, EncodesTheRfc4648Vectors) {
  // RFC 4648 10, in the URL-safe alphabet without padding.
  const std::vector<std::pair<std::string, std::string>> vectors = {
      {"", ""}, {"f", "Zg"}, {"fo", "Zm8"}, {"foo", "Zm9v"}, {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(base64url_encode(plain), encoded);
    EXPECT_EQ(base64url_decode(encoded), bytes_of(plain)) << encoded;
  }
  const Bytes high = {0xfb, 0xff, 0xbf};
  EXPECT_EQ(base64url_encode(high), "-_-_");
  EXPECT_EQ(base64url_decode("-_-_"), high);
}

TEST(Base64urlTest, RefusesPaddingOtherAlphabetsWhitespaceAndSecondSpellings) {
  for (std::string_view bad : {"Zg==", "Zm8=", "+/+/", "Zm9 v", "Zm9v\n", "Z", "Zm9vY", "Zh", "Zm9", "Zm-", "é"}) {
    EXPECT_FALSE(base64url_decode(bad)) << bad;
  }
  // "Zh" and "Zg" both read as "f" to a lax decoder: only "Zg" is accepted.
  EXPECT_TRUE(base64url_decode("Zg"));
}

// ---------------------------------------------------------------- JSON

TEST(StrictJsonTest, RefusesDuplicateMembersAtAnyDepth) {
  EXPECT_FALSE(parse_strict_json(R"({"alg":"ES256","alg":"none"})"));
  EXPECT_FALSE(parse_strict_json(R"({"a":{"b":1,"b":2}})"));
  EXPECT_FALSE(parse_strict_json(R"([{"b":1,"b":2}])"));
  EXPECT_TRUE(parse_strict_json(R"({"a":{"b":1},"c":{"b":2},"d":[{"b":1},{"b":2}]})"));
}

TEST(StrictJsonTest, RefusesDeepNestingByteOrderMarksAndBadUtf8) {
  EXPECT_FALSE(parse_strict_json(std::string(100000, '[') + std::string(100000, ']')));
  EXPECT_TRUE(parse_strict_json(std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']')));
  EXPECT_FALSE(parse_strict_json(std::string(kMaxJsonDepth + 1, '[') + std::string(kMaxJsonDepth + 1, ']')));
  EXPECT_FALSE(parse_strict_json("\xEF\xBB\xBF{}"));
  EXPECT_FALSE(parse_strict_json("{\"a\":\"\xC0\xAF\"}"));
  EXPECT_FALSE(parse_strict_json("{\"a\":1} x"));
  EXPECT_FALSE(parse_strict_json(""));
}

// ---------------------------------------------------------------- JWK

// RFC 7638 3.1, verbatim: the RSA key of RFC 7517 A.1 (with its "alg" and
// "kid", which the thumbprint leaves out).
const json kRfc7638Key = json::parse(R"({
  "kty": "RSA",
  "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
  "e": "AQAB",
  "alg": "RS256",
  "kid": "2011-04-29"
})");

TEST(JwkTest, ThumbprintIsTheRfc7638Vector) {
  const Jwk key = parse_jwk(kRfc7638Key);
  EXPECT_EQ(jwk_thumbprint(key), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
  EXPECT_EQ(key.json().dump().substr(0, 24), R"({"e":"AQAB","kty":"RSA",)");
  EXPECT_EQ(key.type(), KeyType::rsa);
}

// RFC 8037 A.2 public key and A.3 thumbprint.
const json kRfc8037Key = {{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}};

TEST(JwkTest, Ed25519ThumbprintIsTheRfc8037Vector) {
  EXPECT_EQ(jwk_thumbprint(parse_jwk(kRfc8037Key)), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
}

TEST(JwkTest, KeyAuthorizationIsTokenDotThumbprint) {
  EXPECT_EQ(key_authorization("evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA", parse_jwk(kRfc7638Key)),
            "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
}

TEST(JwkTest, ReadsEachKeyTypeAndKeepsOnlyTheRequiredMembers) {
  for (KeyType type : {KeyType::ec_p256, KeyType::ec_p384, KeyType::ec_p521, KeyType::rsa, KeyType::ed25519}) {
    json sent = key_of(type).public_jwk();
    sent["use"] = "sig";
    sent["kid"] = "mine";
    const Jwk key = parse_jwk(sent);
    EXPECT_EQ(key.type(), type);
    EXPECT_EQ(key.json(), key_of(type).public_jwk()) << "the canonical form drops use and kid";
    const Jwk copy = key;  // NOLINT: the copy is the point
    EXPECT_EQ(copy, key);
    EXPECT_EQ(jwk_thumbprint(copy), jwk_thumbprint(key));
    EXPECT_EQ(jwk_thumbprint(key).size(), 43u);
  }
}

TEST(JwkTest, RefusesPrivateKeyMembers) {
  for (const char* secret : {"d", "p", "q", "dp", "dq", "qi", "oth"}) {
    json sent = kRfc7638Key;
    sent[secret] = "AQAB";
    expect_problem(JwsProblem::bad_public_key, [&] { parse_jwk(sent); }, secret);
  }
  json ec = key_of(KeyType::ec_p256).public_jwk();
  ec["d"] = "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI";
  expect_problem(JwsProblem::bad_public_key, [&] { parse_jwk(ec); });
  json okp = kRfc8037Key;
  okp["d"] = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
  expect_problem(JwsProblem::bad_public_key, [&] { parse_jwk(okp); });
  expect_problem(JwsProblem::bad_public_key, [&] { parse_jwk(json{{"kty", "oct"}, {"k", "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T"}}); });
}

TEST(JwkTest, RefusesAPointOffTheCurve) {
  json sent = key_of(KeyType::ec_p256).public_jwk();
  Bytes y = decoded(sent["y"].get<std::string>());
  y.back() ^= 1;
  sent["y"] = base64url_encode(y);
  expect_problem(JwsProblem::bad_public_key, [&] { parse_jwk(sent); });
  // The RFC 7515 A.3 key with x and y swapped: well-formed, on no curve.
  expect_problem(JwsProblem::bad_public_key, [&] {
    parse_jwk(json{{"kty", "EC"}, {"crv", "P-256"}, {"x", "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
                   {"y", "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"}});
  });
  // The point at infinity has no affine spelling; all zeros is not on P-256.
  const std::string zeros = base64url_encode(Bytes(32, 0));
  expect_problem(JwsProblem::bad_public_key,
                 [&] { parse_jwk(json{{"kty", "EC"}, {"crv", "P-256"}, {"x", zeros}, {"y", zeros}}); });
}

TEST(JwkTest, RefusesCoordinatesOfTheWrongLength) {
  json sent = key_of(KeyType::ec_p256).public_jwk();
  Bytes x = decoded(sent["x"].get<std::string>());
  x.erase(x.begin());
  sent["x"] = base64url_encode(x);
  expect_problem(JwsProblem::bad_public_key, [&] { parse_jwk(sent); });
  json p384_as_p256 = key_of(KeyType::ec_p384).public_jwk();
  p384_as_p256["crv"] = "P-256";
  expect_problem(JwsProblem::bad_public_key, [&] { parse_jwk(p384_as_p256); });
  json short_ed = kRfc8037Key;
  short_ed["x"] = base64url_encode(Bytes(31, 7));
  expect_problem(JwsProblem::bad_public_key, [&] { parse_jwk(short_ed); });
}

TEST(JwkTest, RefusesRsaOf1024Bits) {
  const JwsTestKey small = JwsTestKey::generate(KeyType::rsa, 1024);
  expect_problem(JwsProblem::bad_public_key, [&] { parse_jwk(small.public_jwk()); });
}

TEST(JwkTest, RefusesRsaOver8192BitsBeforeReadingIt) {
  Bytes n(1025, 0xff);  // 8200 bits, odd
  expect_problem(JwsProblem::bad_public_key,
                 [&] { parse_jwk(json{{"kty", "RSA"}, {"n", base64url_encode(n)}, {"e", "AQAB"}}); });
}

TEST(JwkTest, RefusesOtherExponentsAndLeadingZeros) {
  json e3 = kRfc7638Key;
  e3["e"] = "Aw";
  expect_problem(JwsProblem::bad_public_key, [&] { parse_jwk(e3); });
  json padded_e = kRfc7638Key;
  padded_e["e"] = "AAEAAQ";
  expect_problem(JwsProblem::bad_public_key, [&] { parse_jwk(padded_e); });
  json padded_n = kRfc7638Key;
  Bytes n = decoded(kRfc7638Key["n"].get<std::string>());
  n.insert(n.begin(), 0);
  padded_n["n"] = base64url_encode(n);
  expect_problem(JwsProblem::bad_public_key, [&] { parse_jwk(padded_n); });
}

TEST(JwkTest, RefusesOtherKeyTypesCurvesAndShapes) {
  const std::vector<json> refused = {
      json::array(), json("RSA"), json::object(), json{{"kty", 1}},
      json{{"kty", "oct"}},
      json{{"kty", "OKP"}, {"crv", "Ed448"}, {"x", base64url_encode(Bytes(57, 1))}},
      json{{"kty", "OKP"}, {"crv", "X25519"}, {"x", base64url_encode(Bytes(32, 1))}},
      json{{"kty", "EC"}, {"crv", "secp256k1"}, {"x", base64url_encode(Bytes(32, 1))}, {"y", base64url_encode(Bytes(32, 1))}},
      json{{"kty", "RSA"}, {"n", kRfc7638Key["n"]}},
      json{{"kty", "RSA"}, {"n", kRfc7638Key["n"]}, {"e", 65537}},
      json{{"kty", "EC"}, {"crv", "P-256"}, {"x", "not base64url!"}, {"y", "AA"}},
  };
  for (const json& jwk : refused) expect_problem(JwsProblem::bad_public_key, [&] { parse_jwk(jwk); }, jwk.dump());
}

// ---------------------------------------------------------------- signatures

TEST(SignatureTest, VerifiesTheRfc7515A3Es256Example) {
  // RFC 7515 A.3: the key of A.3.1 and the JWS of A.3.1/A.3.2, verbatim.
  const Jwk key = parse_jwk(json{{"kty", "EC"},
                                 {"crv", "P-256"},
                                 {"x", "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"},
                                 {"y", "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}});
  const std::string input =
      "eyJhbGciOiJFUzI1NiJ9"
      ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
  Bytes sig = decoded("DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q");
  EXPECT_TRUE(verify_signature(key, JwsAlgorithm::es256, input, sig));
  EXPECT_FALSE(verify_signature(key, JwsAlgorithm::es384, input, sig)) << "alg must fit the key";
  EXPECT_FALSE(verify_signature(key, JwsAlgorithm::es256, input + "x", sig));
  sig[5] ^= 0x40;
  EXPECT_FALSE(verify_signature(key, JwsAlgorithm::es256, input, sig));
}

TEST(SignatureTest, VerifiesTheRfc8037A4Ed25519Example) {
  const Jwk key = parse_jwk(kRfc8037Key);
  const std::string input = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
  const Bytes sig =
      decoded("hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg");
  EXPECT_TRUE(verify_signature(key, JwsAlgorithm::eddsa, input, sig));
  EXPECT_FALSE(verify_signature(key, JwsAlgorithm::eddsa, "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmd", sig));
}

// ---------------------------------------------------------------- JWS

// Nonces the tests hand out; consume() as a NonceStore would.
struct Nonces {
  std::set<std::string> live{"bm9uY2Ux", "bm9uY2Uy", "bm9uY2Uz"};
  std::vector<std::string> spent;
  bool consume(std::string_view nonce) {
    spent.emplace_back(nonce);
    return live.erase(std::string(nonce)) == 1;
  }
};

class JwsTest : public ::testing::Test {
 protected:
  // A header as certbot sends for newAccount (jwk) or anything else (kid).
  static json header_with_jwk(const JwsTestKey& key, std::string_view url = kNewAccountUrl) {
    return {{"alg", key.alg()}, {"jwk", key.public_jwk()}, {"nonce", "bm9uY2Ux"}, {"url", url}};
  }
  static json header_with_kid(const JwsTestKey& key, std::string_view url = kOrderUrl) {
    return {{"alg", key.alg()}, {"kid", kAccountUrl}, {"nonce", "bm9uY2Ux"}, {"url", url}};
  }

  JwsRequest request(std::string_view url, KeyReference ref, const JwsTestKey* account = nullptr) {
    return JwsRequest{.url = url,
                      .key = ref,
                      .key_for_kid = [account](std::string_view kid) -> std::optional<Jwk> {
                        if (account == nullptr || kid != kAccountUrl) return std::nullopt;
                        return account->jwk();
                      },
                      .consume_nonce = [this](std::string_view n) { return nonces.consume(n); }};
  }
  VerifiedJws verify_new_account(const json& jws) {
    return verify_jws(jws.dump(), request(kNewAccountUrl, KeyReference::jwk));
  }
  VerifiedJws verify_as_account(const json& jws, const JwsTestKey& account) {
    return verify_jws(jws.dump(), request(kOrderUrl, KeyReference::kid, &account));
  }

  Nonces nonces;
};

TEST_F(JwsTest, AcceptsEachAlgorithmWithJwkAndWithKid) {
  for (KeyType type : {KeyType::ec_p256, KeyType::ec_p384, KeyType::ec_p521, KeyType::rsa, KeyType::ed25519}) {
    const JwsTestKey& key = key_of(type);
    nonces = Nonces{};
    const VerifiedJws fresh = verify_new_account(make_jws(key, header_with_jwk(key), R"({"termsOfServiceAgreed":true})"));
    EXPECT_EQ(fresh.algorithm, key.algorithm());
    ASSERT_TRUE(fresh.jwk);
    EXPECT_EQ(*fresh.jwk, key.jwk());
    EXPECT_EQ(fresh.key, key.jwk());
    EXPECT_FALSE(fresh.kid);
    EXPECT_EQ(fresh.url, kNewAccountUrl);
    EXPECT_EQ(fresh.nonce, "bm9uY2Ux");
    EXPECT_EQ(fresh.payload_object()["termsOfServiceAgreed"], true);
    EXPECT_EQ(nonces.spent, std::vector<std::string>{"bm9uY2Ux"}) << "the nonce is consumed once";

    json header = header_with_kid(key);
    header["nonce"] = "bm9uY2Uy";
    const VerifiedJws account = verify_as_account(make_jws(key, header, ""), key);
    EXPECT_EQ(account.kid, std::string(kAccountUrl));
    EXPECT_FALSE(account.jwk);
    EXPECT_TRUE(account.post_as_get());
  }
}

// Made outside this code by tests/data/make-acme-jws-vector: a P-256 key
// from `openssl genpkey`, the signing input signed by `openssl dgst -sha256
// -sign`, its DER signature turned into r || s by a few lines of Python.
// Header: alg ES256, jwk, nonce "b2thaWxvdmVseW5vbmNl", url
// https://ca.example/acme/new-account.
constexpr std::string_view kOpensslProtected =
    "eyJhbGciOiJFUzI1NiIsImp3ayI6eyJjcnYiOiJQLTI1NiIsImt0eSI6IkVDIiwieCI6IlVxRlJ5TlVyU1E4Y0dpaUVuRWpVSTVtakl1eWdCMU1vSV"
    "hUazlpMUI2U1kiLCJ5IjoiZDVuYUlraEpIdHZzMXhyb25OaHJmMGZFMnV5OVBsR2tjTENMS3M3VmxvSSJ9LCJub25jZSI6ImIydGhhV3h2ZG1Wc2VX"
    "NXZibU5sIiwidXJsIjoiaHR0cHM6Ly9jYS5leGFtcGxlL2FjbWUvbmV3LWFjY291bnQifQ";
constexpr std::string_view kOpensslPayload =
    "eyJ0ZXJtc09mU2VydmljZUFncmVlZCI6dHJ1ZSwiY29udGFjdCI6WyJtYWlsdG86b3BzQGV4YW1wbGUub3JnIl19";
constexpr std::string_view kOpensslSignature =
    "XX_RIhLzShjC1YNhQqqBqkFwtbcCLqK1AQzAC0Gdku-94HUxPIxbwmSQnQh-s_OnCb-eXNgPQJh7pV8JrWiSQw";
constexpr std::string_view kOpensslDerSignature =
    "MEUCIF1_0SIS80oYwtWDYUKqgapBcLW3Ai6itQEMwAtBnZLvAiEAveB1MTyMW8JkkJ0IfrPzpwm_nlzYD0CYe6VfCa1okkM";

TEST_F(JwsTest, AcceptsAnEs256JwsMadeWithTheOpensslCommandLine) {
  nonces.live.insert("b2thaWxvdmVseW5vbmNl");
  const json jws = {{"protected", kOpensslProtected}, {"payload", kOpensslPayload}, {"signature", kOpensslSignature}};
  const VerifiedJws verified = verify_new_account(jws);
  EXPECT_EQ(verified.payload, R"({"termsOfServiceAgreed":true,"contact":["mailto:ops@example.org"]})");
  EXPECT_EQ(verified.key.type(), KeyType::ec_p256);
}

TEST_F(JwsTest, RefusesADerEncodedEcdsaSignature) {
  nonces.live.insert("b2thaWxvdmVseW5vbmNl");
  const json jws = {{"protected", kOpensslProtected}, {"payload", kOpensslPayload}, {"signature", kOpensslDerSignature}};
  expect_problem(JwsProblem::malformed, [&] { verify_new_account(jws); });
  EXPECT_TRUE(nonces.spent.empty()) << "a request that does not verify spends no nonce";

  const JwsTestKey& key = key_of(KeyType::ec_p384);
  json ours = make_jws(key, header_with_jwk(key), "{}");
  const std::string input = ours["protected"].get<std::string>() + "." + ours["payload"].get<std::string>();
  ours["signature"] = base64url_encode(key.sign_raw(input));
  expect_problem(JwsProblem::malformed, [&] { verify_new_account(ours); });
}

TEST_F(JwsTest, RefusesSignaturesOfTheWrongLength) {
  for (KeyType type : {KeyType::ec_p256, KeyType::rsa, KeyType::ed25519}) {
    const JwsTestKey& key = key_of(type);
    const json good = make_jws(key, header_with_jwk(key), "{}");
    Bytes sig = decoded(good["signature"].get<std::string>());
    json longer = good;
    Bytes padded = sig;
    padded.insert(padded.begin(), 0);
    longer["signature"] = base64url_encode(padded);
    expect_problem(JwsProblem::malformed, [&] { verify_new_account(longer); });
    json shorter = good;
    sig.pop_back();
    shorter["signature"] = base64url_encode(sig);
    expect_problem(JwsProblem::malformed, [&] { verify_new_account(shorter); });
    json empty = good;
    empty["signature"] = "";
    expect_problem(JwsProblem::malformed, [&] { verify_new_account(empty); });
  }
}

TEST_F(JwsTest, RefusesAnAlgorithmThatDoesNotFitTheKey) {
  const JwsTestKey& p256 = key_of(KeyType::ec_p256);
  for (const char* alg : {"ES384", "ES512", "RS256", "EdDSA"}) {
    json header = header_with_jwk(p256);
    header["alg"] = alg;
    expect_problem(JwsProblem::bad_signature_algorithm, [&] { verify_new_account(make_jws(p256, header, "{}")); }, alg);
  }
  const JwsTestKey& rsa = key_of(KeyType::rsa);
  json header = header_with_kid(rsa);
  header["alg"] = "ES256";
  expect_problem(JwsProblem::bad_signature_algorithm, [&] { verify_as_account(make_jws(rsa, header, "{}"), rsa); });
}

TEST_F(JwsTest, RefusesNoneAndMacAlgorithms) {
  const JwsTestKey& key = key_of(KeyType::ec_p256);
  for (const char* alg : {"none", "HS256", "HS512", "PS256", "ES256K", "es256", "ES256 "}) {
    json header = header_with_jwk(key);
    header["alg"] = alg;
    json jws = make_jws(key, header, "{}");
    if (std::string_view(alg) == "none") jws["signature"] = "";
    expect_problem(JwsProblem::bad_signature_algorithm, [&] { verify_new_account(jws); }, alg);
  }
  // An HS256 "signature" keyed with the account key's public JWK text: the
  // classic confusion, refused before any key is touched.
  json header = header_with_kid(key);
  header["alg"] = "HS256";
  const json forged = make_mac_jws(header, "{}", Bytes(32, 'k'));
  expect_problem(JwsProblem::bad_signature_algorithm, [&] { verify_as_account(forged, key); });
  EXPECT_TRUE(nonces.spent.empty());
}

TEST_F(JwsTest, RefusesATamperedPayloadOrProtectedHeader) {
  const JwsTestKey& key = key_of(KeyType::ec_p256);
  const json good = make_jws(key, header_with_jwk(key), R"({"onlyReturnExisting":true})");
  json payload = good;
  payload["payload"] = base64url_encode(R"({"onlyReturnExisting":false})");
  expect_problem(JwsProblem::malformed, [&] { verify_new_account(payload); });

  json header = header_with_jwk(key);
  header["url"] = "https://ca.example/acme/new-account?x";
  json tampered = good;
  tampered["protected"] = base64url_encode(header.dump());
  expect_problem(JwsProblem::malformed, [&] { verify_new_account(tampered); });

  // The same header, spelled with whitespace: other bytes, so no signature.
  json respelled = good;
  respelled["protected"] = base64url_encode(header_with_jwk(key).dump(1));
  expect_problem(JwsProblem::malformed, [&] { verify_new_account(respelled); });
  EXPECT_TRUE(nonces.spent.empty());
}

TEST_F(JwsTest, RefusesBothJwkAndKidAndNeither) {
  const JwsTestKey& key = key_of(KeyType::ec_p256);
  json both = header_with_jwk(key);
  both["kid"] = kAccountUrl;
  expect_problem(JwsProblem::malformed, [&] { verify_new_account(make_jws(key, both, "{}")); });
  expect_problem(JwsProblem::malformed,
                 [&] { verify_jws(make_jws(key, both, "{}").dump(), request(kNewAccountUrl, KeyReference::either, &key)); });
  json neither = header_with_jwk(key);
  neither.erase("jwk");
  expect_problem(JwsProblem::malformed, [&] { verify_new_account(make_jws(key, neither, "{}")); });
}

TEST_F(JwsTest, RefusesTheKeyReferenceTheRouteDoesNotTake) {
  const JwsTestKey& key = key_of(KeyType::ec_p256);
  expect_problem(JwsProblem::malformed,
                 [&] { verify_as_account(make_jws(key, header_with_jwk(key, kOrderUrl), "{}"), key); });
  expect_problem(JwsProblem::malformed,
                 [&] { verify_new_account(make_jws(key, header_with_kid(key, kNewAccountUrl), "{}")); });
  // revokeCert takes either.
  EXPECT_NO_THROW(verify_jws(make_jws(key, header_with_jwk(key, kOrderUrl), "{}").dump(),
                             request(kOrderUrl, KeyReference::either, &key)));
}

TEST_F(JwsTest, RefusesAMissingOrMisspelledNonce) {
  const JwsTestKey& key = key_of(KeyType::ec_p256);
  json missing = header_with_jwk(key);
  missing.erase("nonce");
  expect_problem(JwsProblem::bad_nonce, [&] { verify_new_account(make_jws(key, missing, "{}")); });
  for (const json& bad : {json(""), json("bm9uY2Ux="), json("no nce"), json(17), json(nullptr)}) {
    json header = header_with_jwk(key);
    header["nonce"] = bad;
    expect_problem(JwsProblem::bad_nonce, [&] { verify_new_account(make_jws(key, header, "{}")); }, bad.dump());
  }
  EXPECT_TRUE(nonces.spent.empty());
}

TEST_F(JwsTest, RefusesAUsedNonce) {
  const JwsTestKey& key = key_of(KeyType::ec_p256);
  const json jws = make_jws(key, header_with_jwk(key), "{}");
  EXPECT_NO_THROW(verify_new_account(jws));
  expect_problem(JwsProblem::bad_nonce, [&] { verify_new_account(jws); }, "replayed");
}

TEST_F(JwsTest, RefusesAMissingUrlAndAnotherUrlWithoutSpendingTheNonce) {
  const JwsTestKey& key = key_of(KeyType::ec_p256);
  json missing = header_with_jwk(key);
  missing.erase("url");
  expect_problem(JwsProblem::malformed, [&] { verify_new_account(make_jws(key, missing, "{}")); });
  json number = header_with_jwk(key);
  number["url"] = 1;
  expect_problem(JwsProblem::malformed, [&] { verify_new_account(make_jws(key, number, "{}")); });
  for (std::string_view other : {"https://ca.example/acme/new-order", "https://ca.example/acme/new-account/",
                                 "http://ca.example/acme/new-account", "HTTPS://ca.example/acme/new-account"}) {
    expect_problem(JwsProblem::unauthorized,
                   [&] { verify_new_account(make_jws(key, header_with_jwk(key, other), "{}")); }, std::string(other));
  }
  EXPECT_TRUE(nonces.spent.empty());
}

TEST_F(JwsTest, RefusesAnUnknownKid) {
  const JwsTestKey& key = key_of(KeyType::ec_p256);
  json header = header_with_kid(key);
  header["kid"] = "https://ca.example/acme/acct/2";
  expect_problem(JwsProblem::account_does_not_exist, [&] { verify_as_account(make_jws(key, header, "{}"), key); });
  header["kid"] = 1;
  expect_problem(JwsProblem::malformed, [&] { verify_as_account(make_jws(key, header, "{}"), key); });
}

TEST_F(JwsTest, RefusesASignatureByAnotherKeyThanTheAccounts) {
  const JwsTestKey& account = key_of(KeyType::ec_p256);
  expect_problem(JwsProblem::malformed,
                 [&] { verify_as_account(make_jws(other_p256(), header_with_kid(other_p256()), "{}"), account); });
  // A jwk header naming one key, signed by another.
  json header = header_with_jwk(account);
  expect_problem(JwsProblem::malformed, [&] { verify_new_account(make_jws(other_p256(), header, "{}")); });
}

TEST_F(JwsTest, RefusesPrivateMembersInTheJwkHeader) {
  const JwsTestKey& key = key_of(KeyType::ec_p256);
  json header = header_with_jwk(key);
  header["jwk"]["d"] = "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI";
  expect_problem(JwsProblem::bad_public_key, [&] { verify_new_account(make_jws(key, header, "{}")); });
  header["jwk"] = "not an object";
  expect_problem(JwsProblem::bad_public_key, [&] { verify_new_account(make_jws(key, header, "{}")); });
}

TEST_F(JwsTest, RefusesOtherSerializations) {
  const JwsTestKey& key = key_of(KeyType::ec_p256);
  const json good = make_jws(key, header_with_jwk(key), "{}");
  // RFC 7515 7.2.1: the general serialization.
  const json general = {{"payload", good["payload"]},
                        {"signatures", json::array({{{"protected", good["protected"]}, {"signature", good["signature"]}}})}};
  expect_problem(JwsProblem::malformed, [&] { verify_jws(general.dump(), request(kNewAccountUrl, KeyReference::jwk)); });
  json with_header = good;
  with_header["header"] = {{"kid", "x"}};
  expect_problem(JwsProblem::malformed, [&] { verify_new_account(with_header); });
  json extra = good;
  extra["extra"] = 1;
  expect_problem(JwsProblem::malformed, [&] { verify_new_account(extra); });
  const std::string compact = good["protected"].get<std::string>() + "." + good["payload"].get<std::string>() + "." +
                              good["signature"].get<std::string>();
  expect_problem(JwsProblem::malformed, [&] { verify_jws(compact, request(kNewAccountUrl, KeyReference::jwk)); });
  expect_problem(JwsProblem::malformed, [&] { verify_jws(json(compact).dump(), request(kNewAccountUrl, KeyReference::jwk)); });
  json padded = good;
  padded["payload"] = good["payload"].get<std::string>() + "=";
  expect_problem(JwsProblem::malformed, [&] { verify_new_account(padded); });
  json missing = good;
  missing.erase("payload");
  expect_problem(JwsProblem::malformed, [&] { verify_new_account(missing); });
  EXPECT_TRUE(nonces.spent.empty());
}

TEST_F(JwsTest, RefusesUnencodedPayloadsAndCriticalExtensions) {
  const JwsTestKey& key = key_of(KeyType::ec_p256);
  json b64 = header_with_jwk(key);
  b64["b64"] = false;
  b64["crit"] = json::array({"b64"});
  expect_problem(JwsProblem::malformed, [&] { verify_new_account(make_jws(key, b64, "{}")); });
  json crit = header_with_jwk(key);
  crit["crit"] = json::array({"exp"});
  expect_problem(JwsProblem::malformed, [&] { verify_new_account(make_jws(key, crit, "{}")); });
}

TEST_F(JwsTest, RefusesDuplicateHeaderMembers) {
  // {"alg":"ES256",...,"alg":"none"}: the signature covers it, but two
  // parsers could disagree on which alg it means.
  const JwsTestKey& key = key_of(KeyType::ec_p256);
  std::string header = header_with_jwk(key).dump();
  header.insert(header.size() - 1, R"(,"url":"https://ca.example/acme/other")");
  const std::string protected_b64 = base64url_encode(header);
  const std::string payload_b64 = base64url_encode(std::string_view("{}"));
  const json jws = {{"protected", protected_b64},
                    {"payload", payload_b64},
                    {"signature", base64url_encode(key.sign(protected_b64 + "." + payload_b64))}};
  expect_problem(JwsProblem::malformed, [&] { verify_new_account(jws); });
}

TEST_F(JwsTest, RefusesAnOversizedBodyAndAPayloadThatIsNotAnObject) {
  const JwsTestKey& key = key_of(KeyType::ec_p256);
  const json big = make_jws(key, header_with_jwk(key), std::string(kMaxJwsBytes, 'a'));
  expect_problem(JwsProblem::malformed, [&] { verify_new_account(big); });
  const VerifiedJws list = verify_new_account(make_jws(key, header_with_jwk(key), "[1]"));
  expect_problem(JwsProblem::malformed, [&] { list.payload_object(); });
}

TEST_F(JwsTest, EveryMutationOfAGoodRequestIsAcceptedOrAJwsError) {
  // A small fuzzer, until the libFuzzer target: bytes flipped, cut, inserted.
  const JwsTestKey& key = key_of(KeyType::ec_p256);
  const std::string good = make_jws(key, header_with_jwk(key), R"({"contact":["mailto:a@example.org"]})").dump();
  std::mt19937 random(8555);
  int accepted = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string body = good;
    const int edits = 1 + static_cast<int>(random() % 4);
    for (int e = 0; e < edits && !body.empty(); ++e) {
      const std::size_t at = random() % body.size();
      switch (random() % 4) {
        case 0: body[at] = static_cast<char>(random()); break;
        case 1: body.erase(at, 1 + random() % 8); break;
        case 2: body.insert(at, 1, "{}[]\",:\\0a-_="[random() % 14]); break;
        case 3: body.resize(at); break;
      }
    }
    nonces = Nonces{};
    try {
      verify_jws(body, request(kNewAccountUrl, KeyReference::jwk));
      ++accepted;
    } catch (const JwsError&) {
    }
  }
  EXPECT_LT(accepted, 50) << "only edits outside the signed bytes can keep a request valid";
}

// ---------------------------------------------------------------- EAB

class EabTest : public JwsTest {
 protected:
  const Bytes mac_key = decoded("zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W");
  std::optional<Bytes> lookup(std::string_view kid) const {
    if (kid == "kid-1") return mac_key;
    return std::nullopt;
  }
  std::function<std::optional<Bytes>(std::string_view)> keys() const {
    return [this](std::string_view kid) { return lookup(kid); };
  }
  json eab(const JwsTestKey& key, const char* alg = "HS256", std::string_view url = kNewAccountUrl) const {
    return make_mac_jws({{"alg", alg}, {"kid", "kid-1"}, {"url", url}}, key.public_jwk().dump(), mac_key);
  }
};

TEST_F(EabTest, AcceptsABindingOfTheAccountKey) {
  const JwsTestKey& key = key_of(KeyType::ec_p256);
  for (const char* alg : {"HS256", "HS384", "HS512"}) {
    EXPECT_EQ(verify_eab(eab(key, alg), key.jwk(), kNewAccountUrl, keys()), "kid-1") << alg;
  }
  // The payload is compared as a key: member order and extra members do not matter.
  json respelled = key.public_jwk();
  respelled["use"] = "sig";
  const json other_spelling =
      make_mac_jws({{"alg", "HS256"}, {"kid", "kid-1"}, {"url", kNewAccountUrl}}, respelled.dump(2), mac_key);
  EXPECT_EQ(verify_eab(other_spelling, key.jwk(), kNewAccountUrl, keys()), "kid-1");
}

TEST_F(EabTest, RefusesAWrongMac) {
  const JwsTestKey& key = key_of(KeyType::ec_p256);
  json bad = eab(key);
  Bytes mac = decoded(bad["signature"].get<std::string>());
  mac[0] ^= 1;
  bad["signature"] = base64url_encode(mac);
  expect_problem(JwsProblem::unauthorized, [&] { verify_eab(bad, key.jwk(), kNewAccountUrl, keys()); });
  mac.pop_back();
  bad["signature"] = base64url_encode(mac);
  expect_problem(JwsProblem::unauthorized, [&] { verify_eab(bad, key.jwk(), kNewAccountUrl, keys()); });
  const json other_key = make_mac_jws({{"alg", "HS256"}, {"kid", "kid-1"}, {"url", kNewAccountUrl}},
                                      key.public_jwk().dump(), Bytes(32, 1));
  expect_problem(JwsProblem::unauthorized, [&] { verify_eab(other_key, key.jwk(), kNewAccountUrl, keys()); });
}

TEST_F(EabTest, RefusesAPayloadThatIsNotTheOuterKey) {
  const JwsTestKey& key = key_of(KeyType::ec_p256);
  // A binding captured from another client's request, replayed with our key.
  expect_problem(JwsProblem::unauthorized, [&] { verify_eab(eab(other_p256()), key.jwk(), kNewAccountUrl, keys()); });
  const json not_a_key = make_mac_jws({{"alg", "HS256"}, {"kid", "kid-1"}, {"url", kNewAccountUrl}}, "{}", mac_key);
  expect_problem(JwsProblem::unauthorized, [&] { verify_eab(not_a_key, key.jwk(), kNewAccountUrl, keys()); });
}

TEST_F(EabTest, RefusesAnotherUrl) {
  const JwsTestKey& key = key_of(KeyType::ec_p256);
  expect_problem(JwsProblem::unauthorized,
                 [&] { verify_eab(eab(key, "HS256", kOrderUrl), key.jwk(), kNewAccountUrl, keys()); });
}

TEST_F(EabTest, RefusesAnUnknownKeyId) {
  const JwsTestKey& key = key_of(KeyType::ec_p256);
  const json unknown =
      make_mac_jws({{"alg", "HS256"}, {"kid", "kid-2"}, {"url", kNewAccountUrl}}, key.public_jwk().dump(), mac_key);
  expect_problem(JwsProblem::unauthorized, [&] { verify_eab(unknown, key.jwk(), kNewAccountUrl, keys()); });
  const auto empty_key = [](std::string_view) { return std::optional<Bytes>(Bytes{}); };
  expect_problem(JwsProblem::unauthorized, [&] { verify_eab(eab(key), key.jwk(), kNewAccountUrl, empty_key); });
}

TEST_F(EabTest, RefusesANonceASignatureAlgorithmAndOtherShapes) {
  const JwsTestKey& key = key_of(KeyType::ec_p256);
  const json with_nonce = make_mac_jws({{"alg", "HS256"}, {"kid", "kid-1"}, {"url", kNewAccountUrl}, {"nonce", "bm9uY2Ux"}},
                                       key.public_jwk().dump(), mac_key);
  expect_problem(JwsProblem::malformed, [&] { verify_eab(with_nonce, key.jwk(), kNewAccountUrl, keys()); });
  const json signed_not_maced = make_jws(key, {{"alg", "ES256"}, {"kid", "kid-1"}, {"url", kNewAccountUrl}},
                                         key.public_jwk().dump());
  expect_problem(JwsProblem::malformed, [&] { verify_eab(signed_not_maced, key.jwk(), kNewAccountUrl, keys()); });
  json none = eab(key);
  none["protected"] = base64url_encode(json{{"alg", "none"}, {"kid", "kid-1"}, {"url", kNewAccountUrl}}.dump());
  expect_problem(JwsProblem::malformed, [&] { verify_eab(none, key.jwk(), kNewAccountUrl, keys()); });
  for (const json& shape : {json("x"), json::array(), json::object(), json{{"payload", 1}}}) {
    expect_problem(JwsProblem::malformed, [&] { verify_eab(shape, key.jwk(), kNewAccountUrl, keys()); });
  }
}

// ---------------------------------------------------------------- key change

class KeyChangeTest : public JwsTest {
 protected:
  static constexpr std::string_view kKeyChangeUrl = "https://ca.example/acme/key-change";

  // The outer request as the client sends it: signed by the old (account)
  // key with kid, its payload the inner JWS signed by the new key.
  VerifiedJws outer(const JwsTestKey& old_key, const json& inner) {
    json header = header_with_kid(old_key, kKeyChangeUrl);
    return verify_jws(make_jws(old_key, header, inner.dump()).dump(), request(kKeyChangeUrl, KeyReference::kid, &old_key));
  }
  static json inner(const JwsTestKey& new_key, const json& old_jwk, std::string_view url = kKeyChangeUrl,
                    std::string_view account = kAccountUrl) {
    return make_jws(new_key, {{"alg", new_key.alg()}, {"jwk", new_key.public_jwk()}, {"url", url}},
                    json{{"account", account}, {"oldKey", old_jwk}}.dump());
  }
};

TEST_F(KeyChangeTest, AcceptsARolloverToANewKey) {
  const JwsTestKey& old_key = key_of(KeyType::ec_p256);
  for (KeyType type : {KeyType::ec_p384, KeyType::rsa, KeyType::ed25519}) {
    nonces = Nonces{};
    const JwsTestKey& new_key = key_of(type);
    const Jwk rolled = verify_key_change(outer(old_key, inner(new_key, old_key.public_jwk())), old_key.jwk(), kAccountUrl);
    EXPECT_EQ(rolled, new_key.jwk());
  }
}

TEST_F(KeyChangeTest, RefusesAnInnerUrlOtherThanTheOuter) {
  const JwsTestKey& old_key = key_of(KeyType::ec_p256);
  const VerifiedJws request = outer(old_key, inner(key_of(KeyType::ed25519), old_key.public_jwk(), kNewAccountUrl));
  expect_problem(JwsProblem::malformed, [&] { verify_key_change(request, old_key.jwk(), kAccountUrl); });
}

TEST_F(KeyChangeTest, RefusesAWrongOldKeyOrAccount) {
  const JwsTestKey& old_key = key_of(KeyType::ec_p256);
  const JwsTestKey& new_key = key_of(KeyType::ed25519);
  const VerifiedJws wrong_old = outer(old_key, inner(new_key, other_p256().public_jwk()));
  expect_problem(JwsProblem::unauthorized, [&] { verify_key_change(wrong_old, old_key.jwk(), kAccountUrl); });
  nonces = Nonces{};
  const VerifiedJws wrong_account =
      outer(old_key, inner(new_key, old_key.public_jwk(), kKeyChangeUrl, "https://ca.example/acme/acct/2"));
  expect_problem(JwsProblem::unauthorized, [&] { verify_key_change(wrong_account, old_key.jwk(), kAccountUrl); });
  nonces = Nonces{};
  const VerifiedJws good = outer(old_key, inner(new_key, old_key.public_jwk()));
  expect_problem(JwsProblem::unauthorized, [&] { verify_key_change(good, other_p256().jwk(), kAccountUrl); });
  expect_problem(JwsProblem::unauthorized,
                 [&] { verify_key_change(good, old_key.jwk(), "https://ca.example/acme/acct/2"); });
}

TEST_F(KeyChangeTest, RefusesAnInnerJwsNotSignedByTheNewKey) {
  const JwsTestKey& old_key = key_of(KeyType::ec_p256);
  const JwsTestKey& new_key = other_p256();
  // The old key signs an inner JWS naming a key it does not hold.
  json forged = make_jws(old_key, {{"alg", "ES256"}, {"jwk", new_key.public_jwk()}, {"url", kKeyChangeUrl}},
                         json{{"account", kAccountUrl}, {"oldKey", old_key.public_jwk()}}.dump());
  expect_problem(JwsProblem::malformed, [&] { verify_key_change(outer(old_key, forged), old_key.jwk(), kAccountUrl); });
  nonces = Nonces{};
  json inner_jws = inner(new_key, old_key.public_jwk());
  inner_jws["payload"] = base64url_encode(json{{"account", kAccountUrl}, {"oldKey", new_key.public_jwk()}}.dump());
  expect_problem(JwsProblem::malformed, [&] { verify_key_change(outer(old_key, inner_jws), old_key.jwk(), kAccountUrl); });
}

TEST_F(KeyChangeTest, RefusesTheSameKeyAndAnInnerKid) {
  const JwsTestKey& old_key = key_of(KeyType::ec_p256);
  expect_problem(JwsProblem::malformed, [&] {
    verify_key_change(outer(old_key, inner(old_key, old_key.public_jwk())), old_key.jwk(), kAccountUrl);
  });
  nonces = Nonces{};
  const JwsTestKey& new_key = key_of(KeyType::ed25519);
  const json with_kid = make_jws(new_key, {{"alg", "EdDSA"}, {"kid", kAccountUrl}, {"url", kKeyChangeUrl}},
                                 json{{"account", kAccountUrl}, {"oldKey", old_key.public_jwk()}}.dump());
  expect_problem(JwsProblem::malformed, [&] { verify_key_change(outer(old_key, with_kid), old_key.jwk(), kAccountUrl); });
}

}  // namespace
}  // namespace hsmca::appliance::acme
