// EST as stock clients speak it (RFC 7030 as updated by RFC 8951): bodies in
// base64 without line breaks, the HTTP Basic bootstrap from an htpasswd file
// made with Debian's htpasswd, csrattrs, and re-enrollment with the issued
// certificate. Every certificate is checked with openssl.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "appliance_fixture.hpp"

namespace hsmca::test {
namespace {

constexpr const char* kDevicePassword = "correct horse battery staple";

class ApplianceEstTest : public ApplianceFixture {
 protected:
  void SetUp() override {
    // htpasswd -B (bcrypt), as nginx and Apache operators make it; a second
    // user with a password but no role.
    auto made = run_process({"htpasswd", "-c", "-B", "-C", "10", "-b", (dir_ / "est-users").string(),
                             "device-bootstrap", kDevicePassword});
    ASSERT_EQ(made.exit_code, 0) << made.err;
    auto visitor = run_process({"htpasswd", "-B", "-C", "10", "-b", (dir_ / "est-users").string(), "visitor", "visitor-pass"});
    ASSERT_EQ(visitor.exit_code, 0) << visitor.err;
    fs::permissions(dir_ / "est-users", fs::perms::owner_read | fs::perms::owner_write);
    ApplianceFixture::SetUp();
  }

  // A profile only the bootstrap user may request, asking for EC keys
  // (appended to the test CA's profiles).
  std::string extra_ca_yaml() const override {
    return "  device:\n"
           "    validity_days: 30\n"
           "    extended_key_usage: [client_auth]\n"
           "    requesters: [\"user:device-bootstrap\"]\n"
           "    names: {common_name: text}\n"
           "    key_types: [ec-p256, ec-p384]\n";
  }
  std::string extra_auth_yaml() const override { return "    htpasswd: est-users\n"; }
  std::string extra_enroll_names() const override { return ", \"user:device-bootstrap\""; }

  std::vector<std::string> basic(const std::string& user, const std::string& password) {
    return {"-u", user + ":" + password};
  }
  // Every row, whatever its status: a refused request records nothing.
  std::size_t recorded() { return ledger().size(); }
};

TEST_F(ApplianceEstTest, EveryAnswerIsBase64WithoutLineBreaks) {
  auto cacerts = curl({url("/.well-known/est/cacerts")});
  ASSERT_EQ(cacerts.status, 200);
  EXPECT_EQ(cacerts.body.find('\n'), std::string::npos) << "RFC 8951: base64 as RFC 4648 4, no line breaks";
  EXPECT_GT(cacerts.body.size(), 64u);
  EXPECT_NE(certs_of(cacerts).find("CN = Test Root CA"), std::string::npos) << "decodes strictly (openssl base64 -A)";
  openssl_csr(dir_.path(), "dev1", "/CN=dev1");
  auto enrolled = enroll(est_body("dev1"), basic("device-bootstrap", kDevicePassword), "/.well-known/est/device/simpleenroll");
  ASSERT_EQ(enrolled.status, 200) << enrolled.body;
  EXPECT_EQ(enrolled.body.find('\n'), std::string::npos);
  EXPECT_TRUE(verifies(certs_of(enrolled)));
}

TEST_F(ApplianceEstTest, RequestsAreTakenWithAndWithoutLineBreaks) {
  openssl_csr(dir_.path(), "wrapped", "/CN=wrapped.example.test", "DNS:wrapped.example.test");
  const auto wrapped = est_body("wrapped");  // openssl base64: a line break every 64 characters
  ASSERT_NE(read_file(wrapped).find('\n'), read_file(wrapped).size() - 1) << "the body must span several lines";
  EXPECT_EQ(enroll(wrapped, bearer(kEnrollToken)).status, 200);
  openssl_csr(dir_.path(), "oneline", "/CN=oneline.example.test", "DNS:oneline.example.test");
  est_body("oneline");  // writes oneline.der
  const auto one = openssl({"base64", "-A", "-in", (dir_ / "oneline.der").string()});
  write_file(dir_ / "oneline.b64", one.out);
  ASSERT_EQ(one.out.find('\n'), std::string::npos);
  auto r = enroll(dir_ / "oneline.b64", bearer(kEnrollToken));
  ASSERT_EQ(r.status, 200) << r.body;
  // With the old Content-Transfer-Encoding header or without: it is ignored.
  auto with_cte = curl({"-X", "POST", "-H", "Content-Type: application/pkcs10", "-H", "Content-Transfer-Encoding: base64",
                        "-H", std::string("Authorization: Bearer ") + kEnrollToken, "--data-binary",
                        "@" + (dir_ / "oneline.b64").string(), url("/.well-known/est/simpleenroll")});
  EXPECT_EQ(with_cte.status, 200) << with_cte.body;
}

TEST_F(ApplianceEstTest, BootstrapsWithAPasswordThenReenrollsWithTheIssuedCertificate) {
  openssl_csr(dir_.path(), "sensor", "/CN=sensor-17");
  auto first = enroll(est_body("sensor"), basic("device-bootstrap", kDevicePassword), "/.well-known/est/device/simpleenroll");
  ASSERT_EQ(first.status, 200) << first.body;
  const auto pem = certs_of(first);
  ASSERT_TRUE(verifies(pem)) << pem;
  write_file(dir_ / "sensor.crt", pem);
  auto entries = ledger();
  EXPECT_EQ(entries.back()["requester"], "basic:device-bootstrap");
  EXPECT_EQ(entries.back()["profile"], "device");
  // Re-enrollment (RFC 7030 4.2.2): the issued certificate and its key authenticate.
  openssl_csr(dir_.path(), "sensor-next", "/CN=sensor-17");
  auto renewed = enroll(est_body("sensor-next"), {"--cert", (dir_ / "sensor.crt").string(), "--key", (dir_ / "sensor.key").string()},
                        "/.well-known/est/simplereenroll");
  ASSERT_EQ(renewed.status, 200) << renewed.body;
  EXPECT_TRUE(verifies(certs_of(renewed)));
  EXPECT_EQ(ledger().back()["profile"], "device") << "a renewal keeps its profile";
  // A certificate is renewed once: the old one is revoked as superseded, so
  // it neither renews again nor authenticates.
  auto entries_after = ledger();
  const auto old_entry = entries_after[entries_after.size() - 2];
  EXPECT_EQ(old_entry["status"], "revoked");
  EXPECT_EQ(old_entry["revocation_reason"], "superseded") << old_entry.dump();
  openssl_csr(dir_.path(), "sensor-again", "/CN=sensor-17");
  const auto before_again = recorded();
  auto again = enroll(est_body("sensor-again"), {"--cert", (dir_ / "sensor.crt").string(), "--key", (dir_ / "sensor.key").string()},
                      "/.well-known/est/simplereenroll");
  EXPECT_EQ(again.status, 401) << again.body;
  EXPECT_EQ(nlohmann::json::parse(again.body)["error"], "credential_refused");
  EXPECT_EQ(recorded(), before_again);
  // The password is nowhere in the log.
  EXPECT_EQ(read_file(log_).find(kDevicePassword), std::string::npos);
}

TEST_F(ApplianceEstTest, AWrongPasswordAndAnUnknownUserGet401AndIssueNothing) {
  openssl_csr(dir_.path(), "intruder", "/CN=intruder");
  const auto body = est_body("intruder");
  const auto before = recorded();
  auto wrong = enroll(body, basic("device-bootstrap", "guess"), "/.well-known/est/device/simpleenroll");
  EXPECT_EQ(wrong.status, 401) << wrong.body;
  auto unknown = enroll(body, basic("nobody", "guess"), "/.well-known/est/device/simpleenroll");
  EXPECT_EQ(unknown.status, 401) << unknown.body;
  EXPECT_EQ(nlohmann::json::parse(wrong.body), nlohmann::json::parse(unknown.body)) << "the same answer for both";
  // The 401 offers Basic, so a stock EST client knows to send its password.
  auto headers = run_process({"curl", "-sS", "-D", "-", "-o", "/dev/null", "--cacert", (dir_ / "root.crt").string(),
                              "--resolve", "ca.example.test:" + std::to_string(https_port_) + ":127.0.0.1", "-X", "POST",
                              url("/.well-known/est/simpleenroll")});
  EXPECT_NE(headers.out.find("WWW-Authenticate: Basic realm=\"hsmca\""), std::string::npos) << headers.out;
  // Passwords are checked over TLS only: on the plain listener a Basic header
  // is ignored (nothing there acts for a caller), and public answers still come.
  auto plain = run_process({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-u",
                            std::string("device-bootstrap:") + kDevicePassword, plain_url("/crl")});
  EXPECT_EQ(plain.out, "200");
  EXPECT_EQ(recorded(), before);
}

TEST_F(ApplianceEstTest, AWrongPasswordTakesAsLongAsAnUnknownUser) {
  // The bootstrap user's hash costs 2^10 bcrypt rounds (tens of ms): an
  // unknown user answered without the same work would show at once. Two
  // attempts of each stay within the address's five failures.
  std::vector<double> wrong, unknown;
  for (int i = 0; i < 2; ++i) {
    for (const std::string user : {"device-bootstrap", "nobody"}) {
      auto r = run_process({"curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{time_total}", "--cacert",
                            (dir_ / "root.crt").string(), "--resolve",
                            "ca.example.test:" + std::to_string(https_port_) + ":127.0.0.1", "-u", user + ":guess",
                            "-X", "POST", url("/.well-known/est/simpleenroll")});
      ASSERT_EQ(r.out.substr(0, 3), "401") << r.out;
      (user == "nobody" ? unknown : wrong).push_back(std::stod(r.out.substr(4)));
    }
  }
  const double w = std::min(wrong[0], wrong[1]), u = std::min(unknown[0], unknown[1]);
  EXPECT_GT(std::min(w, u) / std::max(w, u), 0.5) << "wrong password " << w << " s, unknown user " << u << " s";
}

TEST_F(ApplianceEstTest, RepeatedWrongPasswordsFromOneAddressGet429WithRetryAfter) {
  // A device enrolled before the guessing starts, from the same address.
  openssl_csr(dir_.path(), "dev", "/CN=dev-5");
  auto enrolled = enroll(est_body("dev"), basic("device-bootstrap", kDevicePassword), "/.well-known/est/device/simpleenroll");
  ASSERT_EQ(enrolled.status, 200) << enrolled.body;
  write_file(dir_ / "dev.crt", certs_of(enrolled));
  openssl_csr(dir_.path(), "guess", "/CN=guess");
  const auto body = est_body("guess");
  const auto before = recorded();
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(enroll(body, basic("device-bootstrap", "guess-" + std::to_string(i))).status, 401) << i;
  }
  auto limited = run_process({"curl", "-sS", "-D", "-", "-o", "/dev/null", "--cacert", (dir_ / "root.crt").string(),
                              "--resolve", "ca.example.test:" + std::to_string(https_port_) + ":127.0.0.1", "-u",
                              std::string("device-bootstrap:") + kDevicePassword, "-X", "POST", "-H",
                              "Content-Type: application/pkcs10", "--data-binary", "@" + body.string(),
                              url("/.well-known/est/device/simpleenroll")});
  EXPECT_NE(limited.out.find(" 429"), std::string::npos) << "even the right password waits: " << limited.out;
  EXPECT_NE(limited.out.find("Retry-After: "), std::string::npos) << limited.out;
  EXPECT_EQ(recorded(), before) << "the guesses and the held-up request recorded nothing";
  // Other credentials from the same address are not held up: a certificate
  // renewing itself, even with a stale password beside it, and a bearer token.
  openssl_csr(dir_.path(), "dev-next", "/CN=dev-5");
  auto renewed = enroll(est_body("dev-next"),
                        {"--cert", (dir_ / "dev.crt").string(), "--key", (dir_ / "dev.key").string(), "-u",
                         "device-bootstrap:stale"},
                        "/.well-known/est/simplereenroll");
  EXPECT_EQ(renewed.status, 200) << renewed.body;
  openssl_csr(dir_.path(), "token-user", "/CN=token-user.example.test", "DNS:token-user.example.test");
  EXPECT_EQ(enroll(est_body("token-user"), bearer(kEnrollToken)).status, 200);
}

TEST_F(ApplianceEstTest, BasicHeadersWithoutAUserSpendNothing) {
  openssl_csr(dir_.path(), "empty", "/CN=empty");
  const auto body = est_body("empty");
  for (int i = 0; i < 8; ++i) {
    auto r = enroll(body, {"-H", "Authorization: Basic Og=="}, "/.well-known/est/device/simpleenroll");  // ":"
    EXPECT_EQ(r.status, 401) << r.body;
  }
  openssl_csr(dir_.path(), "after", "/CN=after");
  auto right = enroll(est_body("after"), basic("device-bootstrap", kDevicePassword), "/.well-known/est/device/simpleenroll");
  EXPECT_EQ(right.status, 200) << "eight empty users did not use up the address's allowance: " << right.body;
}

TEST_F(ApplianceEstTest, PasswordUsersGetOnlyTheProfilesTheirRolesAndRequestersAllow) {
  const auto before = recorded();
  openssl_csr(dir_.path(), "v1", "/CN=v1");
  auto visitor = enroll(est_body("v1"), basic("visitor", "visitor-pass"), "/.well-known/est/device/simpleenroll");
  EXPECT_EQ(visitor.status, 403) << visitor.body;
  EXPECT_EQ(nlohmann::json::parse(visitor.body)["error"], "profile_forbidden");
  openssl_csr(dir_.path(), "h1", "/CN=h1.example.test", "DNS:h1.example.test");
  auto host = enroll(est_body("h1"), basic("device-bootstrap", kDevicePassword), "/.well-known/est/host/simpleenroll");
  EXPECT_EQ(host.status, 403) << "host is for hsmca sign only: " << host.body;
  openssl_csr(dir_.path(), "tok", "/CN=tok");
  auto token = enroll(est_body("tok"), bearer(kEnrollToken), "/.well-known/est/device/simpleenroll");
  EXPECT_EQ(token.status, 403) << "device names only the bootstrap user: " << token.body;
  EXPECT_EQ(recorded(), before);
}

TEST_F(ApplianceEstTest, CsrattrsSaysWhatTheProfileAsksAndNothingWhenItAsksNothing) {
  auto none = curl({url("/.well-known/est/csrattrs")});
  EXPECT_EQ(none.status, 204) << "the default profile (server) asks nothing";
  EXPECT_TRUE(none.body.empty());
  EXPECT_EQ(curl({url("/.well-known/est/client/csrattrs")}).status, 204);
  auto device = curl({url("/.well-known/est/device/csrattrs")});
  ASSERT_EQ(device.status, 200) << device.body;
  EXPECT_EQ(device.body.find('\n'), std::string::npos);
  write_file(dir_ / "attrs.b64", device.body);
  ASSERT_EQ(openssl({"base64", "-d", "-A", "-in", (dir_ / "attrs.b64").string(), "-out", (dir_ / "attrs.der").string()})
                .exit_code,
            0);
  auto parsed = openssl({"asn1parse", "-inform", "DER", "-in", (dir_ / "attrs.der").string()});
  ASSERT_EQ(parsed.exit_code, 0) << parsed.err;
  EXPECT_NE(parsed.out.find("id-ecPublicKey"), std::string::npos) << parsed.out;
  EXPECT_NE(parsed.out.find("prime256v1"), std::string::npos) << parsed.out;
  EXPECT_NE(parsed.out.find("secp384r1"), std::string::npos) << parsed.out;
  EXPECT_EQ(curl({url("/.well-known/est/nosuch/csrattrs")}).status, 404);
  EXPECT_EQ(curl({url("/.well-known/est/host/csrattrs")}).status, 404) << "a profile for hsmca sign alone is not named";
  // What csrattrs announces is enforced: an RSA key is refused for device.
  run_process({"openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", (dir_ / "rsa.key").string(),
               "-subj", "/CN=rsa-device", "-out", (dir_ / "rsa.csr").string()});
  const auto before = recorded();
  auto rsa = enroll(est_body("rsa"), basic("device-bootstrap", kDevicePassword), "/.well-known/est/device/simpleenroll");
  EXPECT_EQ(rsa.status, 422) << rsa.body;
  EXPECT_EQ(nlohmann::json::parse(rsa.body)["error"], "key_policy");
  EXPECT_EQ(recorded(), before);
}

TEST_F(ApplianceEstTest, CacertsTakesALabel) {
  auto labelled = curl({url("/.well-known/est/device/cacerts")});
  ASSERT_EQ(labelled.status, 200);
  EXPECT_EQ(labelled.body, curl({url("/.well-known/est/cacerts")}).body);
}

}  // namespace
}  // namespace hsmca::test
