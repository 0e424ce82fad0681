// Revocation through the running appliance: the admin API revokes, GET /crl
// serves a CRL signed in the token that openssl checks, a flood of GETs costs
// one signature, and a revocation made with the CLI meanwhile shows within
// seconds.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <set>
#include <string>
#include <thread>

#include "appliance_fixture.hpp"

namespace hsmca::test {
namespace {

class ApplianceRevocationTest : public ApplianceFixture {
 protected:
  // GET /crl on the plain listener into DIR/NAME.der; the exact bytes.
  std::string fetch_crl(const std::string& name) {
    const fs::path out = dir_ / (name + ".der");
    auto r = run_process({"curl", "-sS", "--max-time", "30", "-o", out.string(), "-w", "%{http_code} %{content_type}",
                          plain_url("/crl")});
    EXPECT_EQ(r.out, "200 application/pkix-crl") << r.err;
    return fs::exists(out) ? read_file(out) : "";
  }

  std::string crl_text(const std::string& name) {
    auto r = openssl({"crl", "-inform", "DER", "-in", (dir_ / (name + ".der")).string(), "-noout", "-text"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  }

  std::string crl_number(const std::string& name) {
    auto r = openssl({"crl", "-inform", "DER", "-in", (dir_ / (name + ".der")).string(), "-noout", "-crlnumber"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    auto eq = r.out.find('=');
    return eq == std::string::npos ? r.out : r.out.substr(eq + 1, r.out.find_first_of("\r\n") - eq - 1);
  }

  static std::string upper(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return s;
  }
};

TEST_F(ApplianceRevocationTest, AnAdminRevokesThroughTheApiAndRevokingAgainChangesNothing) {
  const std::string serial = issue("web");
  auto first = revoke(serial, bearer(kAdminToken), R"({"reason": "keyCompromise"})");
  ASSERT_EQ(first.status, 200) << first.body;
  auto j = nlohmann::json::parse(first.body);
  EXPECT_EQ(j["serial"], serial);
  EXPECT_EQ(j["status"], "revoked");
  EXPECT_EQ(j["reason"], "keyCompromise");
  EXPECT_EQ(j["already_revoked"], false);
  EXPECT_TRUE(std::regex_match(j["revoked_at"].get<std::string>(), std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")))
      << j.dump();

  // Again, with another reason: the first revocation stands.
  auto again = revoke(serial, bearer(kAdminToken), R"({"reason": "superseded"})");
  ASSERT_EQ(again.status, 200) << again.body;
  auto k = nlohmann::json::parse(again.body);
  EXPECT_EQ(k["already_revoked"], true);
  EXPECT_EQ(k["reason"], "keyCompromise");
  EXPECT_EQ(k["revoked_at"], j["revoked_at"]);

  auto shown = curl({"-H", std::string("Authorization: Bearer ") + kAdminToken, url("/api/v1/certificates/" + serial)});
  EXPECT_EQ(nlohmann::json::parse(shown.body)["status"], "revoked") << shown.body;
  bool in_ledger = false;
  for (const auto& e : ledger()) {
    if (e["serial"] == serial) {
      in_ledger = true;
      EXPECT_EQ(e["status"], "revoked");
      EXPECT_EQ(e["revocation_reason"], "keyCompromise");
    }
  }
  EXPECT_TRUE(in_ledger);

  // No body: unspecified; the admin client certificate is as good as the admin token.
  const std::string other = issue("other");
  auto by_cert = revoke(other, {"--cert", (dir_ / "ops.crt").string(), "--key", (dir_ / "ops.key").string()});
  ASSERT_EQ(by_cert.status, 200) << by_cert.body;
  EXPECT_EQ(nlohmann::json::parse(by_cert.body)["reason"], "unspecified");
}

TEST_F(ApplianceRevocationTest, RevokeRefusesOtherRolesUnknownSerialsAndBadBodies) {
  const std::string serial = issue("web");
  auto enroll_role = revoke(serial, bearer(kEnrollToken), R"({"reason": "keyCompromise"})");
  EXPECT_EQ(enroll_role.status, 403) << enroll_role.body;
  EXPECT_EQ(nlohmann::json::parse(enroll_role.body)["error"], "forbidden");
  EXPECT_EQ(revoke(serial, {}).status, 401);

  auto unknown = revoke("0badc0ffee", bearer(kAdminToken));
  EXPECT_EQ(unknown.status, 404) << unknown.body;
  EXPECT_EQ(nlohmann::json::parse(unknown.body)["error"], "not_found");

  auto bad_reason = revoke(serial, bearer(kAdminToken), R"({"reason": "certificateHold"})");
  EXPECT_EQ(bad_reason.status, 400) << bad_reason.body;
  EXPECT_NE(nlohmann::json::parse(bad_reason.body)["message"].get<std::string>().find("keyCompromise"),
            std::string::npos);
  EXPECT_EQ(revoke(serial, bearer(kAdminToken), "{not json").status, 400);
  EXPECT_EQ(revoke(serial, bearer(kAdminToken), R"({"reason": "superseded", "when": 0})").status, 400);
  EXPECT_EQ(revoke("not-hex", bearer(kAdminToken)).status, 400);
  EXPECT_EQ(curl({"-H", std::string("Authorization: Bearer ") + kAdminToken,
                  url("/api/v1/certificates/" + serial + "/revoke")})
                .status,
            405);
  // Revocation is for the administrators, not the public listener.
  EXPECT_EQ(run_process({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "-H",
                         std::string("Authorization: Bearer ") + kAdminToken,
                         plain_url("/api/v1/certificates/" + serial + "/revoke")})
                .out,
            "404");
  // None of the refusals revoked anything.
  for (const auto& e : ledger()) EXPECT_EQ(e["status"], "issued") << e.dump();
}

TEST_F(ApplianceRevocationTest, TheCrlVerifiesUnderTheIssuerAndOpensslRejectsTheRevokedLeaf) {
  issue("good");
  const std::string bad = issue("bad");
  ASSERT_EQ(revoke(bad, bearer(kAdminToken), R"({"reason": "keyCompromise"})").status, 200);

  const std::string der = fetch_crl("crl");
  ASSERT_FALSE(der.empty());
  write_file(dir_ / "chain.pem", read_file(dir_ / "issuing.crt") + read_file(dir_ / "root.crt"));
  auto checked = openssl({"crl", "-inform", "DER", "-in", (dir_ / "crl.der").string(), "-CAfile",
                          (dir_ / "chain.pem").string(), "-noout"});
  EXPECT_EQ(checked.exit_code, 0) << checked.err;
  EXPECT_NE((checked.out + checked.err).find("verify OK"), std::string::npos) << checked.out << checked.err;
  const std::string text = crl_text("crl");
  EXPECT_NE(text.find(upper(bad)), std::string::npos) << text;
  EXPECT_NE(text.find("Key Compromise"), std::string::npos) << text;

  auto pem = openssl({"crl", "-inform", "DER", "-in", (dir_ / "crl.der").string(), "-out", (dir_ / "crl.pem").string()});
  ASSERT_EQ(pem.exit_code, 0) << pem.err;
  auto verify = [&](const std::string& name) {
    return openssl({"verify", "-crl_check", "-CAfile", (dir_ / "root.crt").string(), "-untrusted",
                    (dir_ / "issuing.crt").string(), "-CRLfile", (dir_ / "crl.pem").string(),
                    (dir_ / (name + ".crt")).string()});
  };
  auto revoked = verify("bad");
  EXPECT_NE(revoked.exit_code, 0);
  EXPECT_NE((revoked.out + revoked.err).find("certificate revoked"), std::string::npos) << revoked.out << revoked.err;
  auto good = verify("good");
  EXPECT_EQ(good.exit_code, 0) << good.out << good.err;

  // The HTTPS listener serves the same CRL.
  auto secure = curl({url("/crl")});
  EXPECT_EQ(secure.status, 200);
  EXPECT_EQ(secure.body, der);

  auto metrics = run_process({"curl", "-sS", plain_url("/metrics")}).out;
  EXPECT_NE(metrics.find("hsmca_http_requests_total{route=\"/crl\",status=\"200\"}"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("hsmca_http_requests_total{route=\"/api/v1/certificates/{serial}/revoke\",status=\"200\"} 1"),
            std::string::npos)
      << metrics;
  EXPECT_TRUE(healthy());
}

TEST_F(ApplianceRevocationTest, AFloodOfCrlRequestsIsServedWithoutSigningAgain) {
  const std::string serial = issue("web");
  ASSERT_EQ(revoke(serial, bearer(kAdminToken)).status, 200);
  const std::string first = fetch_crl("first");
  ASSERT_FALSE(first.empty());
  const std::string number = crl_number("first");
  for (int i = 0; i < 50; ++i) {
    ASSERT_EQ(fetch_crl("again"), first) << "request " << i;
  }
  // And concurrently, over keep-alive connections.
  auto hey = run_process({"hey", "-n", "2000", "-c", "20", plain_url("/crl")});
  ASSERT_EQ(hey.exit_code, 0) << hey.err;
  EXPECT_NE(hey.out.find("[200]\t2000 responses"), std::string::npos) << hey.out;
  // Every signature takes a new CRL number from the ledger: the same number is the same signature.
  EXPECT_EQ(fetch_crl("last"), first);
  EXPECT_EQ(crl_number("last"), number);
}

TEST_F(ApplianceRevocationTest, ARevocationMadeWithTheCliShowsInTheCrlWithinSeconds) {
  const std::string serial = issue("web");
  fetch_crl("before");
  EXPECT_EQ(crl_text("before").find(upper(serial)), std::string::npos);
  const std::string before = crl_number("before");

  auto cli = hsmca({"revoke", "--config", (dir_ / "ca.yaml").string(), "--serial", serial, "--reason", "superseded"});
  ASSERT_EQ(cli.exit_code, 0) << cli.err;
  const auto revoked = std::chrono::steady_clock::now();
  bool shown = false;
  while (std::chrono::steady_clock::now() - revoked < std::chrono::seconds(10)) {
    fetch_crl("after");
    if (crl_text("after").find(upper(serial)) != std::string::npos) {
      shown = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const auto waited = std::chrono::steady_clock::now() - revoked;
  ASSERT_TRUE(shown) << "the CLI's revocation never reached /crl";
  EXPECT_LT(waited, std::chrono::seconds(5)) << "looked at once a second";
  EXPECT_NE(crl_text("after").find("Superseded"), std::string::npos);
  EXPECT_NE(crl_number("after"), before);
  EXPECT_TRUE(healthy());
}

}  // namespace
}  // namespace hsmca::test
