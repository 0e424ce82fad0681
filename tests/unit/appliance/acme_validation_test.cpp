// ACME challenge validation against real servers on loopback: DNS from
// pebble-challtestsrv, HTTP and TLS servers on threads. Nothing of the
// validator is mocked.

#include "acme_validation.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/ip/udp.hpp>
#include <chrono>
#include <memory>

#include "acme_challenges.hpp"
#include "acme_test_servers.hpp"

namespace hsmca::appliance::acme {
namespace {

using namespace std::chrono_literals;
using test::acme::ChallengeCertificate;
using test::acme::ChallTestSrv;
using test::acme::HttpRequest;
using test::acme::redirect_response;
using test::acme::TestHttpServer;
using test::acme::TestTlsServer;
using test::acme::text_response;

constexpr std::string_view kToken = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA";
constexpr std::string_view kKeyAuthorization =
    "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.nP1qzpXGymHBrUEepNY9HCsQk7K8KhOypzEt62jcerQ";
const std::string kChallengePath = "/.well-known/acme-challenge/" + std::string(kToken);

Identifier dns_name(std::string value) { return Identifier{Identifier::Type::dns, std::move(value)}; }
Identifier ip_address(std::string value) { return Identifier{Identifier::Type::ip, std::move(value)}; }

// Serves the key authorization (or `body`) at the challenge path, 404 elsewhere.
test::acme::HttpHandler serving(std::string body = std::string(kKeyAuthorization) + "\r\n") {
  return [body](const HttpRequest& request) -> std::optional<test::acme::HttpResponse> {
    if (request.target() == kChallengePath) return text_response(200, body);
    return text_response(404, "not here");
  };
}

class AcmeValidationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { dns_ = std::make_unique<ChallTestSrv>(); }
  static void TearDownTestSuite() { dns_.reset(); }

  // Generous: the machine may be loaded. Only the timeout tests go short.
  static ValidationSettings settings(std::uint16_t http_port = 80, std::uint16_t tls_port = 443) {
    ValidationSettings s;
    s.dns_server = dns_->server();
    s.http_port = http_port;
    s.tls_port = tls_port;
    s.timeout = 20s;
    return s;
  }

  static std::unique_ptr<ChallTestSrv> dns_;
};

std::unique_ptr<ChallTestSrv> AcmeValidationTest::dns_;

void expect_refused(const ValidationResult& result, std::string_view problem, std::string_view detail_part) {
  EXPECT_FALSE(result.valid);
  EXPECT_EQ(result.problem, problem) << result.detail;
  EXPECT_NE(result.detail.find(detail_part), std::string::npos) << result.detail;
  EXPECT_EQ(result.detail.find('\n'), std::string::npos) << "one line: " << result.detail;
}

// ---- http-01 ----

TEST_F(AcmeValidationTest, Http01AcceptsTheKeyAuthorizationServedAtTheNamesAddress) {
  TestHttpServer server(serving());
  dns_->add_a("web.acme.test", "127.0.0.1");
  const auto result = validate(settings(server.port()), ChallengeType::http01, dns_name("web.acme.test"), kToken,
                               kKeyAuthorization);
  EXPECT_TRUE(result.valid) << result.problem << ": " << result.detail;
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].first, "GET " + kChallengePath);
  EXPECT_EQ(requests[0].second, "web.acme.test:" + std::to_string(server.port()));
}

TEST_F(AcmeValidationTest, Http01ResolvesThroughTheConfiguredServerNotTheSystem) {
  // "localhost" resolves through /etc/hosts; the test DNS server has no record for it.
  TestHttpServer server(serving());
  const auto result =
      validate(settings(server.port()), ChallengeType::http01, dns_name("localhost"), kToken, kKeyAuthorization);
  expect_refused(result, "dns", "localhost");
  EXPECT_TRUE(server.requests().empty());
}

TEST_F(AcmeValidationTest, Http01RefusesAWrongBody) {
  TestHttpServer server(serving("somebody-elses.key-authorization"));
  dns_->add_a("wrong.acme.test", "127.0.0.1");
  const auto result = validate(settings(server.port()), ChallengeType::http01, dns_name("wrong.acme.test"), kToken,
                               kKeyAuthorization);
  expect_refused(result, "incorrectResponse", "127.0.0.1:" + std::to_string(server.port()));
  // The body is not shown to the account: a redirect could have fetched any page the CA can reach.
  EXPECT_EQ(result.detail.find("somebody-elses"), std::string::npos) << result.detail;
  EXPECT_NE(result.detail.find("32 bytes"), std::string::npos) << result.detail;
}

TEST_F(AcmeValidationTest, Http01RefusesA404) {
  TestHttpServer server([](const HttpRequest&) { return text_response(404, "no"); });
  dns_->add_a("missing.acme.test", "127.0.0.1");
  const auto result = validate(settings(server.port()), ChallengeType::http01, dns_name("missing.acme.test"), kToken,
                               kKeyAuthorization);
  expect_refused(result, "unauthorized", "HTTP 404");
}

TEST_F(AcmeValidationTest, Http01FollowsARedirectChainAcrossNames) {
  std::atomic<std::uint16_t> port{0};  // known once the server listens
  TestHttpServer server([&port](const HttpRequest& request) -> std::optional<test::acme::HttpResponse> {
    if (request.target() == kChallengePath) return redirect_response("/step-1");
    if (request.target() == "/step-1") {
      return redirect_response("http://second.acme.test:" + std::to_string(port.load()) + "/final#fragment");
    }
    if (request.target() == "/final") return text_response(200, std::string(kKeyAuthorization));
    return text_response(404, "");
  });
  port = server.port();
  dns_->add_a("first.acme.test", "127.0.0.1");
  dns_->add_a("second.acme.test", "127.0.0.1");
  const auto result = validate(settings(server.port()), ChallengeType::http01, dns_name("first.acme.test"), kToken,
                               kKeyAuthorization);
  EXPECT_TRUE(result.valid) << result.problem << ": " << result.detail;
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[2].first, "GET /final");
  EXPECT_EQ(requests[2].second, "second.acme.test:" + std::to_string(server.port()));
}

TEST_F(AcmeValidationTest, Http01RefusesARedirectToAPortItDoesNotValidateOn) {
  TestHttpServer elsewhere(serving());  // would answer correctly, if it were asked
  const std::string target = "http://127.0.0.1:" + std::to_string(elsewhere.port()) + kChallengePath;
  TestHttpServer server([target](const HttpRequest&) { return redirect_response(target); });
  dns_->add_a("porthop.acme.test", "127.0.0.1");
  const auto result = validate(settings(server.port()), ChallengeType::http01, dns_name("porthop.acme.test"), kToken,
                               kKeyAuthorization);
  expect_refused(result, "connection", "port " + std::to_string(elsewhere.port()));
  EXPECT_TRUE(elsewhere.requests().empty());
}

// Cloud metadata lives at 169.254.169.254: neither a redirect nor a name's
// record nor an IP identifier takes validation to a link-local address.
TEST_F(AcmeValidationTest, NeverConnectsToALinkLocalAddress) {
  TestHttpServer server([](const HttpRequest&) { return redirect_response("http://169.254.169.254/latest/meta-data/"); });
  dns_->add_a("metadata.acme.test", "127.0.0.1");
  auto result = validate(settings(server.port()), ChallengeType::http01, dns_name("metadata.acme.test"), kToken,
                         kKeyAuthorization);
  expect_refused(result, "connection", "169.254.169.254 has only link-local");
  dns_->add_a("linklocal.acme.test", "169.254.169.254");
  result = validate(settings(server.port()), ChallengeType::http01, dns_name("linklocal.acme.test"), kToken,
                    kKeyAuthorization);
  expect_refused(result, "connection", "linklocal.acme.test has only link-local");
  for (const char* ip : {"169.254.169.254", "fe80::1", "0.0.0.0", "::ffff:169.254.1.1", "224.0.0.1",
                         "64:ff9b::a9fe:a9fe", "64:ff9b:1::a9fe:a9fe", "2002:a9fe:a9fe::1", "fd00:ec2::254", "100.100.100.200",
                         "168.63.129.16"}) {
    for (auto type : {ChallengeType::http01, ChallengeType::tls_alpn01}) {
      result = validate(settings(server.port()), type, ip_address(ip), kToken, kKeyAuthorization);
      expect_refused(result, "connection", "validation never connects to");
    }
  }
  EXPECT_EQ(server.requests().size(), 1u) << "only the first request, which the test server redirected";
  // Loopback and private addresses stay reachable (a private CA validates private names), also inside IPv6.
  for (const char* ip : {"127.0.0.1", "10.1.2.3", "192.168.1.1", "::1", "fd00::1", "64:ff9b::a01:203", "2002:a01:203::1"}) {
    EXPECT_FALSE(never_validated(boost::asio::ip::make_address(ip))) << ip;
  }
}

TEST_F(AcmeValidationTest, Http01RefusesARedirectToAnotherScheme) {
  TestHttpServer server([](const HttpRequest&) { return redirect_response("ftp://127.0.0.1/x"); });
  dns_->add_a("ftp.acme.test", "127.0.0.1");
  const auto result = validate(settings(server.port()), ChallengeType::http01, dns_name("ftp.acme.test"), kToken,
                               kKeyAuthorization);
  expect_refused(result, "connection", "http and https");
}

TEST_F(AcmeValidationTest, Http01StopsAfterTenRedirects) {
  TestHttpServer server([](const HttpRequest& request) {
    return redirect_response(std::string(request.target()) + "x");  // a new path every time
  });
  dns_->add_a("loop.acme.test", "127.0.0.1");
  const auto result = validate(settings(server.port()), ChallengeType::http01, dns_name("loop.acme.test"), kToken,
                               kKeyAuthorization);
  expect_refused(result, "connection", "more than 10 redirects");
  EXPECT_EQ(server.requests().size(), 11u) << "the first request and ten redirects";
}

TEST_F(AcmeValidationTest, Http01RefusesAnOversizeBodyWithoutReadingIt) {
  std::string huge(1 << 20, 'a');
  TestHttpServer server(serving(std::string(kKeyAuthorization) + huge));
  dns_->add_a("huge.acme.test", "127.0.0.1");
  const auto result = validate(settings(server.port()), ChallengeType::http01, dns_name("huge.acme.test"), kToken,
                               kKeyAuthorization);
  expect_refused(result, "incorrectResponse", "larger than 8192 bytes");
}

TEST_F(AcmeValidationTest, Http01RefusesAnOversizeBodyThatHasNoLength) {
  // Delimited by the end of the connection: the limit applies as the body arrives.
  TestHttpServer server([](const HttpRequest&) -> std::optional<test::acme::HttpResponse> {
    test::acme::HttpResponse response{boost::beast::http::status::ok, 11};
    response.keep_alive(false);
    response.body() = std::string(kKeyAuthorization) + std::string(1 << 20, ' ');
    return response;
  });
  dns_->add_a("endless.acme.test", "127.0.0.1");
  const auto result = validate(settings(server.port()), ChallengeType::http01, dns_name("endless.acme.test"), kToken,
                               kKeyAuthorization);
  expect_refused(result, "incorrectResponse", "larger than 8192 bytes");
}

TEST_F(AcmeValidationTest, Http01GivesUpOnASilentServerWithinTheTimeout) {
  TestHttpServer server([](const HttpRequest&) { return std::nullopt; });
  dns_->add_a("slow.acme.test", "127.0.0.1");
  auto s = settings(server.port());
  s.timeout = 1500ms;
  const auto start = std::chrono::steady_clock::now();
  const auto result = validate(s, ChallengeType::http01, dns_name("slow.acme.test"), kToken, kKeyAuthorization);
  const auto took = std::chrono::steady_clock::now() - start;
  expect_refused(result, "connection", "timed out");
  EXPECT_NE(result.detail.find("127.0.0.1:" + std::to_string(server.port())), std::string::npos) << result.detail;
  EXPECT_GE(took, 1400ms) << "the server was given its time";
  EXPECT_LT(took, 1500ms + 3s) << "and not much more";
}

TEST_F(AcmeValidationTest, Http01NamesTheAddressThatRefusedTheConnection) {
  const int closed = test::free_port();
  dns_->add_a("closed.acme.test", "127.0.0.1");
  const auto result = validate(settings(static_cast<std::uint16_t>(closed)), ChallengeType::http01,
                               dns_name("closed.acme.test"), kToken, kKeyAuthorization);
  expect_refused(result, "connection", "connection refused at 127.0.0.1:" + std::to_string(closed));
}

TEST_F(AcmeValidationTest, Http01RefusesANameWithoutAddresses) {
  const auto result =
      validate(settings(), ChallengeType::http01, dns_name("nowhere.acme.test"), kToken, kKeyAuthorization);
  expect_refused(result, "dns", "no A or AAAA record for nowhere.acme.test");
}

TEST_F(AcmeValidationTest, Http01ConnectsToAnIpv4IdentifierDirectly) {
  TestHttpServer server(serving());
  const auto result =
      validate(settings(server.port()), ChallengeType::http01, ip_address("127.0.0.1"), kToken, kKeyAuthorization);
  EXPECT_TRUE(result.valid) << result.problem << ": " << result.detail;
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].second, "127.0.0.1:" + std::to_string(server.port()));
}

TEST_F(AcmeValidationTest, Http01ConnectsToAnIpv6IdentifierWithABracketedHost) {
  std::unique_ptr<TestHttpServer> server;
  try {
    server = std::make_unique<TestHttpServer>(serving(), "::1");
  } catch (const std::exception&) {
    GTEST_SKIP() << "no IPv6 loopback here";
  }
  const auto result =
      validate(settings(server->port()), ChallengeType::http01, ip_address("::1"), kToken, kKeyAuthorization);
  EXPECT_TRUE(result.valid) << result.problem << ": " << result.detail;
  ASSERT_EQ(server->requests().size(), 1u);
  EXPECT_EQ(server->requests()[0].second, "[::1]:" + std::to_string(server->port()));
}

TEST_F(AcmeValidationTest, Http01FollowsAnHttpsRedirectWithoutCheckingTheCertificate) {
  // Self-signed, and for another name: RFC 8555 §8.3 says not to validate it.
  TestTlsServer tls(ChallengeCertificate{"DNS:unrelated.test", "", false, false}, false,
                    std::string(kKeyAuthorization));
  const std::string target = "https://secure.acme.test:" + std::to_string(tls.port()) + "/ok";
  TestHttpServer server([target](const HttpRequest&) { return redirect_response(target); });
  dns_->add_a("plain.acme.test", "127.0.0.1");
  dns_->add_a("secure.acme.test", "127.0.0.1");
  const auto result = validate(settings(server.port(), tls.port()), ChallengeType::http01,
                               dns_name("plain.acme.test"), kToken, kKeyAuthorization);
  EXPECT_TRUE(result.valid) << result.problem << ": " << result.detail;
  ASSERT_EQ(tls.handshakes().size(), 1u);
  EXPECT_EQ(tls.handshakes()[0].first, "secure.acme.test") << "SNI";
}

// ---- dns-01 ----

TEST(AcmeDns01Test, TheTxtValueIsTheUnpaddedBase64urlOfTheKeyAuthorizationsSha256) {
  EXPECT_EQ(dns01_txt_value(kKeyAuthorization), "NGwKoXBgCT8JhEa0bK7AwfSqHyu_ZWeugV07fLGIVq0");
}

TEST_F(AcmeValidationTest, Dns01AcceptsAMatchingTxtRecord) {
  dns_->set_txt("_acme-challenge.txt.acme.test", dns01_txt_value(kKeyAuthorization));
  const auto result =
      validate(settings(), ChallengeType::dns01, dns_name("txt.acme.test"), kToken, kKeyAuthorization);
  EXPECT_TRUE(result.valid) << result.problem << ": " << result.detail;
}

TEST_F(AcmeValidationTest, Dns01AcceptsWhenOneOfSeveralTxtRecordsMatches) {
  dns_->set_txt("_acme-challenge.several.acme.test", "an-older-challenge");
  dns_->set_txt("_acme-challenge.several.acme.test", dns01_txt_value(kKeyAuthorization));
  const auto result =
      validate(settings(), ChallengeType::dns01, dns_name("several.acme.test"), kToken, kKeyAuthorization);
  EXPECT_TRUE(result.valid) << result.problem << ": " << result.detail;
}

TEST_F(AcmeValidationTest, Dns01RefusesADifferentTxtRecord) {
  dns_->set_txt("_acme-challenge.other.acme.test", dns01_txt_value("someone.else"));
  const auto result =
      validate(settings(), ChallengeType::dns01, dns_name("other.acme.test"), kToken, kKeyAuthorization);
  expect_refused(result, "incorrectResponse", "TXT record for _acme-challenge.other.acme.test did not match");
}

TEST_F(AcmeValidationTest, Dns01RefusesWhenThereIsNoTxtRecord) {
  const auto result =
      validate(settings(), ChallengeType::dns01, dns_name("bare.acme.test"), kToken, kKeyAuthorization);
  expect_refused(result, "unauthorized", "_acme-challenge.bare.acme.test");
}

TEST_F(AcmeValidationTest, Dns01ForAWildcardLooksUpTheBaseName) {
  dns_->set_txt("_acme-challenge.wild.acme.test", dns01_txt_value(kKeyAuthorization));
  const auto result =
      validate(settings(), ChallengeType::dns01, dns_name("*.wild.acme.test"), kToken, kKeyAuthorization);
  EXPECT_TRUE(result.valid) << result.problem << ": " << result.detail;
}

TEST_F(AcmeValidationTest, Dns01ReportsAnUnreachableResolverAsADnsProblem) {
  auto s = settings();
  s.dns_server = "127.0.0.1:" + std::to_string(test::free_port());  // nothing answers there
  s.timeout = 5s;
  const auto result = validate(s, ChallengeType::dns01, dns_name("txt.acme.test"), kToken, kKeyAuthorization);
  expect_refused(result, "dns", "_acme-challenge.txt.acme.test");
  EXPECT_NE(result.detail.find(s.dns_server), std::string::npos) << result.detail;
}

TEST_F(AcmeValidationTest, Dns01GivesUpOnASilentResolverWithinTheTimeout) {
  // A UDP socket that receives and never answers.
  boost::asio::io_context io;
  boost::asio::ip::udp::socket silent(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  auto s = settings();
  s.dns_server = "127.0.0.1:" + std::to_string(silent.local_endpoint().port());
  s.timeout = 1500ms;
  const auto start = std::chrono::steady_clock::now();
  const auto result = validate(s, ChallengeType::dns01, dns_name("txt.acme.test"), kToken, kKeyAuthorization);
  const auto took = std::chrono::steady_clock::now() - start;
  expect_refused(result, "dns", "timeout");
  EXPECT_LT(took, 1500ms + 3s);
}

// ---- tls-alpn-01 ----

TEST_F(AcmeValidationTest, TlsAlpn01AcceptsTheRightCertificate) {
  TestTlsServer tls(ChallengeCertificate{"DNS:alpn.acme.test", std::string(kKeyAuthorization)}, true);
  dns_->add_a("alpn.acme.test", "127.0.0.1");
  const auto result = validate(settings(80, tls.port()), ChallengeType::tls_alpn01, dns_name("alpn.acme.test"),
                               kToken, kKeyAuthorization);
  EXPECT_TRUE(result.valid) << result.problem << ": " << result.detail;
  const auto handshakes = tls.handshakes();
  ASSERT_EQ(handshakes.size(), 1u);
  EXPECT_EQ(handshakes[0].first, "alpn.acme.test") << "SNI";
  EXPECT_EQ(handshakes[0].second, std::string("\x0a" "acme-tls/1")) << "only acme-tls/1 is offered";
}

TEST_F(AcmeValidationTest, TlsAlpn01RefusesAServerThatDoesNotNegotiateAcmeTls) {
  TestTlsServer tls(ChallengeCertificate{"DNS:noalpn.acme.test", std::string(kKeyAuthorization)}, false);
  dns_->add_a("noalpn.acme.test", "127.0.0.1");
  const auto result = validate(settings(80, tls.port()), ChallengeType::tls_alpn01, dns_name("noalpn.acme.test"),
                               kToken, kKeyAuthorization);
  expect_refused(result, "unauthorized", "acme-tls/1");
}

TEST_F(AcmeValidationTest, TlsAlpn01RefusesTheHashOfAnotherKeyAuthorization) {
  TestTlsServer tls(ChallengeCertificate{"DNS:hash.acme.test", "someone.else"}, true);
  dns_->add_a("hash.acme.test", "127.0.0.1");
  const auto result = validate(settings(80, tls.port()), ChallengeType::tls_alpn01, dns_name("hash.acme.test"),
                               kToken, kKeyAuthorization);
  expect_refused(result, "incorrectResponse", "SHA-256");
}

TEST_F(AcmeValidationTest, TlsAlpn01RefusesANonCriticalAcmeIdentifier) {
  TestTlsServer tls(ChallengeCertificate{"DNS:lax.acme.test", std::string(kKeyAuthorization), true, false}, true);
  dns_->add_a("lax.acme.test", "127.0.0.1");
  const auto result = validate(settings(80, tls.port()), ChallengeType::tls_alpn01, dns_name("lax.acme.test"),
                               kToken, kKeyAuthorization);
  expect_refused(result, "incorrectResponse", "not critical");
}

TEST_F(AcmeValidationTest, TlsAlpn01RefusesACertificateWithoutAcmeIdentifier) {
  TestTlsServer tls(ChallengeCertificate{"DNS:plainssl.acme.test", "", false, false}, true);
  dns_->add_a("plainssl.acme.test", "127.0.0.1");
  const auto result = validate(settings(80, tls.port()), ChallengeType::tls_alpn01,
                               dns_name("plainssl.acme.test"), kToken, kKeyAuthorization);
  expect_refused(result, "incorrectResponse", "no acmeIdentifier");
}

TEST_F(AcmeValidationTest, TlsAlpn01RefusesAnExtraSubjectAltName) {
  TestTlsServer tls(
      ChallengeCertificate{"DNS:extra.acme.test,DNS:victim.example", std::string(kKeyAuthorization)}, true);
  dns_->add_a("extra.acme.test", "127.0.0.1");
  const auto result = validate(settings(80, tls.port()), ChallengeType::tls_alpn01, dns_name("extra.acme.test"),
                               kToken, kKeyAuthorization);
  expect_refused(result, "incorrectResponse", "2 subjectAltName entries");
}

TEST_F(AcmeValidationTest, TlsAlpn01RefusesACertificateForAnotherName) {
  TestTlsServer tls(ChallengeCertificate{"DNS:someone-else.acme.test", std::string(kKeyAuthorization)}, true);
  dns_->add_a("mine.acme.test", "127.0.0.1");
  const auto result = validate(settings(80, tls.port()), ChallengeType::tls_alpn01, dns_name("mine.acme.test"),
                               kToken, kKeyAuthorization);
  expect_refused(result, "incorrectResponse", "someone-else.acme.test");
}

TEST_F(AcmeValidationTest, TlsAlpn01ForAnIpSendsTheReverseNameAsSni) {
  TestTlsServer tls(ChallengeCertificate{"IP:127.0.0.1", std::string(kKeyAuthorization)}, true);
  const auto result = validate(settings(80, tls.port()), ChallengeType::tls_alpn01, ip_address("127.0.0.1"), kToken,
                               kKeyAuthorization);
  EXPECT_TRUE(result.valid) << result.problem << ": " << result.detail;
  ASSERT_EQ(tls.handshakes().size(), 1u);
  EXPECT_EQ(tls.handshakes()[0].first, "1.0.0.127.in-addr.arpa");
}

TEST_F(AcmeValidationTest, TlsAlpn01ForAnIpRefusesADnsNameCertificate) {
  TestTlsServer tls(ChallengeCertificate{"DNS:localhost", std::string(kKeyAuthorization)}, true);
  const auto result = validate(settings(80, tls.port()), ChallengeType::tls_alpn01, ip_address("127.0.0.1"), kToken,
                               kKeyAuthorization);
  expect_refused(result, "incorrectResponse", "not an iPAddress");
}

TEST_F(AcmeValidationTest, TlsAlpn01GivesUpOnASilentServerWithinTheTimeout) {
  // Listening but never accepting: the kernel completes the TCP handshake, nobody answers the ClientHello.
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor silent(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  dns_->add_a("mute.acme.test", "127.0.0.1");
  auto s = settings(80, silent.local_endpoint().port());
  s.timeout = 1500ms;
  const auto start = std::chrono::steady_clock::now();
  const auto result = validate(s, ChallengeType::tls_alpn01, dns_name("mute.acme.test"), kToken, kKeyAuthorization);
  const auto took = std::chrono::steady_clock::now() - start;
  expect_refused(result, "connection", "timed out");
  EXPECT_GE(took, 1400ms);
  EXPECT_LT(took, 1500ms + 3s);
}

TEST_F(AcmeValidationTest, TlsAlpn01ReportsAFailedHandshakeAsATlsProblem) {
  TestHttpServer not_tls(serving());
  dns_->add_a("nottls.acme.test", "127.0.0.1");
  const auto result = validate(settings(80, not_tls.port()), ChallengeType::tls_alpn01,
                               dns_name("nottls.acme.test"), kToken, kKeyAuthorization);
  expect_refused(result, "tls", "127.0.0.1:" + std::to_string(not_tls.port()));
}

// ---- refusals without network ----

// A resolver that is never there: a refusal must come before any lookup.
ValidationSettings offline() {
  ValidationSettings s;
  s.dns_server = "127.0.0.1:9";
  s.http_port = 9;
  s.tls_port = 9;
  s.timeout = 20s;
  return s;
}

TEST(AcmeValidationRefusalTest, Dns01CannotValidateAnIpAddress) {
  expect_refused(validate(offline(), ChallengeType::dns01, ip_address("192.0.2.1"), kToken, kKeyAuthorization),
                 "malformed", "dns-01");
}

TEST(AcmeValidationRefusalTest, OnlyDns01CanValidateAWildcard) {
  for (auto type : {ChallengeType::http01, ChallengeType::tls_alpn01}) {
    expect_refused(validate(offline(), type, dns_name("*.example.test"), kToken, kKeyAuthorization), "malformed",
                   "wildcard");
  }
}

TEST(AcmeValidationRefusalTest, RejectsIdentifiersThatAreNotNamesOrAddresses) {
  for (const char* bad : {"exa mple.test", "-lead.test", "a..b.test", "trailing.test.", "*.*.test", "a.*.test",
                          "192.0.2.1", "", "x.test/../y"}) {
    expect_refused(validate(offline(), ChallengeType::dns01, dns_name(bad), kToken, kKeyAuthorization),
                   "rejectedIdentifier", "");
  }
  for (const char* bad : {"example.test", "192.0.2", "fe80::1%eth0", "[::1]", ""}) {
    expect_refused(validate(offline(), ChallengeType::http01, ip_address(bad), kToken, kKeyAuthorization),
                   "rejectedIdentifier", "");
  }
}

TEST(AcmeValidationRefusalTest, RefusesATokenThatWouldLeaveTheChallengePath) {
  expect_refused(validate(offline(), ChallengeType::http01, dns_name("example.test"), "../../admin",
                          "../../admin.thumbprint"),
                 "malformed", "token");
}

TEST(AcmeValidationRefusalTest, RefusesAKeyAuthorizationForAnotherToken) {
  expect_refused(validate(offline(), ChallengeType::http01, dns_name("example.test"), kToken, "other.thumbprint"),
                 "malformed", "key authorization");
}

TEST(AcmeValidationRefusalTest, AnUnusableDnsServerSettingIsTheServersFault) {
  auto s = offline();
  s.dns_server = "not a server";
  expect_refused(validate(s, ChallengeType::dns01, dns_name("example.test"), kToken, kKeyAuthorization),
                 "serverInternal", "not a server");
}

// ---- CAA ----

TEST_F(AcmeValidationTest, CaaAbsentAllowsIssuance) {
  const auto result = check_caa(settings(), dns_name("www.nocaa.acme.test"), {"ca.hsmca.test"});
  EXPECT_TRUE(result.valid) << result.problem << ": " << result.detail;
}

TEST_F(AcmeValidationTest, CaaNamingAnotherCaForbidsIssuance) {
  dns_->add_caa("theirs.acme.test", {{"issue", "other-ca.test"}});
  const auto result = check_caa(settings(), dns_name("theirs.acme.test"), {"ca.hsmca.test"});
  expect_refused(result, "caa", "CAA record for theirs.acme.test");
}

TEST_F(AcmeValidationTest, CaaNamingUsAllowsIssuanceWhateverTheParameters) {
  dns_->add_caa("ours.acme.test",
                {{"issue", "other-ca.test"}, {"issue", "CA.hsmca.test; accounturi=https://ca.hsmca.test/acct/1"}});
  const auto result = check_caa(settings(), dns_name("ours.acme.test"), {"ca.hsmca.test"});
  EXPECT_TRUE(result.valid) << result.problem << ": " << result.detail;
}

TEST_F(AcmeValidationTest, CaaOnAParentAppliesToItsSubdomains) {
  dns_->add_caa("parent.acme.test", {{"issue", "other-ca.test"}});
  const auto result = check_caa(settings(), dns_name("deep.sub.parent.acme.test"), {"ca.hsmca.test"});
  expect_refused(result, "caa", "parent.acme.test");
}

TEST_F(AcmeValidationTest, CaaTheClosestRecordSetWins) {
  dns_->add_caa("closest.acme.test", {{"issue", "other-ca.test"}});
  dns_->add_caa("sub.closest.acme.test", {{"issue", "ca.hsmca.test"}});
  EXPECT_TRUE(check_caa(settings(), dns_name("sub.closest.acme.test"), {"ca.hsmca.test"}).valid);
}

TEST_F(AcmeValidationTest, CaaIssuewildGovernsWildcardsOnly) {
  dns_->add_caa("wildcaa.acme.test", {{"issue", "ca.hsmca.test"}, {"issuewild", ";"}});
  EXPECT_TRUE(check_caa(settings(), dns_name("wildcaa.acme.test"), {"ca.hsmca.test"}).valid);
  expect_refused(check_caa(settings(), dns_name("*.wildcaa.acme.test"), {"ca.hsmca.test"}), "caa", "issuewild");
}

TEST_F(AcmeValidationTest, CaaIssueAppliesToWildcardsWithoutIssuewild) {
  dns_->add_caa("issueonly.acme.test", {{"issue", "ca.hsmca.test"}});
  EXPECT_TRUE(check_caa(settings(), dns_name("*.issueonly.acme.test"), {"ca.hsmca.test"}).valid);
}

TEST_F(AcmeValidationTest, CaaEmptyIssueForbidsEveryone) {
  dns_->add_caa("nobody.acme.test", {{"issue", ";"}});
  expect_refused(check_caa(settings(), dns_name("nobody.acme.test"), {"ca.hsmca.test"}), "caa", "nobody.acme.test");
}

TEST_F(AcmeValidationTest, CaaIssueWithAnEmptyValueForbidsIssuance) {
  // RFC 8659 §4.2: no issuer domain, no CA. c-ares 1.18 refuses to parse a
  // CAA record with an empty value; either way the answer must be no.
  dns_->add_caa("emptyvalue.acme.test", {{"issue", ""}});
  const auto result = check_caa(settings(), dns_name("emptyvalue.acme.test"), {"ca.hsmca.test"});
  EXPECT_FALSE(result.valid);
  EXPECT_TRUE(result.problem == "caa" || result.problem == "dns") << result.problem << ": " << result.detail;
}

TEST_F(AcmeValidationTest, CaaWithOnlyIodefDoesNotRestrict) {
  dns_->add_caa("report.acme.test", {{"iodef", "mailto:security@report.acme.test"}});
  EXPECT_TRUE(check_caa(settings(), dns_name("report.acme.test"), {"ca.hsmca.test"}).valid);
}

TEST_F(AcmeValidationTest, CaaLookupFailureForbidsIssuance) {
  auto s = settings();
  s.dns_server = "127.0.0.1:" + std::to_string(test::free_port());
  s.timeout = 5s;
  expect_refused(check_caa(s, dns_name("any.acme.test"), {"ca.hsmca.test"}), "dns", "CAA");
}

TEST(AcmeCaaTest, IpIdentifiersHaveNoCaa) {
  EXPECT_TRUE(check_caa(offline(), ip_address("192.0.2.1"), {"ca.hsmca.test"}).valid);
}

}  // namespace
}  // namespace hsmca::appliance::acme
