// hsmca-appliance as its clients see it: started on port 0 against SoftHSM,
// spoken to with curl, hey and openssl.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <regex>
#include <set>
#include <thread>

#include "appliance_fixture.hpp"

namespace hsmca::test {
namespace {

class ApplianceTest : public ApplianceFixture {};

// Writes `bytes` to a new connection to 127.0.0.1:port and reads until the
// server closes it; `closed` says whether it did within `seconds`.
std::string exchange_raw(int port, const std::string& bytes, bool& closed, int seconds = 4) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  closed = false;
  std::string answer;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      write(fd, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size())) {
    close(fd);
    return answer;
  }
  timeval tv{seconds, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) answer.append(buf, static_cast<std::size_t>(n));
  closed = n == 0;
  close(fd);
  return answer;
}

std::size_t responses_in(const std::string& answer) {
  std::size_t count = 0;
  for (auto pos = answer.find("HTTP/1."); pos != std::string::npos; pos = answer.find("HTTP/1.", pos + 1)) ++count;
  return count;
}

TEST_F(ApplianceTest, EstCacertsGivesTheChainWithoutAuthentication) {
  auto r = curl({url("/.well-known/est/cacerts")});
  ASSERT_EQ(r.status, 200) << r.body;
  auto certs = certs_of(r);
  EXPECT_NE(certs.find("CN = Test Issuing CA"), std::string::npos) << certs;
  EXPECT_NE(certs.find("CN = Test Root CA"), std::string::npos) << certs;
}

TEST_F(ApplianceTest, SimpleEnrollWithABearerTokenReturnsAVerifyingCertificateInTheLedger) {
  openssl_csr(dir_.path(), "web", "/CN=web.example.test", "DNS:web.example.test");
  auto r = enroll(est_body("web"), bearer(kEnrollToken));
  ASSERT_EQ(r.status, 200) << r.body;
  auto pem = certs_of(r);
  EXPECT_TRUE(verifies(pem)) << pem;
  auto entries = ledger();
  // The TLS and client certificates made in SetUp, and this one.
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries.back()["subject"], "CN=web.example.test");
  EXPECT_EQ(entries.back()["status"], "issued");
  EXPECT_NE(entries.back()["requester"].get<std::string>().find("bearer:enroll"), std::string::npos);
  // The token never reaches the log.
  EXPECT_EQ(read_file(log_).find(kEnrollToken), std::string::npos);
}

TEST_F(ApplianceTest, SimpleEnrollWithAClientCertificateWorksAndTheLabelNamesTheProfile) {
  openssl_csr(dir_.path(), "laptop", "/CN=laptop-7");
  auto r = enroll(est_body("laptop"), {"--cert", (dir_ / "ops.crt").string(), "--key", (dir_ / "ops.key").string()},
                  "/.well-known/est/client/simpleenroll");
  ASSERT_EQ(r.status, 200) << r.body;
  auto pem = certs_of(r);
  EXPECT_TRUE(verifies(pem));
  fs::path f = dir_ / "laptop.pem";
  write_file(f, pem);
  EXPECT_NE(openssl({"x509", "-in", f.string(), "-noout", "-text"}).out.find("TLS Web Client Authentication"),
            std::string::npos);
  EXPECT_NE(ledger().back()["requester"].get<std::string>().find("ops-admin"), std::string::npos);
}

TEST_F(ApplianceTest, MissingOrWrongCredentialsGet401AndAWrongRoleGets403) {
  openssl_csr(dir_.path(), "web", "/CN=web.example.test");
  auto body = est_body("web");
  auto none = enroll(body, {});
  EXPECT_EQ(none.status, 401) << none.body;
  EXPECT_EQ(nlohmann::json::parse(none.body)["error"], "unauthenticated");
  EXPECT_EQ(enroll(body, bearer("not-a-token")).status, 401);
  // The server profile's requesters are [enroll]: an admin-only token may not have it.
  auto admin_only = enroll(body, bearer(kAdminToken));
  EXPECT_EQ(admin_only.status, 403) << admin_only.body;
  EXPECT_EQ(nlohmann::json::parse(admin_only.body)["error"], "profile_forbidden");
  // A client certificate from another CA is not a credential.
  auto other = openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                        (dir_ / "other.key").string(), "-subj", "/CN=ops-admin", "-days", "1", "-out",
                        (dir_ / "other.crt").string()});
  ASSERT_EQ(other.exit_code, 0);
  EXPECT_EQ(enroll(body, {"--cert", (dir_ / "other.crt").string(), "--key", (dir_ / "other.key").string()}).status, 401);
  EXPECT_TRUE(ledger().size() == 2u) << "refused requests record nothing";
}

TEST_F(ApplianceTest, JsonApiIssuesAndShowsCertificates) {
  openssl_csr(dir_.path(), "api", "/CN=api.example.test", "DNS:api.example.test");
  nlohmann::json request = {{"csr", read_file(dir_ / "api.csr")}, {"profile", "server"}};
  write_file(dir_ / "api.json", request.dump());
  auto made = curl({"-X", "POST", "-H", "Content-Type: application/json", "-H",
                    std::string("Authorization: Bearer ") + kEnrollToken, "--data-binary", "@" + (dir_ / "api.json").string(),
                    url("/api/v1/certificates")});
  ASSERT_EQ(made.status, 201) << made.body;
  auto j = nlohmann::json::parse(made.body);
  EXPECT_TRUE(verifies(j["certificate"].get<std::string>()));
  ASSERT_EQ(j["chain"].size(), 2u);
  EXPECT_EQ(j["chain"][0], read_file(dir_ / "issuing.crt"));

  auto shown = curl({"-H", std::string("Authorization: Bearer ") + kEnrollToken,
                     url("/api/v1/certificates/" + j["serial"].get<std::string>())});
  ASSERT_EQ(shown.status, 200) << shown.body;
  auto s = nlohmann::json::parse(shown.body);
  EXPECT_EQ(s["status"], "issued");
  EXPECT_EQ(s["certificate"], j["certificate"]);
  EXPECT_EQ(curl({"-H", std::string("Authorization: Bearer ") + kEnrollToken, url("/api/v1/certificates/abcdef")}).status, 404);
}

TEST_F(ApplianceTest, BadRequestsGetTheRightStatusWhileTheServiceKeepsServing) {
  auto auth = bearer(kEnrollToken);
  write_file(dir_ / "garbage", "this is not base64 at all!!!");
  auto garbage = enroll(dir_ / "garbage", auth);
  EXPECT_EQ(garbage.status, 400) << garbage.body;
  EXPECT_EQ(nlohmann::json::parse(garbage.body)["error"], "malformed_request");

  openssl_csr(dir_.path(), "web", "/CN=web.example.test");
  auto wrong_type = curl({"-X", "POST", "-H", "Content-Type: text/plain", "-H", auth[1], "--data-binary",
                          "@" + est_body("web").string(), url("/.well-known/est/simpleenroll")});
  EXPECT_EQ(wrong_type.status, 415) << wrong_type.body;

  openssl_csr(dir_.path(), "evil", "/CN=evil.example.org", "DNS:evil.example.org");
  auto refused = enroll(est_body("evil"), auth);
  EXPECT_EQ(refused.status, 422) << refused.body;
  EXPECT_EQ(nlohmann::json::parse(refused.body)["error"], "name_policy");

  // The answer to an oversized body goes out before the body is read; the
  // client must still get it (no reset while it is sending), every time.
  write_file(dir_ / "huge", std::string(70 * 1024, 'A'));
  for (int i = 0; i < 30; ++i) {
    auto huge = enroll(dir_ / "huge", auth);
    ASSERT_EQ(huge.status, 413) << "attempt " << i << ": " << huge.body;
  }

  EXPECT_EQ(curl({url("/no/such/route")}).status, 404);
  EXPECT_EQ(curl({"-X", "DELETE", url("/.well-known/est/cacerts")}).status, 405);

  // A slow client that never finishes its headers is cut off; others are served meanwhile.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(http_port_));
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const char partial[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ";
  ASSERT_GT(write(fd, partial, sizeof partial - 1), 0);
  EXPECT_TRUE(healthy());
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buf[64];
  auto started = std::chrono::steady_clock::now();
  ssize_t n = read(fd, buf, sizeof buf);
  auto waited = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(n, 0) << "the server closes the slow connection";
  EXPECT_LT(waited, std::chrono::seconds(4));
  close(fd);

  EXPECT_TRUE(healthy());
  EXPECT_EQ(ledger().size(), 2u) << "no refused request left a row";
  auto good = enroll(est_body("web"), auth);
  EXPECT_EQ(good.status, 200) << good.body;
}

TEST_F(ApplianceTest, TransferEncodingOtherThanChunkedIsRefusedAndWhatFollowsIsNeverAnswered) {
  // RFC 9112 6.1. Read as "no body", the body would be the next request: one
  // a proxy in front never saw (request smuggling).
  const std::string post = "POST /ocsp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/ocsp-request\r\n";
  const std::string smuggled = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  const std::vector<std::pair<std::string, std::string>> attempts = {
      {"Transfer-Encoding: xchunked\r\n", smuggled},
      {"Transfer-Encoding: chunked, identity\r\n", smuggled},
      {"Transfer-Encoding: identity\r\n", smuggled},
      // Two fields: a proxy that reads the first and this server the last disagree on the length.
      {"Transfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n" + smuggled},
  };
  for (const auto& [framing, body] : attempts) {
    SCOPED_TRACE(framing);
    bool closed = false;
    const auto answer = exchange_raw(http_port_, post + framing + "\r\n" + body, closed);
    EXPECT_EQ(answer.rfind("HTTP/1.1 400 ", 0), 0u) << answer;
    EXPECT_NE(answer.find("{\"error\":\"bad_transfer_encoding\""), std::string::npos) << answer;
    EXPECT_EQ(responses_in(answer), 1u) << "the smuggled request was answered:\n" << answer;
    EXPECT_TRUE(closed) << "the connection stays open after a request of unknown length";
  }
  // HTTP/1.0 has no transfer codings.
  bool closed = false;
  const auto old = exchange_raw(http_port_, "POST /ocsp HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", closed);
  EXPECT_EQ(old.rfind("HTTP/1.1 400 ", 0), 0u) << old;

  // chunked alone is the framing it reads: both requests are answered, the second is /healthz's.
  const auto chunked = exchange_raw(http_port_,
                                    post + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                                           "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                                    closed);
  EXPECT_EQ(responses_in(chunked), 2u) << chunked;
  EXPECT_EQ(chunked.find("bad_transfer_encoding"), std::string::npos) << chunked;
  EXPECT_NE(chunked.find("\"status\":\"ok\""), std::string::npos) << chunked;
  EXPECT_TRUE(healthy());
}

TEST_F(ApplianceTest, ThePinIsGoneFromTheEnvironmentOnceTheServiceHasStarted) {
  const std::string proc = "/proc/" + std::to_string(appliance_->pid());
  // Root may read a process's environment whether or not it is dumpable.
  std::ifstream environ_file(proc + "/environ", std::ios::binary);
  if (environ_file) {
    const std::string env{std::istreambuf_iterator<char>(environ_file), std::istreambuf_iterator<char>()};
    EXPECT_NE(env.find("SOFTHSM2_CONF="), std::string::npos) << "the environment was not read";
    EXPECT_EQ(env.find("HSMCA_PIN"), std::string::npos);
    EXPECT_EQ(env.find(kUserPin), std::string::npos);
  }
  if (geteuid() != 0) {
    // Others cannot read it: a process that is not dumpable has its /proc files owned by root.
    EXPECT_FALSE(environ_file.is_open()) << "the environment of the process is readable";
    struct stat st {};
    ASSERT_EQ(stat((proc + "/environ").c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 0u) << "the appliance is dumpable";
  }
}

TEST_F(ApplianceTest, RefusesToStartWhileOthersMayReadItsTlsKeyOrTokensFile) {
  for (const char* name : {"server.key", "api-tokens"}) {
    SCOPED_TRACE(name);
    const std::string file = (dir_ / name).string();
    fs::permissions(file, fs::perms::others_read, fs::perm_options::add);
    // `timeout`: an appliance that starts all the same is stopped, and the test fails.
    auto r = run_process({"timeout", "10", built_program("hsmca-appliance"), "--config", (dir_ / "ca.yaml").string()},
                         {{"HSMCA_PIN", kUserPin}});
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    const std::string key = std::string(name) == "server.key" ? "appliance.tls.key" : "appliance.auth.tokens_file";
    EXPECT_EQ(r.err,
              "hsmca-appliance: error: " + key + ": " + file + " is readable by others: chmod 600 " + file + "\n");
    fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
  }
}

TEST_F(ApplianceTest, ManyConcurrentClientsAllGetVerifyingCertificatesThatAreAllInTheLedger) {
  constexpr int kThreads = 8, kEach = 6;
  openssl_csr(dir_.path(), "many", "/CN=many.example.test");
  auto body = est_body("many");
  std::vector<std::string> pems(kThreads * kEach);
  std::vector<int> statuses(kThreads * kEach);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        auto r = enroll(body, bearer(kEnrollToken));
        statuses[t * kEach + i] = r.status;
        if (r.status == 200) pems[t * kEach + i] = r.body;
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int i = 0; i < kThreads * kEach; ++i) {
    ASSERT_EQ(statuses[i], 200);
    EXPECT_TRUE(verifies(certs_of({200, pems[i]})));
  }
  // And a burst over keep-alive connections from hey (which gives each of its
  // c workers n/c requests: keep n a multiple of c).
  auto hey = run_process({"hey", "-n", "384", "-c", "32", "-m", "POST", "-T", "application/pkcs10", "-H",
                          std::string("Authorization: Bearer ") + kEnrollToken, "-D", body.string(),
                          url("/.well-known/est/simpleenroll").replace(8, 15, "127.0.0.1")});
  ASSERT_EQ(hey.exit_code, 0) << hey.err;
  EXPECT_NE(hey.out.find("[200]\t384 responses"), std::string::npos) << hey.out;
  auto entries = ledger();
  EXPECT_EQ(entries.size(), 2u + kThreads * kEach + 384);
  std::set<std::string> serials;
  for (const auto& e : entries) {
    EXPECT_EQ(e["status"], "issued");
    serials.insert(e["serial"].get<std::string>());
  }
  EXPECT_EQ(serials.size(), entries.size());
}

TEST_F(ApplianceTest, PublicListenerServesHealthMetricsAndTheChain) {
  auto health = run_process({"curl", "-sS", plain_url("/healthz")});
  EXPECT_EQ(nlohmann::json::parse(health.out)["status"], "ok") << health.out;
  auto chain = run_process({"curl", "-sS", plain_url("/ca/chain.pem")});
  EXPECT_EQ(chain.out, read_file(dir_ / "issuing.crt") + read_file(dir_ / "root.crt"));

  openssl_csr(dir_.path(), "web", "/CN=web.example.test");
  ASSERT_EQ(enroll(est_body("web"), bearer(kEnrollToken)).status, 200);
  auto metrics = run_process({"curl", "-sS", plain_url("/metrics")}).out;
  EXPECT_NE(metrics.find("hsmca_issuances_total{profile=\"server\",result=\"issued\"} 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("# TYPE hsmca_token_sign_seconds histogram"), std::string::npos);
  EXPECT_NE(metrics.find("hsmca_token_sessions_total 4"), std::string::npos);
  EXPECT_NE(metrics.find("hsmca_http_requests_total{route=\"/.well-known/est/simpleenroll\",status=\"200\"} 1"),
            std::string::npos)
      << metrics;
  // Enrollment is not offered in the clear.
  EXPECT_EQ(run_process({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
                         plain_url("/.well-known/est/simpleenroll")}).out,
            "404");
}

TEST_F(ApplianceTest, SigtermStopsGracefullyWithExitZeroAndAConsistentLedger) {
  openssl_csr(dir_.path(), "web", "/CN=web.example.test");
  auto body = est_body("web");
  ASSERT_EQ(enroll(body, bearer(kEnrollToken)).status, 200);
  // Requests in flight while the signal arrives finish or are refused; none is left half done.
  std::thread load([&] {
    for (int i = 0; i < 20; ++i) enroll(body, bearer(kEnrollToken));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(appliance_->stop(), 0);
  load.join();
  for (const auto& e : ledger()) EXPECT_EQ(e["status"], "issued") << e.dump();
  EXPECT_NE(run_process({"curl", "-s", "--max-time", "2", plain_url("/healthz")}).exit_code, 0)
      << "nothing listens after the exit";
}

TEST_F(ApplianceTest, ReenrollRenewsACertificateThisCaIssuedToItsHolder) {
  const std::vector<std::string> ops = {"--cert", (dir_ / "ops.crt").string(), "--key", (dir_ / "ops.key").string()};
  // RFC 7030 4.2.2: a renewal keeps its profile; a label naming another is refused.
  openssl_csr(dir_.path(), "renew2", "/CN=ops-admin");
  auto relabelled = enroll(est_body("renew2"), ops, "/.well-known/est/server/simplereenroll");
  EXPECT_EQ(relabelled.status, 403) << relabelled.body;
  EXPECT_EQ(nlohmann::json::parse(relabelled.body)["error"], "renewal_refused") << relabelled.body;
  // Another subject is refused.
  openssl_csr(dir_.path(), "other", "/CN=someone-else");
  auto mismatch = enroll(est_body("other"), ops, "/.well-known/est/simplereenroll");
  EXPECT_EQ(mismatch.status, 422) << mismatch.body;
  EXPECT_EQ(nlohmann::json::parse(mismatch.body)["error"], "renewal_mismatch") << mismatch.body;
  // The holder of ops.crt (issued by this CA) renews it with a new key and the same subject.
  openssl_csr(dir_.path(), "renew", "/CN=ops-admin");
  auto r = enroll(est_body("renew"), ops, "/.well-known/est/simplereenroll");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(verifies(certs_of(r)));
  auto entries = ledger();
  EXPECT_EQ(entries.back()["profile"], "client") << "renewal keeps the original profile";
  // Renewed once: ops.crt is now revoked as superseded and renews no more.
  const auto old = std::find_if(entries.begin(), entries.end(), [](const auto& e) { return e["subject"] == "CN=ops-admin"; });
  ASSERT_NE(old, entries.end());
  EXPECT_EQ((*old)["status"], "revoked");
  EXPECT_EQ((*old)["revocation_reason"], "superseded");
  openssl_csr(dir_.path(), "renew3", "/CN=ops-admin");
  EXPECT_EQ(enroll(est_body("renew3"), ops, "/.well-known/est/simplereenroll").status, 401);
}

TEST_F(ApplianceTest, AnswersUnavailableWhileTheTokenIsGoneAndRecoversOnItsOwnWhenItIsBack) {
  openssl_csr(dir_.path(), "web", "/CN=web.example.test");
  auto body = est_body("web");
  ASSERT_EQ(enroll(body, bearer(kEnrollToken)).status, 200);

  // SoftHSM loses its objects when its directory goes: the token is away.
  const fs::path tokens = SoftHsmEnv::get().dir() / "tokens";
  const fs::path away = SoftHsmEnv::get().dir() / "tokens.away";
  fs::rename(tokens, away);
  auto down = enroll(body, bearer(kEnrollToken));
  EXPECT_EQ(down.status, 503) << down.body;
  EXPECT_EQ(nlohmann::json::parse(down.body)["error"], "token_unavailable") << down.body;
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // past the health cache
  EXPECT_FALSE(healthy());

  fs::rename(away, tokens);
  auto up = enroll(body, bearer(kEnrollToken));
  EXPECT_EQ(up.status, 200) << up.body;
  EXPECT_TRUE(verifies(certs_of(up)));
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_TRUE(healthy());
  // The same process served throughout: it never exited or restarted.
  EXPECT_EQ(kill(appliance_->pid(), 0), 0);
  auto metrics = run_process({"curl", "-sS", plain_url("/metrics")}).out;
  EXPECT_NE(metrics.find("hsmca_token_errors_total{rv="), std::string::npos) << metrics;
  // The attempt made while the token was away is on record as failed — its
  // row was written before the token was asked — and nothing is left pending.
  int failed = 0;
  for (const auto& e : ledger()) {
    EXPECT_NE(e["status"], "pending") << e.dump();
    if (e["status"] == "failed") ++failed;
  }
  EXPECT_EQ(failed, 1);
}

}  // namespace
}  // namespace hsmca::test

namespace hsmca::test {
namespace {

// TLS 1.2 as an auditor scans it: AEAD suites with forward secrecy only.
TEST_F(ApplianceTest, Tls12OffersOnlyAeadSuitesWithForwardSecrecy) {
  auto handshake = [&](std::vector<std::string> extra) {
    std::vector<std::string> args{"s_client", "-connect", "127.0.0.1:" + std::to_string(https_port_), "-servername",
                                  "ca.example.test", "-CAfile", (dir_ / "root.crt").string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return openssl(args);
  };
  for (const char* cbc : {"ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA384", "AES128-SHA"}) {
    SCOPED_TRACE(cbc);
    auto r = handshake({"-tls1_2", "-cipher", cbc});
    EXPECT_NE(r.exit_code, 0) << r.out;
    EXPECT_EQ(r.out.find(std::string("Cipher is ") + cbc), std::string::npos) << r.out;
  }
  auto aead = handshake({"-tls1_2"});
  ASSERT_EQ(aead.exit_code, 0) << aead.err;
  EXPECT_TRUE(std::regex_search(aead.out, std::regex("Cipher is ECDHE-ECDSA-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)")))
      << aead.out;
  EXPECT_EQ(handshake({"-tls1_3"}).exit_code, 0);
}

// The profile a caller names is its own choice: only configured names become metric labels.
TEST_F(ApplianceTest, CallerChosenProfileNamesDoNotBecomeMetricLabels) {
  openssl_csr(dir_.path(), "web", "/CN=web.example.test", "DNS:web.example.test");
  for (int i = 0; i < 30; ++i) {
    const std::string name = std::string(10'000, 'p') + std::to_string(i);
    write_file(dir_ / "odd.json", nlohmann::json{{"csr", read_file(dir_ / "web.csr")}, {"profile", name}}.dump());
    auto r = curl({"-X", "POST", "-H", "Content-Type: application/json", "-H",
                   std::string("Authorization: Bearer ") + kEnrollToken, "--data-binary", "@" + (dir_ / "odd.json").string(),
                   url("/api/v1/certificates")});
    ASSERT_EQ(r.status, 404) << r.body;
  }
  const auto metrics = run_process({"curl", "-sS", plain_url("/metrics")}).out;
  EXPECT_LT(metrics.size(), 20'000u);
  EXPECT_EQ(metrics.find("pppppppp"), std::string::npos);
  EXPECT_NE(metrics.find("hsmca_issuances_total{profile=\"(unknown)\",result=\"rejected\"} 30"), std::string::npos)
      << metrics;
}

}  // namespace
}  // namespace hsmca::test
