// ACME end to end with a client nobody here wrote: Debian's certbot obtains,
// renews and revokes a certificate over http-01 from the running appliance;
// names resolve through a dnsmasq the test runs (the appliance's validator
// asks acme.validation.dns_server, never /etc/hosts).
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <cctype>
#include <chrono>
#include <ctime>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "acme_jws_signer.hpp"
#include "hsmca/signer/openssl.hpp"
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
    http01_.reset();
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

  nlohmann::json eab_key(const std::string& label = "web-01") {
    auto r = hsmca({"acme", "eab", "add", "--config", (dir_ / "ca.yaml").string(), "--label", label, "--json"});
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

  // RFC 9773 4.1's certID of a PEM certificate, from what openssl prints of it.
  std::string cert_id_of(const fs::path& pem) {
    auto aki = openssl({"x509", "-in", pem.string(), "-noout", "-ext", "authorityKeyIdentifier"});
    EXPECT_EQ(aki.exit_code, 0) << aki.err;
    std::string key_id = aki.out.substr(aki.out.find('\n') + 1);  // "    AB:CD:…"
    std::erase_if(key_id, [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; });
    std::string serial = serial_of(pem);
    if (serial.size() % 2 != 0) serial = "0" + serial;
    const auto key_octets = signer::from_hex(key_id, ':');
    auto serial_octets = signer::from_hex(serial);
    if (!key_octets || !serial_octets || serial_octets->empty()) {
      ADD_FAILURE() << "openssl printed no hex: " << aki.out << " / " << serial;
      return "";
    }
    if (serial_octets->front() >= 0x80) serial_octets->insert(serial_octets->begin(), 0);  // DER: positive
    return appliance::acme::base64url_encode(*key_octets) + "." + appliance::acme::base64url_encode(*serial_octets);
  }
  // What GET renewalInfo/{certID} answers, and the window's ends in unix seconds.
  struct Window {
    int status = 0;
    std::int64_t start = 0, end = 0, retry_after = 0;
  };
  Window renewal_info(const fs::path& pem) {
    auto a = raw({url("/acme/renewal-info/" + cert_id_of(pem))});
    Window w{a.status};
    if (a.status != 200) return w;
    const auto body = nlohmann::json::parse(a.body);
    w.start = unix_time(body["suggestedWindow"]["start"].get<std::string>());
    w.end = unix_time(body["suggestedWindow"]["end"].get<std::string>());
    w.retry_after = std::stoll(a.header("Retry-After"));
    return w;
  }
  // Seconds since the epoch of an RFC 3339 UTC time, read by date(1).
  std::int64_t unix_time(const std::string& rfc3339) {
    auto r = run_process({"date", "-u", "-d", rfc3339, "+%s"});
    EXPECT_EQ(r.exit_code, 0) << rfc3339 << r.err;
    return std::stoll(r.out);
  }
  std::int64_t not_after_of(const fs::path& pem) {
    auto r = openssl({"x509", "-in", pem.string(), "-noout", "-enddate"});
    return unix_time(r.out.substr(r.out.find('=') + 1));
  }

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

  // An ACME account made here with hand-signed JWS, as a client nobody wrote would make it.
  struct Account {
    JwsTestKey key;
    std::string kid;  // the account URL
  };
  Account jws_account(const std::string& eab_label = "web-01") {
    auto key = JwsTestKey::generate(appliance::acme::KeyType::ec_p256);
    const std::string new_account = url("/acme/new-account");
    const nlohmann::json header{{"alg", key.alg()}, {"jwk", key.public_jwk()}, {"nonce", fresh_nonce()}, {"url", new_account}};
    const nlohmann::json payload{{"termsOfServiceAgreed", true},
                                 {"externalAccountBinding", eab_binding(key, eab_key(eab_label), new_account)}};
    auto made = post_jws("/acme/new-account", make_jws(key, header, payload.dump()));
    EXPECT_EQ(made.status, 201) << made.body;
    return Account{std::move(key), made.header("Location")};
  }
  // A request signed by the account `kid` with `key`, to the full URL `target` (as the server hands them out);
  // an empty payload is a POST-as-GET.
  Answer post_as(const JwsTestKey& key, const std::string& kid, const std::string& target, const std::string& payload) {
    const nlohmann::json header{{"alg", key.alg()}, {"kid", kid}, {"nonce", fresh_nonce()}, {"url", target}};
    return post_jws(target.substr(target.find("/acme/")), make_jws(key, header, payload));
  }
  Answer post_as(const Account& a, const std::string& target, const std::string& payload = "") {
    return post_as(a.key, a.kid, target, payload);
  }
  Answer new_order(const Account& a, const std::string& name) {
    const nlohmann::json identifier{{"type", "dns"}, {"value", name}};
    return post_as(a, url("/acme/new-order"),
                   nlohmann::json{{"identifiers", nlohmann::json::array({identifier})}}.dump());
  }
  // POST-as-GET of `target`: the resource (an order, authorization or challenge).
  nlohmann::json read_as(const Account& a, const std::string& target) {
    auto r = post_as(a, target);
    if (r.status != 200) {
      ADD_FAILURE() << target << ": " << r.status << " " << r.body;
      return nullptr;
    }
    return nlohmann::json::parse(r.body);
  }
  // read_as until the status is neither pending nor processing (validation runs in the background).
  nlohmann::json settled(const Account& a, const std::string& target) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    nlohmann::json j;
    do {
      j = read_as(a, target);
      if (j.is_null() || (j["status"] != "pending" && j["status"] != "processing")) return j;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    } while (std::chrono::steady_clock::now() < deadline);
    ADD_FAILURE() << target << " is still " << j["status"] << " after 20 s";
    return j;
  }
  // The http-01 challenge of an authorization.
  static nlohmann::json http01_of(const nlohmann::json& authz) {
    for (const auto& c : authz.value("challenges", nlohmann::json::array())) {
      if (c.value("type", "") == "http-01") return c;
    }
    ADD_FAILURE() << "no http-01 challenge in " << authz.dump();
    return nullptr;
  }

  // RFC 8555 8.1, worked out here rather than by the server's code: token "." base64url(SHA-256 of the JWK's
  // RFC 7638 form); nlohmann's dump (members sorted, no whitespace) of an EC JWK {crv, kty, x, y} is that form.
  static std::string key_authorization(const std::string& token, const JwsTestKey& key) {
    const std::string canonical = key.public_jwk().dump();
    unsigned char digest[32];
    unsigned int len = 0;
    if (EVP_Digest(canonical.data(), canonical.size(), digest, &len, EVP_sha256(), nullptr) != 1) {
      throw std::runtime_error("EVP_Digest");
    }
    return token + "." + appliance::acme::base64url_encode(std::span<const unsigned char>(digest, len));
  }
  // What http://NAME:http01_port_/.well-known/acme-challenge/TOKEN answers: `body`, from python3's http.server.
  void serve_http01(const std::string& token, const std::string& body) {
    const fs::path root = dir_ / "http01";
    fs::create_directories(root / ".well-known/acme-challenge");
    write_file(root / ".well-known/acme-challenge" / token, body);
    if (http01_) return;
    http01_ = std::make_unique<BackgroundProcess>(
        std::vector<std::string>{"python3", "-m", "http.server", std::to_string(http01_port_), "--bind", "127.0.0.1",
                                 "--directory", root.string()},
        std::map<std::string, std::string>{}, (dir_ / "http01.log").string());
    ASSERT_TRUE(wait_for_port(http01_port_, 10)) << read_file(dir_ / "http01.log");
  }

  // {"csr": base64url DER} for a CSR made by openssl (DIR/FILE.csr) naming `names`, the first also as its CN.
  std::string finalize_payload(const std::string& file, const std::vector<std::string>& names) {
    std::string sans;
    for (const auto& n : names) sans += (sans.empty() ? "DNS:" : ",DNS:") + n;
    openssl_csr(dir_.path(), file, "/CN=" + names.at(0), sans);
    auto der = openssl({"req", "-in", (dir_ / (file + ".csr")).string(), "-outform", "DER", "-out",
                        (dir_ / (file + ".csr.der")).string()});
    EXPECT_EQ(der.exit_code, 0) << der.err;
    return nlohmann::json{{"csr", appliance::acme::base64url_encode(read_file(dir_ / (file + ".csr.der")))}}.dump();
  }

  static std::string problem_type(const Answer& a) {
    auto j = nlohmann::json::parse(a.body, nullptr, false);
    return j.is_object() && j.contains("type") ? j["type"].get<std::string>() : "(no problem document) " + a.body;
  }

  int dns_port_ = free_port();
  int http01_port_ = free_port();
  int tls01_port_ = free_port();
  int management_port_ = free_port();
  std::unique_ptr<BackgroundProcess> dns_;
  std::unique_ptr<BackgroundProcess> http01_;
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

  // Renewal information (RFC 9773), for a certID worked out from what openssl reads in the certificate:
  // a window in the later part of its life, and when to ask again.
  const std::int64_t now = std::time(nullptr);
  const auto window = renewal_info(live / "cert.pem");
  ASSERT_EQ(window.status, 200);
  EXPECT_GT(window.start, now + 45 * 86400) << "90 days: not before day 60";
  EXPECT_GT(window.end, window.start);
  EXPECT_LT(window.end, not_after_of(live / "cert.pem") - 10 * 86400);
  EXPECT_GT(window.retry_after, 0);

  // Renewal: a new order by the same account, a new certificate. Without --no-random-sleep-on-renew, certbot
  // run without a terminal sleeps up to 8 minutes first (certbot/_internal/renewal.py).
  auto renewed = certbot({"renew", "--force-renewal", "--no-random-sleep-on-renew"});
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
  // Renewal information now says: renew at once (a window in the past).
  const auto urgent = renewal_info(live / "cert.pem");
  ASSERT_EQ(urgent.status, 200);
  EXPECT_LT(urgent.end, std::time(nullptr));
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
  // A query on a resource that takes none, even signed for: malformed.
  auto queried = post_jws("/acme/new-order?x=1", make_jws(key, kid_header(fresh_nonce(), url("/acme/new-order?x=1")), order));
  EXPECT_EQ(queried.status, 400) << queried.body;
  EXPECT_EQ(nlohmann::json::parse(queried.body)["type"], "urn:ietf:params:acme:error:malformed") << queried.body;
  // Nothing was ordered: the account's order list is empty.
  auto orders = post_as(key, kid, kid + "/orders", "");
  ASSERT_EQ(orders.status, 200) << orders.body;
  EXPECT_TRUE(nlohmann::json::parse(orders.body)["orders"].empty()) << orders.body;

  // The directory offers its profiles and renewal information; an order may name only an offered profile.
  auto dir = raw({url("/acme/directory")});
  ASSERT_EQ(dir.status, 200) << dir.body;
  const auto directory_json = nlohmann::json::parse(dir.body);
  EXPECT_EQ(directory_json["renewalInfo"], url("/acme/renewal-info"));
  EXPECT_TRUE(directory_json["meta"]["profiles"].contains("web")) << dir.body;
  EXPECT_FALSE(directory_json["meta"]["profiles"].contains("server")) << "its requesters do not list acme";
  const std::string named = R"({"identifiers": [{"type": "dns", "value": "www.example.test"}], "profile": "server"})";
  auto unoffered = post_jws("/acme/new-order", make_jws(key, kid_header(fresh_nonce(), url("/acme/new-order")), named));
  EXPECT_EQ(unoffered.status, 400);
  EXPECT_EQ(nlohmann::json::parse(unoffered.body)["type"], "urn:ietf:params:acme:error:invalidProfile") << unoffered.body;

  // What no resource answers is still ACME's: a problem document with a nonce.
  auto nowhere = raw({url("/acme/no-such-thing")});
  EXPECT_EQ(nowhere.status, 404);
  EXPECT_EQ(nowhere.header("Content-Type"), "application/problem+json");
  EXPECT_FALSE(nowhere.header("Replay-Nonce").empty()) << nowhere.headers;
  auto as_get = raw({url("/acme/order/0123")});
  EXPECT_EQ(as_get.status, 405) << "RFC 8555 6.3: POST-as-GET, not GET";
  EXPECT_EQ(as_get.header("Allow"), "POST");
  EXPECT_FALSE(as_get.header("Replay-Nonce").empty()) << as_get.headers;
  EXPECT_EQ(raw({url("/acme/renewal-info/not-a-cert-id")}).status, 400);
  // renewalInfo asks for no account: an address gets 50 at once, then 10 a second, and then 429 with Retry-After.
  std::vector<std::string> burst{"curl", "-sS", "--max-time", "30", "--cacert", (dir_ / "root.crt").string(),
                                 "--resolve", "ca.example.test:" + std::to_string(https_port_) + ":127.0.0.1",
                                 "-w", "%{http_code}\n"};
  for (int i = 0; i < 200; ++i) burst.insert(burst.end(), {"-o", "/dev/null", url("/acme/renewal-info/x.AQ")});
  const std::string codes = run_process(burst).out;
  EXPECT_NE(codes.find("429"), std::string::npos) << codes;
  EXPECT_TRUE(codes.starts_with("400\n")) << codes;

  // Deactivation (RFC 8555 7.3.6): the account's own key is told its requests are refused; a stranger
  // using its kid learns nothing about the account, only that the signature does not verify.
  auto deactivated = post_as(key, kid, kid, R"({"status": "deactivated"})");
  ASSERT_EQ(deactivated.status, 200) << deactivated.body;
  EXPECT_EQ(nlohmann::json::parse(deactivated.body)["status"], "deactivated");
  auto after = post_as(key, kid, url("/acme/new-order"), order);
  EXPECT_EQ(after.status, 403);
  EXPECT_NE(after.body.find("deactivated"), std::string::npos) << after.body;
  const auto stranger = JwsTestKey::generate(appliance::acme::KeyType::ec_p256);
  auto probing = post_as(stranger, kid, url("/acme/new-order"), order);
  EXPECT_EQ(probing.status, 400);
  EXPECT_EQ(probing.body.find("deactivated"), std::string::npos) << probing.body;
}

// What a name's validation and a CSR's names allow, with a client made here: a challenge answered with another
// key's key authorization (someone who saw the token, not the account key) leaves the authorization and the order
// invalid and issues nothing; a validated order finalized with a CSR naming one more name is badCSR, stays
// unfinalized and issues nothing; the CSR with exactly the order's name then issues.
TEST_F(ApplianceAcmeTest, IssuesNothingForAFailedChallengeOrACsrWithAnExtraName) {
  const auto account = jws_account();

  auto failed = new_order(account, "failed.example.test");
  ASSERT_EQ(failed.status, 201) << failed.body;
  const std::string failed_url = failed.header("Location");
  const std::string failed_authz = nlohmann::json::parse(failed.body)["authorizations"][0].get<std::string>();
  auto challenge = http01_of(read_as(account, failed_authz));
  ASSERT_TRUE(challenge.is_object());
  const std::string token = challenge["token"].get<std::string>(), challenge_url = challenge["url"].get<std::string>();
  const auto someone_else = JwsTestKey::generate(appliance::acme::KeyType::ec_p256);
  serve_http01(token, key_authorization(token, someone_else));
  auto responded = post_as(account, challenge_url, "{}");
  ASSERT_EQ(responded.status, 200) << responded.body;

  auto authz = settled(account, failed_authz);
  EXPECT_EQ(authz["status"], "invalid") << authz.dump();
  auto tried = http01_of(authz);
  EXPECT_EQ(tried["status"], "invalid") << tried.dump();
  EXPECT_EQ(tried["error"]["type"], "urn:ietf:params:acme:error:incorrectResponse") << tried.dump();
  auto order = settled(account, failed_url);
  EXPECT_EQ(order["status"], "invalid") << order.dump();
  EXPECT_FALSE(order.contains("certificate"));
  // Finalize is refused (not ready), and a second response does not validate again.
  auto early = post_as(account, order["finalize"].get<std::string>(), finalize_payload("failed", {"failed.example.test"}));
  EXPECT_EQ(early.status, 403);
  EXPECT_EQ(problem_type(early), "urn:ietf:params:acme:error:orderNotReady");
  auto again = post_as(account, challenge_url, "{}");
  EXPECT_EQ(nlohmann::json::parse(again.body)["status"], "invalid") << again.body;
  EXPECT_TRUE(acme_entries().empty());

  // A name validated for real: the key authorization of this account's key at the token.
  auto made = new_order(account, "csr.example.test");
  ASSERT_EQ(made.status, 201) << made.body;
  const std::string order_url = made.header("Location");
  auto pending = nlohmann::json::parse(made.body);
  const std::string authz_url = pending["authorizations"][0].get<std::string>();
  const std::string finalize_url = pending["finalize"].get<std::string>();
  auto http01 = http01_of(read_as(account, authz_url));
  ASSERT_TRUE(http01.is_object());
  serve_http01(http01["token"].get<std::string>(), key_authorization(http01["token"].get<std::string>(), account.key));
  ASSERT_EQ(post_as(account, http01["url"].get<std::string>(), "{}").status, 200);
  ASSERT_EQ(settled(account, authz_url)["status"], "valid");
  ASSERT_EQ(settled(account, order_url)["status"], "ready");

  // One more name in the CSR, allowed by the profile's name policy but never validated: refused.
  auto extra = post_as(account, finalize_url, finalize_payload("extra", {"csr.example.test", "extra.example.test"}));
  EXPECT_EQ(extra.status, 400);
  EXPECT_EQ(problem_type(extra), "urn:ietf:params:acme:error:badCSR");
  EXPECT_NE(extra.body.find("extra.example.test"), std::string::npos) << extra.body;
  auto after = settled(account, order_url);
  EXPECT_EQ(after["status"], "ready") << after.dump();
  EXPECT_FALSE(after.contains("certificate"));
  EXPECT_TRUE(acme_entries().empty());

  // Exactly the order's name: issued, recorded, and only that name in it.
  auto finalized = post_as(account, finalize_url, finalize_payload("exact", {"csr.example.test"}));
  ASSERT_EQ(finalized.status, 200) << finalized.body;
  auto valid = nlohmann::json::parse(finalized.body);
  EXPECT_EQ(valid["status"], "valid");
  ASSERT_TRUE(valid.contains("certificate")) << finalized.body;
  auto chain = post_as(account, valid["certificate"].get<std::string>());
  ASSERT_EQ(chain.status, 200) << chain.body;
  EXPECT_TRUE(verifies(leaf_of(chain.body)));
  write_file(dir_ / "exact.crt", leaf_of(chain.body));
  auto san = openssl({"x509", "-in", (dir_ / "exact.crt").string(), "-noout", "-ext", "subjectAltName"});
  EXPECT_NE(san.out.find("DNS:csr.example.test"), std::string::npos) << san.out;
  EXPECT_EQ(san.out.find("extra.example.test"), std::string::npos) << san.out;
  const auto entries = acme_entries();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0]["status"], "issued");
  EXPECT_EQ(ledger_entry(serial_of(dir_ / "exact.crt"))["status"], "issued");
}

// acme.orders_per_hour: 2.
class ApplianceAcmeRateLimitTest : public ApplianceAcmeTest {
 protected:
  std::string extra_appliance_yaml() const override {
    return ApplianceAcmeTest::extra_appliance_yaml() + "    orders_per_hour: 2\n";
  }
};

// The third order within the hour is 429 rateLimited with a Retry-After, and is not recorded; the limit is the
// account's, not the CA's: another account still orders.
TEST_F(ApplianceAcmeRateLimitTest, RefusesTheThirdOrderInAnHourWithRetryAfterAndRecordsNothing) {
  const auto account = jws_account();
  std::vector<std::string> made;
  for (const char* name : {"one.example.test", "two.example.test"}) {
    auto r = new_order(account, name);
    ASSERT_EQ(r.status, 201) << r.body;
    made.push_back(r.header("Location"));
  }
  auto third = new_order(account, "three.example.test");
  EXPECT_EQ(third.status, 429) << third.body;
  EXPECT_EQ(problem_type(third), "urn:ietf:params:acme:error:rateLimited");
  const std::string retry_after = third.header("Retry-After");
  ASSERT_FALSE(retry_after.empty()) << third.headers;
  // The oldest counted order leaves the window an hour after it was made.
  EXPECT_GT(std::stoi(retry_after), 3500);
  EXPECT_LE(std::stoi(retry_after), 3600);
  EXPECT_FALSE(third.header("Replay-Nonce").empty());

  auto orders = post_as(account, account.kid + "/orders");
  ASSERT_EQ(orders.status, 200) << orders.body;
  EXPECT_EQ(nlohmann::json::parse(orders.body)["orders"], nlohmann::json(made)) << orders.body;
  EXPECT_EQ(orders.headers.find("rel=\"next\""), std::string::npos) << "one page: no next" << orders.headers;
  // The list's pages (RFC 8555 7.1.2.1): the first is the list, the second empty, a cursor that is no page malformed.
  EXPECT_EQ(nlohmann::json::parse(post_as(account, account.kid + "/orders?cursor=0").body)["orders"], nlohmann::json(made));
  EXPECT_EQ(nlohmann::json::parse(post_as(account, account.kid + "/orders?cursor=1").body)["orders"], nlohmann::json::array());
  auto bad = post_as(account, account.kid + "/orders?cursor=-1");
  EXPECT_EQ(bad.status, 400) << bad.body;
  EXPECT_EQ(problem_type(bad), "urn:ietf:params:acme:error:malformed");

  const auto other = jws_account("web-02");
  EXPECT_EQ(new_order(other, "three.example.test").status, 201);
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
