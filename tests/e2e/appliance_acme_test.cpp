// ACME end to end with a client nobody here wrote: Debian's certbot obtains,
// renews and revokes a certificate over http-01 from the running appliance;
// names resolve through a dnsmasq the test runs (the appliance's validator
// asks acme.validation.dns_server, never /etc/hosts).
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "acme_jws_signer.hpp"
#include "appliance_fixture.hpp"

namespace hsmca::test {
namespace {

class ApplianceAcmeTest : public ApplianceFixture {
 protected:
  // A profile for ACME alone: server certificates under example.test, ordered by the role acme.
  std::string extra_ca_yaml() const override {
    return "  web:\n"
           "    validity_days: 90\n"
           "    extended_key_usage: [server_auth]\n"
           "    names: {dns: [example.test], wildcards: true}\n"
           "    requesters: [acme]\n";
  }
  std::string extra_appliance_yaml() const override {
    return "  acme:\n"
           "    profile: web\n"
           "    validation: {dns_server: 127.0.0.1:" + std::to_string(dns_port_) +
           ", http_port: " + std::to_string(http01_port_) + ", tls_port: " + std::to_string(tls01_port_) +
           ", timeout_ms: 5000}\n";
  }

  // pebble-challtestsrv instead of dnsmasq: TXT records a dns-01 client sets through its management API.
  virtual bool settable_dns() const { return false; }

  void SetUp() override {
    if (settable_dns()) {
      // Every A query: 127.0.0.1; no AAAA; TXT as set on the management port.
      dns_ = std::make_unique<BackgroundProcess>(
          std::vector<std::string>{"pebble-challtestsrv", "-dns01", "127.0.0.1:" + std::to_string(dns_port_), "-http01",
                                   "", "-https01", "", "-tlsalpn01", "", "-management",
                                   "127.0.0.1:" + std::to_string(management_port_), "-defaultIPv6", ""},
          std::map<std::string, std::string>{}, (dir_ / "challtestsrv.log").string());
      ASSERT_TRUE(wait_for_port(management_port_, 10)) << read_file(dir_ / "challtestsrv.log");
    } else {
      // www.example.test and every other name below example.test: 127.0.0.1, where certbot answers http-01.
      dns_ = std::make_unique<BackgroundProcess>(
          std::vector<std::string>{"dnsmasq", "--no-daemon", "--port", std::to_string(dns_port_),
                                   "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts",
                                   "--user=", "--conf-file=/dev/null", "--address=/example.test/127.0.0.1"},
          std::map<std::string, std::string>{}, (dir_ / "dnsmasq.log").string());
    }
    ApplianceFixture::SetUp();
  }
  void TearDown() override {
    ApplianceFixture::TearDown();
    dns_.reset();
  }

  std::string directory() const { return "https://127.0.0.1:" + std::to_string(https_port_) + "/acme/directory"; }

  // certbot with its state in the test's directory, trusting only the CA's root.
  ProcessResult certbot(std::vector<std::string> args) {
    std::vector<std::string> argv{"certbot"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--config-dir", (dir_ / "certbot/config").string(), "--work-dir",
                             (dir_ / "certbot/work").string(), "--logs-dir", (dir_ / "certbot/logs").string(),
                             "--non-interactive"});
    return run_process(argv, {{"REQUESTS_CA_BUNDLE", (dir_ / "root.crt").string()}});
  }

  std::vector<std::string> certonly(const std::string& name) {
    return {"certonly", "--standalone", "--preferred-challenges", "http", "--http-01-port",
            std::to_string(http01_port_), "--http-01-address", "127.0.0.1", "--server", directory(), "--agree-tos",
            "-m", "x@example.test", "-d", name};
  }

  nlohmann::json eab_key() {
    auto r = hsmca({"acme", "eab", "add", "--config", (dir_ / "ca.yaml").string(), "--label", "web-01", "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out);
  }

  // The ledger's entries whose requester is an ACME account.
  std::vector<nlohmann::json> acme_entries() {
    std::vector<nlohmann::json> out;
    for (const auto& e : ledger()) {
      if (e["requester"].get<std::string>().starts_with("acme:")) out.push_back(e);
    }
    return out;
  }

  std::string serial_of(const fs::path& pem) {
    auto r = openssl({"x509", "-in", pem.string(), "-noout", "-serial"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::string s = r.out.substr(r.out.find('=') + 1);
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    while (s.size() > 1 && s.starts_with("0")) s.erase(0, 1);
    return s;
  }

  nlohmann::json ledger_entry(const std::string& serial) {
    for (const auto& e : ledger()) {
      std::string s = e["serial"].get<std::string>();
      while (s.size() > 1 && s.starts_with("0")) s.erase(0, 1);
      if (s == serial) return e;
    }
    return nullptr;
  }

  std::string log_of(const ProcessResult& r) { return r.out + r.err; }

  // The first certificate of a PEM bundle (lego saves the leaf and the issuing CA in one file).
  static std::string leaf_of(const std::string& bundle) {
    constexpr std::string_view end = "-----END CERTIFICATE-----";
    return bundle.substr(0, bundle.find(end) + end.size()) + "\n";
  }

  // openssl ocsp's answer from the appliance's responder for the certificate in `pem`.
  std::string ocsp_status(const fs::path& pem) {
    auto r = openssl({"ocsp", "-issuer", (dir_ / "issuing.crt").string(), "-cert", pem.string(), "-url",
                      plain_url("/ocsp"), "-CAfile", (dir_ / "root.crt").string(), "-VAfile",
                      (dir_ / "issuing.crt").string()});
    return r.out + r.err;
  }

  struct Answer {
    int status = 0;
    std::string headers, body;
    std::string header(const std::string& name) const {
      std::string lower = headers;
      for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string want = "\n" + name + ":";
      for (auto& c : want) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      const auto at = lower.find(want);
      if (at == std::string::npos) return {};
      const auto start = at + want.size();
      std::string v = headers.substr(start, headers.find('\r', start) - start);
      while (!v.empty() && v.front() == ' ') v.erase(0, 1);
      return v;
    }
  };
  // curl, keeping the response headers (ACME puts the nonce and Location there).
  Answer raw(std::vector<std::string> args) {
    const auto n = std::to_string(++requests_);
    fs::path body = dir_ / ("acme-body-" + n), headers = dir_ / ("acme-headers-" + n);
    std::vector<std::string> argv{"curl", "-sS", "--max-time", "30", "--cacert", (dir_ / "root.crt").string(),
                                  "--resolve", "ca.example.test:" + std::to_string(https_port_) + ":127.0.0.1",
                                  "-o", body.string(), "-D", headers.string(), "-w", "%{http_code}"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = run_process(argv);
    Answer a;
    a.status = r.out.empty() ? 0 : std::stoi(r.out);
    a.headers = "\n" + (fs::exists(headers) ? read_file(headers) : "");
    a.body = fs::exists(body) ? read_file(body) : "";
    return a;
  }
  std::string fresh_nonce() { return raw({"-I", url("/acme/new-nonce")}).header("Replay-Nonce"); }
  Answer post_jws(const std::string& path, const nlohmann::json& jws) {
    const fs::path f = dir_ / ("jws-" + std::to_string(++requests_) + ".json");
    write_file(f, jws.dump());
    return raw({"-X", "POST", "-H", "Content-Type: application/jose+json", "--data-binary", "@" + f.string(), url(path)});
  }

  // An EAB for `key` with the operator's key `eab` (RFC 8555 7.3.4), for newAccount at `new_account`.
  static nlohmann::json eab_binding(const JwsTestKey& key, const nlohmann::json& eab, const std::string& new_account) {
    const auto hmac = appliance::acme::base64url_decode(eab["hmac_key"].get<std::string>());
    if (!hmac) throw std::runtime_error("the EAB HMAC key is not base64url");
    return make_mac_jws({{"alg", "HS256"}, {"kid", eab["kid"]}, {"url", new_account}}, key.public_jwk().dump(), *hmac);
  }

  // A request signed by the account `kid` with `key`, to the full URL `target` (as the server hands them out);
  // an empty payload is a POST-as-GET.
  Answer post_as(const JwsTestKey& key, const std::string& kid, const std::string& target, const std::string& payload) {
    const nlohmann::json header{{"alg", key.alg()}, {"kid", kid}, {"nonce", fresh_nonce()}, {"url", target}};
    return post_jws(target.substr(target.find("/acme/")), make_jws(key, header, payload));
  }

  int dns_port_ = free_port();
  int http01_port_ = free_port();
  int tls01_port_ = free_port();
  int management_port_ = free_port();
  std::unique_ptr<BackgroundProcess> dns_;
};

TEST_F(ApplianceAcmeTest, CertbotObtainsRenewsAndRevokesACertificateWithHttp01) {
  const auto eab = eab_key();
  auto args = certonly("www.example.test");
  args.insert(args.end(), {"--eab-kid", eab["kid"].get<std::string>(), "--eab-hmac-key", eab["hmac_key"].get<std::string>()});
  auto obtained = certbot(args);
  ASSERT_EQ(obtained.exit_code, 0) << log_of(obtained) << "\n" << read_file(log_);

  const fs::path live = dir_ / "certbot/config/live/www.example.test";
  const std::string first = read_file(live / "cert.pem");
  EXPECT_TRUE(verifies(first));
  // The chain certbot saved is the CA's: leaf, issuing CA, root.
  EXPECT_NE(read_file(live / "chain.pem").find(read_file(dir_ / "issuing.crt")), std::string::npos);
  auto san = openssl({"x509", "-in", (live / "cert.pem").string(), "-noout", "-ext", "subjectAltName"});
  EXPECT_NE(san.out.find("DNS:www.example.test"), std::string::npos) << san.out;

  // In the ledger, issued, ordered by an ACME account, under the ACME profile.
  const std::string first_serial = serial_of(live / "cert.pem");
  auto entry = ledger_entry(first_serial);
  ASSERT_FALSE(entry.is_null()) << "certificate " << first_serial << " is not in the ledger";
  EXPECT_EQ(entry["status"], "issued");
  EXPECT_EQ(entry["profile"], "web");
  const std::string requester = entry["requester"].get<std::string>();
  ASSERT_TRUE(requester.starts_with("acme:")) << requester;
  auto shown = hsmca({"certs", "show", "--config", (dir_ / "ca.yaml").string(), first_serial, "--json"});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  auto shown_json = nlohmann::json::parse(shown.out);
  EXPECT_EQ("acme:" + shown_json["acme_account"].get<std::string>(), requester);
  EXPECT_EQ(shown_json["acme_order"].get<std::string>().size(), 32u);
  // The EAB key is bound to that account now, and list never prints HMAC keys.
  auto listed = hsmca({"acme", "eab", "list", "--config", (dir_ / "ca.yaml").string(), "--json"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_EQ(listed.out.find(eab["hmac_key"].get<std::string>()), std::string::npos);
  auto keys = nlohmann::json::parse(listed.out);
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0]["status"], "bound");
  EXPECT_EQ("acme:" + keys[0]["account"].get<std::string>(), requester);

  // Renewal: a new order by the same account, a new certificate.
  auto renewed = certbot({"renew", "--force-renewal"});
  ASSERT_EQ(renewed.exit_code, 0) << log_of(renewed) << "\n" << read_file(log_);
  const std::string second = read_file(live / "cert.pem");
  EXPECT_NE(second, first);
  EXPECT_TRUE(verifies(second));
  const std::string second_serial = serial_of(live / "cert.pem");
  auto renewed_entry = ledger_entry(second_serial);
  ASSERT_FALSE(renewed_entry.is_null());
  EXPECT_EQ(renewed_entry["status"], "issued");
  EXPECT_EQ(renewed_entry["requester"], requester);
  EXPECT_EQ(acme_entries().size(), 2u);

  // Revocation by the account that ordered it: the ledger and OCSP say revoked.
  auto revoked = certbot({"revoke", "--cert-path", (live / "cert.pem").string(), "--server", directory(),
                          "--reason", "keycompromise", "--no-delete-after-revoke"});
  ASSERT_EQ(revoked.exit_code, 0) << log_of(revoked) << "\n" << read_file(log_);
  auto after = ledger_entry(second_serial);
  EXPECT_EQ(after["status"], "revoked");
  const std::string ocsp = ocsp_status(live / "cert.pem");
  EXPECT_NE(ocsp.find(": revoked"), std::string::npos) << ocsp;
  // The first certificate was not touched.
  EXPECT_EQ(ledger_entry(first_serial)["status"], "issued");
}

TEST_F(ApplianceAcmeTest, CertbotIsRefusedWithoutEabAndForANameOutsideTheProfile) {
  // external_account_binding defaults to true, and the directory says so: certbot will not register without one.
  auto no_eab = certbot(certonly("www.example.test"));
  EXPECT_NE(no_eab.exit_code, 0);
  EXPECT_NE(log_of(no_eab).find("external account binding"), std::string::npos) << log_of(no_eab);

  // With a key, a name the profile's name policy does not allow is refused at newOrder.
  const auto eab = eab_key();
  auto args = certonly("other.invalid");
  args.insert(args.end(), {"--eab-kid", eab["kid"].get<std::string>(), "--eab-hmac-key", eab["hmac_key"].get<std::string>()});
  auto outside = certbot(args);
  EXPECT_NE(outside.exit_code, 0);
  // Debian 12's certbot 2.1 on Python 3.11 prints "AttributeError: can't set attribute" for every ACME
  // problem it is sent (josepy's immutable Error meets contextlib); its debug log holds the answer it got.
  const std::string log = read_file(dir_ / "certbot/logs/letsencrypt.log");
  EXPECT_NE(log.find("urn:ietf:params:acme:error:rejectedIdentifier"), std::string::npos) << log;
  EXPECT_NE(log.find("is outside profile \\\"web\\\""), std::string::npos) << log;

  // Nothing was issued or recorded for either.
  EXPECT_TRUE(acme_entries().empty());
  EXPECT_FALSE(fs::exists(dir_ / "certbot/config/live/other.invalid"));

  // The operator revokes the key: listed as revoked; an unknown kid is an error.
  const std::string config = (dir_ / "ca.yaml").string();
  auto revoked = hsmca({"acme", "eab", "revoke", "--config", config, eab["kid"].get<std::string>()});
  EXPECT_EQ(revoked.exit_code, 0) << revoked.err;
  auto listed = nlohmann::json::parse(hsmca({"acme", "eab", "list", "--config", config, "--json"}).out);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0]["status"], "revoked");
  EXPECT_NE(hsmca({"acme", "eab", "revoke", "--config", config, "0123"}).exit_code, 0);
}

// The JWS rules at the HTTP layer, with requests signed here as a client would:
// a nonce is good once (a replay is badNonce, answered with a fresh nonce the
// client retries with), and a JWS whose url is not where it was sent is refused.
TEST_F(ApplianceAcmeTest, RefusesAReplayedNonceAndAJwsForAnotherUrl) {
  const auto eab = eab_key();
  const auto key = JwsTestKey::generate(appliance::acme::KeyType::ec_p256);
  const std::string new_account = url("/acme/new-account");
  const auto binding = eab_binding(key, eab, new_account);
  const auto header = [&](const std::string& n, const std::string& u) {
    return nlohmann::json{{"alg", key.alg()}, {"jwk", key.public_jwk()}, {"nonce", n}, {"url", u}};
  };
  // No binding: the server itself refuses, whatever the client believed.
  auto unbound = post_jws("/acme/new-account",
                          make_jws(key, header(fresh_nonce(), new_account), R"({"termsOfServiceAgreed": true})"));
  EXPECT_EQ(unbound.status, 400);
  EXPECT_EQ(nlohmann::json::parse(unbound.body)["type"], "urn:ietf:params:acme:error:externalAccountRequired")
      << unbound.body;
  const std::string nonce = fresh_nonce();
  ASSERT_FALSE(nonce.empty());
  auto made = post_jws("/acme/new-account",
                       make_jws(key, header(nonce, new_account),
                                nlohmann::json{{"termsOfServiceAgreed", true}, {"externalAccountBinding", binding}}.dump()));
  ASSERT_EQ(made.status, 201) << made.body;
  const std::string kid = made.header("Location");
  ASSERT_TRUE(kid.starts_with(url("/acme/account/"))) << made.headers;
  EXPECT_FALSE(made.header("Replay-Nonce").empty());
  EXPECT_NE(made.header("Link").find("rel=\"index\""), std::string::npos) << made.headers;

  // The same nonce again: badNonce, with a fresh nonce to retry with.
  auto replayed = post_jws("/acme/new-account",
                           make_jws(key, header(nonce, new_account), R"({"onlyReturnExisting": true})"));
  EXPECT_EQ(replayed.status, 400);
  EXPECT_EQ(replayed.header("Content-Type"), "application/problem+json");
  EXPECT_EQ(nlohmann::json::parse(replayed.body)["type"], "urn:ietf:params:acme:error:badNonce") << replayed.body;
  const std::string retry = replayed.header("Replay-Nonce");
  ASSERT_FALSE(retry.empty());
  auto retried = post_jws("/acme/new-account", make_jws(key, header(retry, new_account), R"({"onlyReturnExisting": true})"));
  EXPECT_EQ(retried.status, 200) << retried.body;
  EXPECT_EQ(retried.header("Location"), kid);

  // A newOrder whose JWS names another URL (a request captured for one resource, replayed at another).
  const auto kid_header = [&](const std::string& n, const std::string& u) {
    return nlohmann::json{{"alg", key.alg()}, {"kid", kid}, {"nonce", n}, {"url", u}};
  };
  const std::string order = R"({"identifiers": [{"type": "dns", "value": "www.example.test"}]})";
  auto elsewhere = post_jws("/acme/new-order", make_jws(key, kid_header(fresh_nonce(), url("/acme/key-change")), order));
  EXPECT_EQ(elsewhere.status, 403);
  EXPECT_EQ(nlohmann::json::parse(elsewhere.body)["type"], "urn:ietf:params:acme:error:unauthorized") << elsewhere.body;
  EXPECT_FALSE(elsewhere.header("Replay-Nonce").empty());
  // Nothing was ordered: the account's order list is empty.
  auto orders = post_as(key, kid, kid + "/orders", "");
  ASSERT_EQ(orders.status, 200) << orders.body;
  EXPECT_TRUE(nlohmann::json::parse(orders.body)["orders"].empty()) << orders.body;
}

class ApplianceAcmeLegoTest : public ApplianceAcmeTest {
 protected:
  bool settable_dns() const override { return true; }

  ProcessResult lego(const nlohmann::json& eab, std::vector<std::string> args) {
    std::vector<std::string> argv{"lego", "--accept-tos", "--email", "x@example.test", "--server", directory(),
                                  "--path", (dir_ / "lego").string(), "--eab", "--kid", eab["kid"].get<std::string>(),
                                  "--hmac", eab["hmac_key"].get<std::string>()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_process(argv, {{"LEGO_CA_CERTIFICATES", (dir_ / "root.crt").string()},
                              {"EXEC_PATH", (dir_ / "set-txt").string()},
                              {"EXEC_POLLING_INTERVAL", "1"},
                              {"EXEC_PROPAGATION_TIMEOUT", "30"}});
  }
};

// lego (Debian's), a second client nobody here wrote: http-01 for a name, then dns-01 for a wildcard, with the
// TXT record written into the test's DNS server by lego's exec provider.
TEST_F(ApplianceAcmeLegoTest, LegoObtainsANameWithHttp01AndAWildcardWithDns01) {
  const auto eab = eab_key();
  auto http = lego(eab, {"--domains", "web.example.test", "--http", "--http.port", ":" + std::to_string(http01_port_), "run"});
  ASSERT_EQ(http.exit_code, 0) << log_of(http) << "\n" << read_file(log_);
  EXPECT_TRUE(verifies(leaf_of(read_file(dir_ / "lego/certificates/web.example.test.crt"))));

  // The exec provider runs `set-txt present FQDN VALUE` and `set-txt cleanup FQDN VALUE`.
  const std::string management = "http://127.0.0.1:" + std::to_string(management_port_);
  write_file(dir_ / "set-txt",
             "#!/bin/sh\n"
             "case \"$1\" in\n"
             "  present) curl -sf -d \"{\\\"host\\\": \\\"$2\\\", \\\"value\\\": \\\"$3\\\"}\" " + management + "/set-txt ;;\n"
             "  cleanup) curl -sf -d \"{\\\"host\\\": \\\"$2\\\"}\" " + management + "/clear-txt ;;\n"
             "esac\n");
  fs::permissions(dir_ / "set-txt", fs::perms::owner_all);
  auto dns = lego(eab, {"--domains", "*.example.test", "--dns", "exec", "--dns.resolvers",
                        "127.0.0.1:" + std::to_string(dns_port_), "--dns.disable-cp", "run"});
  ASSERT_EQ(dns.exit_code, 0) << log_of(dns) << "\n" << read_file(log_);
  EXPECT_TRUE(verifies(leaf_of(read_file(dir_ / "lego/certificates/_.example.test.crt"))));
  auto san = openssl({"x509", "-in", (dir_ / "lego/certificates/_.example.test.crt").string(), "-noout", "-ext",
                      "subjectAltName"});
  EXPECT_NE(san.out.find("DNS:*.example.test"), std::string::npos) << san.out;

  // Both in the ledger, ordered by the one ACME account lego registered.
  const auto entries = acme_entries();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0]["requester"], entries[1]["requester"]);
  for (const auto& e : entries) EXPECT_EQ(e["status"], "issued");
}

// lego over tls-alpn-01 (it answers on acme.validation.tls_port with the acme-tls/1 certificate), then `renew`
// (a new order by the same account, a new certificate and serial, both issued), then `revoke` (by the account):
// the ledger (with the reason lego sent) and OCSP say revoked, and the first certificate is untouched.
TEST_F(ApplianceAcmeLegoTest, LegoObtainsWithTlsAlpn01RenewsAndRevokes) {
  const auto eab = eab_key();
  const std::vector<std::string> tls{"--domains", "alpn.example.test", "--tls", "--tls.port",
                                     ":" + std::to_string(tls01_port_)};
  const fs::path crt = dir_ / "lego/certificates/alpn.example.test.crt";
  const auto run_with = [&](std::vector<std::string> command) {
    std::vector<std::string> args = tls;
    args.insert(args.end(), command.begin(), command.end());
    return lego(eab, args);
  };

  auto obtained = run_with({"run"});
  ASSERT_EQ(obtained.exit_code, 0) << log_of(obtained) << "\n" << read_file(log_);
  const std::string first = leaf_of(read_file(crt));
  EXPECT_TRUE(verifies(first));
  const std::string first_serial = serial_of(crt);
  auto entry = ledger_entry(first_serial);
  ASSERT_FALSE(entry.is_null()) << "certificate " << first_serial << " is not in the ledger";
  EXPECT_EQ(entry["status"], "issued");
  const std::string requester = entry["requester"].get<std::string>();
  EXPECT_TRUE(requester.starts_with("acme:")) << requester;

  // --days above the validity: renew now.
  auto renewed = run_with({"renew", "--days", "999", "--no-random-sleep"});
  ASSERT_EQ(renewed.exit_code, 0) << log_of(renewed) << "\n" << read_file(log_);
  const std::string second = leaf_of(read_file(crt));
  EXPECT_NE(second, first);
  EXPECT_TRUE(verifies(second));
  const std::string second_serial = serial_of(crt);
  EXPECT_NE(second_serial, first_serial);
  auto renewed_entry = ledger_entry(second_serial);
  ASSERT_FALSE(renewed_entry.is_null()) << "certificate " << second_serial << " is not in the ledger";
  EXPECT_EQ(renewed_entry["status"], "issued");
  EXPECT_EQ(renewed_entry["requester"], requester);
  EXPECT_EQ(ledger_entry(first_serial)["status"], "issued");
  EXPECT_EQ(acme_entries().size(), 2u);

  auto revoked = run_with({"revoke", "--keep", "--reason", "1"});
  ASSERT_EQ(revoked.exit_code, 0) << log_of(revoked) << "\n" << read_file(log_);
  const auto revoked_entry = ledger_entry(second_serial);
  EXPECT_EQ(revoked_entry["status"], "revoked");
  EXPECT_EQ(revoked_entry["revocation_reason"], "keyCompromise");
  const std::string ocsp = ocsp_status(crt);
  EXPECT_NE(ocsp.find(": revoked"), std::string::npos) << ocsp;
  EXPECT_NE(ocsp.find("Reason: keyCompromise"), std::string::npos) << ocsp;
  EXPECT_EQ(ledger_entry(first_serial)["status"], "issued");
}

}  // namespace
}  // namespace hsmca::test
