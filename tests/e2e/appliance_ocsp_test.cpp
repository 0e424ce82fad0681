// The appliance's OCSP responder, checked with `openssl ocsp` as a relying
// party runs it: good, revoked and unknown answers verified against the chain,
// with and without a nonce, POST and GET; revocations (API or CLI) show within
// seconds and survive a restart; a flood of status requests costs no
// signatures; bad requests get OCSP's own error answers while it keeps serving.
// Issued certificates carry the CDP and AIA URLs of the CA file.
#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <regex>
#include <string>
#include <thread>

#include "appliance_fixture.hpp"

namespace hsmca::test {
namespace {

class ApplianceOcspTest : public ApplianceFixture {
 protected:
  std::string extra_ca_yaml() const override {
    return "revocation:\n"
           "  crl_url: http://ca.example.test/crl\n"
           "  ocsp_url: http://ca.example.test/ocsp\n"
           "  issuer_url: http://ca.example.test/ca/issuer.crt\n"
           "  ocsp_validity_hours: 12\n";
  }

  void SetUp() override {
    ApplianceFixture::SetUp();
    write_file(dir_ / "chain.pem", read_file(dir_ / "issuing.crt") + read_file(dir_ / "root.crt"));
  }

  // `openssl ocsp` against the running responder for DIR/NAME.crt (or a bare
  // serial): stdout+stderr and exit code.
  ProcessResult ask(const std::string& name, bool nonce, const std::string& issuer = "issuing.crt") {
    std::vector<std::string> args{"ocsp", "-issuer", (dir_ / issuer).string()};
    if (name.rfind("0x", 0) == 0) {
      args.insert(args.end(), {"-serial", name});
    } else {
      args.insert(args.end(), {"-cert", (dir_ / (name + ".crt")).string()});
    }
    args.insert(args.end(), {"-url", plain_url("/ocsp"), "-CAfile", (dir_ / "chain.pem").string(), "-timeout", "20"});
    if (!nonce) args.push_back("-no_nonce");
    return openssl(args);
  }

  // The line `openssl ocsp` prints for the certificate: "good", "revoked", "unknown".
  static std::string status_in(const ProcessResult& r) {
    std::smatch m;
    std::string all = r.out + r.err;
    if (std::regex_search(all, m, std::regex(R"(: (good|revoked|unknown)\n)"))) return m[1];
    return "(none) " + all;
  }

  std::string metrics() { return run_process({"curl", "-sS", plain_url("/metrics")}).out; }

  // hsmca_token_sign_seconds_count: every token signature the appliance made.
  long signatures() {
    std::smatch m;
    std::string text = metrics();
    if (!std::regex_search(text, m, std::regex(R"(\nhsmca_token_sign_seconds_count (\d+))"))) return -1;
    return std::stol(m[1]);
  }

  // POST DIR/BODY to /ocsp with `content_type`; the answer is written to DIR/OUT.
  int post(const std::string& body, const std::string& out, const std::string& content_type = "application/ocsp-request") {
    auto r = run_process({"curl", "-sS", "-o", (dir_ / out).string(), "-w", "%{http_code}", "-H",
                          "Content-Type: " + content_type, "--data-binary", "@" + (dir_ / body).string(),
                          plain_url("/ocsp")});
    return r.out.empty() ? 0 : std::stoi(r.out);
  }

  std::string response_text(const std::string& file) {
    return openssl({"ocsp", "-respin", (dir_ / file).string(), "-resp_text", "-noverify"}).out;
  }

  // GET /crl, verified under the issuer: whether it lists `serial`.
  bool crl_lists(const std::string& serial) {
    const fs::path der = dir_ / ("crl-" + std::to_string(++requests_) + ".der");
    auto got = run_process({"curl", "-sS", "-f", "-o", der.string(), plain_url("/crl")});
    EXPECT_EQ(got.exit_code, 0) << got.err;
    auto text = openssl({"crl", "-inform", "DER", "-in", der.string(), "-CAfile", (dir_ / "chain.pem").string(),
                         "-noout", "-text"});
    EXPECT_NE(text.err.find("verify OK"), std::string::npos) << text.err;
    std::string upper = serial;
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return text.out.find("Serial Number: " + upper) != std::string::npos;
  }
};

TEST_F(ApplianceOcspTest, OpensslGetsVerifiedGoodAndRevokedAnswersWithAndWithoutANonce) {
  issue("good");
  const std::string bad = issue("bad");
  ASSERT_EQ(revoke(bad, bearer(kAdminToken), R"({"reason": "keyCompromise"})").status, 200);

  for (bool nonce : {true, false}) {
    auto good = ask("good", nonce);
    EXPECT_EQ(good.exit_code, 0) << good.out << good.err;
    EXPECT_NE(good.err.find("Response verify OK"), std::string::npos) << good.err;
    EXPECT_EQ(status_in(good), "good");

    auto revoked = ask("bad", nonce);
    EXPECT_NE(revoked.err.find("Response verify OK"), std::string::npos) << revoked.err;
    EXPECT_EQ(status_in(revoked), "revoked");
    EXPECT_NE(revoked.out.find("Reason: keyCompromise"), std::string::npos) << revoked.out;
    EXPECT_NE(revoked.out.find("Revocation Time:"), std::string::npos) << revoked.out;
    // openssl ocsp checks the nonce itself and says so when it is missing or wrong.
    EXPECT_EQ((good.out + good.err).find("nonce"), std::string::npos) << good.out << good.err;
  }

  // A serial this CA never issued: unknown, signed all the same.
  auto unknown = ask("0x1234abcd", false);
  EXPECT_NE(unknown.err.find("Response verify OK"), std::string::npos) << unknown.err;
  EXPECT_EQ(status_in(unknown), "unknown");
}

TEST_F(ApplianceOcspTest, TheGetFormAnswersAsPostDoesWithCachingHeaders) {
  issue("web");
  auto req = openssl({"ocsp", "-issuer", (dir_ / "issuing.crt").string(), "-cert", (dir_ / "web.crt").string(),
                      "-no_nonce", "-reqout", (dir_ / "req.der").string()});
  ASSERT_EQ(req.exit_code, 0) << req.err;
  auto b64 = openssl({"base64", "-A", "-in", (dir_ / "req.der").string()});
  std::string encoded;
  for (char c : b64.out) {
    if (c == '+') encoded += "%2B";
    else if (c == '/') encoded += "%2F";
    else if (c == '=') encoded += "%3D";
    else if (c != '\n') encoded += c;
  }
  auto got = run_process({"curl", "-sS", "-D", (dir_ / "headers").string(), "-o", (dir_ / "resp.der").string(), "-w",
                          "%{http_code} %{content_type}", plain_url("/ocsp/" + encoded)});
  ASSERT_EQ(got.out, "200 application/ocsp-response") << got.err;
  auto checked = openssl({"ocsp", "-respin", (dir_ / "resp.der").string(), "-issuer", (dir_ / "issuing.crt").string(),
                          "-cert", (dir_ / "web.crt").string(), "-CAfile", (dir_ / "chain.pem").string(), "-no_nonce"});
  EXPECT_EQ(checked.exit_code, 0) << checked.out << checked.err;
  EXPECT_NE(checked.err.find("Response verify OK"), std::string::npos) << checked.err;
  EXPECT_EQ(status_in(checked), "good");
  // RFC 5019 6.2: the answer may be cached until its nextUpdate, 12 hours on.
  const std::string headers = read_file(dir_ / "headers");
  std::smatch age;
  ASSERT_TRUE(std::regex_search(headers, age, std::regex(R"(Cache-Control: max-age=(\d+), public, no-transform, must-revalidate)")))
      << headers;
  EXPECT_GT(std::stol(age[1]), 12 * 3600 - 60);
  EXPECT_LE(std::stol(age[1]), 12 * 3600);
  EXPECT_NE(headers.find("Last-Modified: "), std::string::npos) << headers;
  EXPECT_NE(headers.find("Expires: "), std::string::npos) << headers;
  EXPECT_NE(response_text("resp.der").find("Next Update:"), std::string::npos);

  // The same request by POST gets the same bytes: one cached answer.
  ASSERT_EQ(post("req.der", "posted.der"), 200);
  EXPECT_EQ(read_file(dir_ / "posted.der"), read_file(dir_ / "resp.der"));
}

TEST_F(ApplianceOcspTest, AFloodOfStatusRequestsCostsNoTokenSignatures) {
  issue("web");
  auto req = openssl({"ocsp", "-issuer", (dir_ / "issuing.crt").string(), "-cert", (dir_ / "web.crt").string(),
                      "-no_nonce", "-reqout", (dir_ / "req.der").string()});
  ASSERT_EQ(req.exit_code, 0) << req.err;
  ASSERT_EQ(post("req.der", "first.der"), 200);
  const long before = signatures();
  ASSERT_GT(before, 0);
  auto hey = run_process({"hey", "-n", "3000", "-c", "30", "-m", "POST", "-T", "application/ocsp-request", "-D",
                          (dir_ / "req.der").string(), plain_url("/ocsp")});
  ASSERT_EQ(hey.exit_code, 0) << hey.err;
  EXPECT_NE(hey.out.find("[200]\t3000 responses"), std::string::npos) << hey.out;
  // /healthz signs a probe at most once a second; OCSP answers signed nothing.
  const std::string text = metrics();
  EXPECT_NE(text.find("hsmca_ocsp_responses_total{status=\"good\",source=\"cache\"} 3000"), std::string::npos) << text;
  EXPECT_NE(text.find("hsmca_ocsp_responses_total{status=\"good\",source=\"signed\"} 1\n"), std::string::npos) << text;
  EXPECT_EQ(signatures(), before);
  ASSERT_EQ(post("req.der", "last.der"), 200);
  EXPECT_EQ(read_file(dir_ / "last.der"), read_file(dir_ / "first.der"));
}

TEST_F(ApplianceOcspTest, ARevocationWithTheCliShowsWithinSecondsAndSurvivesARestart) {
  const std::string serial = issue("web");
  ASSERT_EQ(status_in(ask("web", false)), "good");  // now cached as good

  auto cli = hsmca({"revoke", "--config", (dir_ / "ca.yaml").string(), "--serial", serial, "--reason", "superseded"});
  ASSERT_EQ(cli.exit_code, 0) << cli.err;
  const auto revoked = std::chrono::steady_clock::now();
  std::string status;
  while (std::chrono::steady_clock::now() - revoked < std::chrono::seconds(10)) {
    status = status_in(ask("web", false));
    if (status == "revoked") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(status, "revoked") << "the CLI's revocation never reached OCSP";
  EXPECT_LT(std::chrono::steady_clock::now() - revoked, std::chrono::seconds(5)) << "looked at once a second";

  // A new process, an empty cache: the ledger still says revoked.
  appliance_.reset();
  start();
  auto after = ask("web", true);
  EXPECT_NE(after.err.find("Response verify OK"), std::string::npos) << after.err;
  EXPECT_EQ(status_in(after), "revoked");
  EXPECT_NE(after.out.find("Reason: superseded"), std::string::npos) << after.out;
  // And the new process's CRL lists it.
  auto crl = run_process({"curl", "-sS", "-o", (dir_ / "crl.der").string(), plain_url("/crl")});
  ASSERT_EQ(crl.exit_code, 0) << crl.err;
  auto text = openssl({"crl", "-inform", "DER", "-in", (dir_ / "crl.der").string(), "-noout", "-text"});
  std::string upper_serial = serial;
  for (auto& c : upper_serial) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_NE(text.out.find(upper_serial), std::string::npos) << text.out;
}

// The answers a stapling server or a relying party gets right after a
// revocation: never the cached "good", never a CRL without it.
TEST_F(ApplianceOcspTest, ARevocationThroughTheApiShowsInTheVeryNextAnswerAndCrl) {
  const std::string serial = issue("web");
  ASSERT_EQ(status_in(ask("web", false)), "good");  // cached as good
  ASSERT_FALSE(crl_lists(serial));                   // cached without it
  ASSERT_EQ(revoke(serial, bearer(kAdminToken), R"({"reason": "keyCompromise"})").status, 200);
  EXPECT_EQ(status_in(ask("web", false)), "revoked") << "the first answer after the 200";
  EXPECT_TRUE(crl_lists(serial)) << "the first CRL after the 200";
}

TEST_F(ApplianceOcspTest, ARevocationByAnotherProcessShowsInTheFirstAnswerAfterAQuietPeriod) {
  const std::string serial = issue("web");
  ASSERT_EQ(status_in(ask("web", false)), "good");
  ASSERT_FALSE(crl_lists(serial));
  auto cli = hsmca({"revoke", "--config", (dir_ / "ca.yaml").string(), "--serial", serial, "--reason", "superseded"});
  ASSERT_EQ(cli.exit_code, 0) << cli.err;
  // No traffic at all: nothing but the appliance's own watcher can notice.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  EXPECT_EQ(status_in(ask("web", false)), "revoked") << "the first answer after a quiet period";
  EXPECT_TRUE(crl_lists(serial)) << "the first CRL after a quiet period";
}

TEST_F(ApplianceOcspTest, BadRequestsGetOcspErrorAnswersAndTheResponderKeepsServing) {
  issue("web");
  write_file(dir_ / "garbage", "this is not DER");
  EXPECT_EQ(post("garbage", "malformed.der"), 200);
  EXPECT_NE(response_text("malformed.der").find("malformedrequest (1)"), std::string::npos)
      << response_text("malformed.der");
  EXPECT_EQ(post("garbage", "wrong-type.der", "text/plain"), 415);
  EXPECT_NE(response_text("wrong-type.der").find("malformedrequest (1)"), std::string::npos);
  auto bad_get = run_process({"curl", "-sS", "-o", (dir_ / "bad-get.der").string(), "-w", "%{http_code}",
                              plain_url("/ocsp/not*base64")});
  EXPECT_EQ(bad_get.out, "200");
  EXPECT_NE(response_text("bad-get.der").find("malformedrequest (1)"), std::string::npos);

  // Asked about the CA's certificate as if the root had issued the leaf: not ours.
  auto other = ask("web", false, "root.crt");
  EXPECT_NE((other.out + other.err).find("Responder Error: unauthorized (6)"), std::string::npos)
      << other.out << other.err;

  auto good = ask("web", true);
  EXPECT_NE(good.err.find("Response verify OK"), std::string::npos) << good.err;
  EXPECT_EQ(status_in(good), "good");
  EXPECT_TRUE(healthy());
  const std::string text = metrics();
  EXPECT_NE(text.find("hsmca_ocsp_responses_total{status=\"malformedRequest\",source=\"none\"} 3"), std::string::npos)
      << text;
  EXPECT_NE(text.find("hsmca_ocsp_responses_total{status=\"unauthorized\",source=\"none\"} 1"), std::string::npos);
}

TEST_F(ApplianceOcspTest, IssuedCertificatesNameTheCrlTheResponderAndTheIssuer) {
  issue("web");
  auto text = openssl({"x509", "-in", (dir_ / "web.crt").string(), "-noout", "-ext",
                       "crlDistributionPoints,authorityInfoAccess"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("URI:http://ca.example.test/crl"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("OCSP - URI:http://ca.example.test/ocsp"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("CA Issuers - URI:http://ca.example.test/ca/issuer.crt"), std::string::npos) << text.out;
  auto uri = openssl({"x509", "-in", (dir_ / "web.crt").string(), "-noout", "-ocsp_uri"});
  EXPECT_EQ(uri.out, "http://ca.example.test/ocsp\n");
  // What those URLs name, the appliance serves: the issuer certificate as DER (RFC 5280 4.2.2.1).
  auto issuer = run_process({"curl", "-sS", "-o", (dir_ / "issuer.der").string(), "-w", "%{http_code} %{content_type}",
                             plain_url("/ca/issuer.crt")});
  EXPECT_EQ(issuer.out, "200 application/pkix-cert");
  auto same = openssl({"x509", "-inform", "DER", "-in", (dir_ / "issuer.der").string()});
  EXPECT_EQ(same.out, read_file(dir_ / "issuing.crt"));
}

TEST_F(ApplianceOcspTest, TheCrlCarriesCachingHeadersThatNeverOutliveIt) {
  auto got = run_process({"curl", "-sS", "-D", (dir_ / "headers").string(), "-o", (dir_ / "crl.der").string(),
                          plain_url("/crl")});
  ASSERT_EQ(got.exit_code, 0) << got.err;
  const std::string headers = read_file(dir_ / "headers");
  EXPECT_NE(headers.find("Cache-Control: max-age=300, public, no-transform, must-revalidate"), std::string::npos)
      << headers;
  EXPECT_NE(headers.find("Last-Modified: "), std::string::npos) << headers;
  EXPECT_NE(headers.find("Expires: "), std::string::npos) << headers;
  auto number = openssl({"crl", "-inform", "DER", "-in", (dir_ / "crl.der").string(), "-noout", "-crlnumber"});
  std::smatch n;
  ASSERT_TRUE(std::regex_search(number.out, n, std::regex(R"(crlNumber=0x([0-9A-F]+))"))) << number.out;
  EXPECT_NE(headers.find("ETag: \"" + std::to_string(std::stol(n[1], nullptr, 16)) + "\""), std::string::npos)
      << headers;
}

TEST_F(ApplianceOcspTest, ADelegatedResponderSignsWhenConfiguredAndOpensslAcceptsIt) {
  issue("web");
  write_file(dir_ / "ocsp-signer.yaml", ocsp_signer_ceremony_yaml());
  auto ceremony = hsmca({"ceremony", "run", (dir_ / "ocsp-signer.yaml").string()});
  ASSERT_EQ(ceremony.exit_code, 0) << ceremony.err;

  // A certificate that is not a responder's is refused at start-up, in one line.
  std::string config = read_file(dir_ / "ca.yaml");
  const std::string anchor = "  ocsp_validity_hours: 12\n";
  ASSERT_NE(config.find(anchor), std::string::npos);
  appliance_.reset();
  write_file(dir_ / "ca.yaml", std::string(config).replace(config.find(anchor), anchor.size(),
                                                           anchor + "  ocsp_signer: {key_label: issuing-1, certificate: issuing.crt}\n"));
  auto refused = run_process({built_program("hsmca-appliance"), "--config", (dir_ / "ca.yaml").string()},
                             {{"HSMCA_PIN", kUserPin}});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("revocation.ocsp_signer"), std::string::npos) << refused.err;

  write_file(dir_ / "ca.yaml", std::string(config).replace(config.find(anchor), anchor.size(),
                                                           anchor + "  ocsp_signer: {key_label: ocsp-1, certificate: ocsp-signer.crt}\n"));
  start();
  for (bool nonce : {false, true}) {
    auto answer = openssl({"ocsp", "-issuer", (dir_ / "issuing.crt").string(), "-cert", (dir_ / "web.crt").string(),
                           "-url", plain_url("/ocsp"), "-CAfile", (dir_ / "chain.pem").string(), "-resp_text",
                           nonce ? "-nonce" : "-no_nonce"});
    EXPECT_NE(answer.err.find("Response verify OK"), std::string::npos) << answer.err;
    EXPECT_EQ(status_in(answer), "good");
    // The responder's certificate travels in the response, and its key is the one named.
    EXPECT_NE(answer.out.find("CN=Test OCSP Responder"), std::string::npos) << answer.out << answer.err;
    auto ski = openssl({"x509", "-in", (dir_ / "ocsp-signer.crt").string(), "-noout", "-ext", "subjectKeyIdentifier"});
    std::smatch id;
    ASSERT_TRUE(std::regex_search(ski.out, id, std::regex(R"(([0-9A-F]{2}(:[0-9A-F]{2}){19}))"))) << ski.out;
    EXPECT_NE(answer.out.find("Responder Id: " + std::regex_replace(id[1].str(), std::regex(":"), "")), std::string::npos)
        << answer.out;
  }
}

TEST_F(ApplianceOcspTest, CachedAnswersKeepComingWhileTheTokenIsAwayAndSigningResumesWhenItIsBack) {
  issue("web");
  issue("other");
  auto make = [&](const std::string& cert, const std::string& out) {
    auto r = openssl({"ocsp", "-issuer", (dir_ / "issuing.crt").string(), "-cert", (dir_ / (cert + ".crt")).string(),
                      "-no_nonce", "-reqout", (dir_ / out).string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  };
  make("web", "web-req.der");
  make("other", "other-req.der");
  ASSERT_EQ(post("web-req.der", "web-before.der"), 200);

  // SoftHSM loses its objects when its directory goes: the token is away.
  const fs::path tokens = SoftHsmEnv::get().dir() / "tokens";
  const fs::path away = SoftHsmEnv::get().dir() / "tokens.away";
  fs::rename(tokens, away);
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(post("web-req.der", "web-away.der"), 200) << "a cached answer needs no token";
    EXPECT_EQ(read_file(dir_ / "web-away.der"), read_file(dir_ / "web-before.der"));
  }
  // An answer that needs a signature: tryLater, with Retry-After.
  EXPECT_EQ(post("other-req.der", "other-away.der"), 503);
  EXPECT_NE(response_text("other-away.der").find("trylater (3)"), std::string::npos) << response_text("other-away.der");

  fs::rename(away, tokens);
  ASSERT_EQ(post("other-req.der", "other-back.der"), 200);
  auto checked = openssl({"ocsp", "-respin", (dir_ / "other-back.der").string(), "-issuer",
                          (dir_ / "issuing.crt").string(), "-cert", (dir_ / "other.crt").string(), "-CAfile",
                          (dir_ / "chain.pem").string(), "-no_nonce"});
  EXPECT_NE(checked.err.find("Response verify OK"), std::string::npos) << checked.err;
  EXPECT_EQ(status_in(checked), "good");
}

// A responder with a small budget for answers it cannot cache.
class ApplianceOcspBudgetTest : public ApplianceOcspTest {
 protected:
  std::string extra_ca_yaml() const override {
    return ApplianceOcspTest::extra_ca_yaml() + "  ocsp_fresh_signatures_per_second: 5\n";
  }
  // POSTs 20 requests at once — REQUEST (or REQUEST-i.der for i in 0..19 when
  // REQUEST ends in '-') — answers in OUTi.der; each must be HTTP 200.
  void post_at_once(const std::string& request, const std::string& out) {
    std::vector<std::thread> threads;
    std::vector<int> statuses(20);
    for (int i = 0; i < 20; ++i) {
      threads.emplace_back([&, i] {
        const std::string body = request.back() == '-' ? request + std::to_string(i) + ".der" : request;
        statuses[i] = post(body, out + std::to_string(i) + ".der");
      });
    }
    for (auto& t : threads) t.join();
    for (int i = 0; i < 20; ++i) EXPECT_EQ(statuses[i], 200) << "request " << i;
  }

  long counter(const std::string& series) {
    const std::string text = metrics();
    const auto at = text.find("\n" + series + " ");
    return at == std::string::npos ? 0 : std::stol(text.substr(at + series.size() + 2));
  }
};

TEST_F(ApplianceOcspBudgetTest, FloodsOfNonceAndUnknownSerialRequestsStayWithinTheSigningBudget) {
  issue("web");
  auto req = openssl({"ocsp", "-issuer", (dir_ / "issuing.crt").string(), "-cert", (dir_ / "web.crt").string(),
                      "-nonce", "-reqout", (dir_ / "nonce-req.der").string()});
  ASSERT_EQ(req.exit_code, 0) << req.err;

  const long before = signatures();
  const auto started = std::chrono::steady_clock::now();
  auto hey = run_process({"hey", "-n", "400", "-c", "8", "-m", "POST", "-T", "application/ocsp-request", "-D",
                          (dir_ / "nonce-req.der").string(), plain_url("/ocsp")});
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ASSERT_EQ(hey.exit_code, 0) << hey.err;
  EXPECT_NE(hey.out.find("[200]\t400 responses"), std::string::npos) << hey.out;
  // Burst 5, then 5 a second, plus the one cached answer the rest are served from.
  const long spent = signatures() - before;
  EXPECT_LE(spent, static_cast<long>(5 + 5 * seconds + 1)) << "over " << seconds << " s";
  EXPECT_GE(counter("hsmca_ocsp_over_budget_total{kind=\"nonce\"}"), 400 - spent);
  // Over the budget the answer is the cached one: it verifies, without the
  // nonce. 20 requests at once outrun a budget of 5 a second (+ a burst of 5).
  int without_nonce = 0;
  const auto burst_started = std::chrono::steady_clock::now();
  post_at_once("nonce-req.der", "answer-");
  const double burst_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - burst_started).count();
  for (int i = 0; i < 20; ++i) {
    const std::string name = "answer-" + std::to_string(i) + ".der";
    auto checked = openssl({"ocsp", "-respin", (dir_ / name).string(), "-issuer", (dir_ / "issuing.crt").string(),
                            "-cert", (dir_ / "web.crt").string(), "-CAfile", (dir_ / "chain.pem").string(),
                            "-no_nonce"});
    EXPECT_NE(checked.err.find("Response verify OK"), std::string::npos) << checked.err;
    EXPECT_EQ(status_in(checked), "good");
    if (response_text(name).find("OCSP Nonce") == std::string::npos) ++without_nonce;
  }
  EXPECT_GE(without_nonce, 20 - static_cast<int>(5 + 5 * burst_seconds + 1)) << "over " << burst_seconds << " s";
  EXPECT_GT(without_nonce, 0);

  // Serials nobody issued: within the budget signed "unknown", beyond it unauthorized, unsigned.
  for (int i = 0; i < 20; ++i) {
    auto made = openssl({"ocsp", "-issuer", (dir_ / "issuing.crt").string(), "-serial",
                         "0x7e57" + std::to_string(1000 + i), "-no_nonce", "-reqout",
                         (dir_ / ("unknown-" + std::to_string(i) + ".der")).string()});
    ASSERT_EQ(made.exit_code, 0) << made.err;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // the bucket refills
  const long unknown_before = signatures();
  const auto unknown_started = std::chrono::steady_clock::now();
  post_at_once("unknown-", "answer-unknown-");
  const double unknown_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - unknown_started).count();
  int unauthorized = 0, unknown = 0;
  for (int i = 0; i < 20; ++i) {
    const std::string text = response_text("answer-unknown-" + std::to_string(i) + ".der");
    if (text.find("unauthorized (6)") != std::string::npos) ++unauthorized;
    if (text.find("Cert Status: unknown") != std::string::npos) ++unknown;
  }
  EXPECT_EQ(unauthorized + unknown, 20);
  EXPECT_GE(unknown, 5) << "the burst is signed";
  EXPECT_LE(signatures() - unknown_before, static_cast<long>(5 + 5 * unknown_seconds + 1));
  // Every answer beyond what the budget allowed is an unauthorized one.
  EXPECT_GE(unauthorized, 20 - static_cast<int>(5 + 5 * unknown_seconds + 1)) << "over " << unknown_seconds << " s";
  EXPECT_GT(unauthorized, 0);
  EXPECT_EQ(counter("hsmca_ocsp_over_budget_total{kind=\"unknown\"}"), unauthorized);
}

}  // namespace
}  // namespace hsmca::test
