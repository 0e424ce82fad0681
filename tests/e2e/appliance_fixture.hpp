#pragma once
// The appliance as its clients see it, shared by the e2e tests that start one:
// hsmca-appliance on port 0 against SoftHSM, spoken to with curl and openssl.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "cli_runner.hpp"

namespace hsmca::test {

namespace fs = std::filesystem;

constexpr const char* kEnrollToken = "enroll-token-5f2b9c";
constexpr const char* kAdminToken = "admin-token-77d1e0";

struct Http {
  int status = 0;
  std::string body;
};

// A running hsmca-appliance on ports the kernel chose, in its own CA
// directory: the TLS certificate and an ops-admin client certificate issued
// by that CA (admin by its fingerprint: client_ca trusts this CA, so a CN
// grants nothing), and bearer tokens for the enroll and admin roles.
class ApplianceFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    make_test_ca(dir_.path(),
                 extra_ca_yaml() +
                 "appliance:\n"
                 "  listen: 127.0.0.1:0\n"
                 "  public_listen: 127.0.0.1:0\n"
                 "  tls: {certificate: server-chain.pem, key: server.key}\n"
                 "  auth:\n"
                 "    client_ca: clients-ca.pem\n"
                 "    roles: {enroll: [\"*\"" + extra_enroll_names() + "], admin: [\"OPS-FINGERPRINT\"]}\n"
                 "    tokens_file: api-tokens\n" +
                 extra_auth_yaml() +
                 "  default_profile: server\n"
                 "  limits: {read_timeout_ms: 1500, idle_timeout_ms: 5000, shutdown_grace_ms: 5000}\n" +
                 extra_appliance_yaml());
    // The appliance's own TLS certificate, issued by the CA it serves.
    openssl_csr(dir_.path(), "server", "/CN=ca.example.test", "DNS:ca.example.test,IP:127.0.0.1");
    sign_with_cli("server", "host", "server-chain.pem");
    // Client certificates for mTLS.
    openssl_csr(dir_.path(), "ops", "/CN=ops-admin");
    sign_with_cli("ops", "client", "ops.crt");
    // The admin role pinned to ops.crt, as README tells operators to do.
    std::string yaml = read_file(dir_ / "ca.yaml");
    yaml.replace(yaml.find("OPS-FINGERPRINT"), 15, "sha256:" + openssl_fingerprint(dir_ / "ops.crt"));
    write_file(dir_ / "ca.yaml", yaml);
    write_file(dir_ / "clients-ca.pem", read_file(dir_ / "issuing.crt") + read_file(dir_ / "root.crt"));
    write_secret_file(dir_ / "api-tokens", "# role sha256(token)\n"
                                           "enroll " + sha256_hex(kEnrollToken) + "\n"
                                           "admin " + sha256_hex(kAdminToken) + "  # ops automation\n");
    start();
  }

  void TearDown() override { appliance_.reset(); }

  // More of the CA file (top-level blocks), for suites that need them.
  virtual std::string extra_ca_yaml() const { return ""; }
  // More of the appliance block (indented two spaces).
  virtual std::string extra_appliance_yaml() const { return ""; }
  // More of appliance.auth (indented four spaces), and more names for the
  // enroll role after "*" (each starting with ", ").
  virtual std::string extra_auth_yaml() const { return ""; }
  virtual std::string extra_enroll_names() const { return ""; }

  void sign_with_cli(const std::string& name, const std::string& profile, const std::string& out) {
    auto r = hsmca({"sign", "--config", (dir_ / "ca.yaml").string(), "--csr", (dir_ / (name + ".csr")).string(),
                    "--profile", profile, "--out", (dir_ / out).string(), "--chain"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  void start() {
    log_ = dir_ / ("appliance-" + std::to_string(++starts_) + ".log");
    SoftHsmEnv::get();
    appliance_ = std::make_unique<BackgroundProcess>(
        std::vector<std::string>{built_program("hsmca-appliance"), "--config", (dir_ / "ca.yaml").string()},
        std::map<std::string, std::string>{{"HSMCA_PIN", kUserPin}}, log_.string());
    std::regex https("listening https 127\\.0\\.0\\.1:(\\d+)"), http("listening http 127\\.0\\.0\\.1:(\\d+)");
    for (int i = 0; i < 500; ++i) {
      std::string log = fs::exists(log_) ? read_file(log_) : "";
      std::smatch a, b;
      if (std::regex_search(log, a, https) && std::regex_search(log, b, http)) {
        https_port_ = std::stoi(a[1]);
        http_port_ = std::stoi(b[1]);
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    FAIL() << "the appliance did not start:\n" << (fs::exists(log_) ? read_file(log_) : "(no log)");
  }

  std::string url(const std::string& path) const {
    return "https://ca.example.test:" + std::to_string(https_port_) + path;
  }
  std::string plain_url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(http_port_) + path;
  }

  // curl, trusting only the root, checking the hostname.
  Http curl(std::vector<std::string> args) {
    fs::path body = dir_ / ("body-" + std::to_string(++requests_));
    std::vector<std::string> argv{"curl", "-sS", "--max-time", "30", "--cacert", (dir_ / "root.crt").string(), "--resolve",
                                  "ca.example.test:" + std::to_string(https_port_) + ":127.0.0.1", "-o", body.string(),
                                  "-w", "%{http_code}"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = run_process(argv);
    Http out;
    out.status = r.out.empty() ? 0 : std::stoi(r.out);
    out.body = fs::exists(body) ? read_file(body) : "";
    return out;
  }

  // base64 DER PKCS#10 of DIR/NAME.csr, as EST sends it.
  fs::path est_body(const std::string& name) {
    auto der = openssl({"req", "-in", (dir_ / (name + ".csr")).string(), "-outform", "DER", "-out",
                        (dir_ / (name + ".der")).string()});
    EXPECT_EQ(der.exit_code, 0) << der.err;
    auto b64 = openssl({"base64", "-in", (dir_ / (name + ".der")).string(), "-out", (dir_ / (name + ".b64")).string()});
    EXPECT_EQ(b64.exit_code, 0) << b64.err;
    return dir_ / (name + ".b64");
  }

  Http enroll(const fs::path& body, std::vector<std::string> auth, const std::string& path = "/.well-known/est/simpleenroll") {
    std::vector<std::string> args{"-X", "POST", "-H", "Content-Type: application/pkcs10", "--data-binary", "@" + body.string()};
    args.insert(args.end(), auth.begin(), auth.end());
    args.push_back(url(path));
    return curl(args);
  }

  std::vector<std::string> bearer(const char* token) { return {"-H", std::string("Authorization: Bearer ") + token}; }

  // A server certificate for `name`.example.test through the JSON API: its serial; DIR/NAME.crt.
  std::string issue(const std::string& name) {
    openssl_csr(dir_.path(), name, "/CN=" + name + ".example.test", "DNS:" + name + ".example.test");
    write_file(dir_ / (name + ".json"), nlohmann::json{{"csr", read_file(dir_ / (name + ".csr"))}}.dump());
    auto made = curl({"-X", "POST", "-H", "Content-Type: application/json", "-H",
                      std::string("Authorization: Bearer ") + kEnrollToken, "--data-binary",
                      "@" + (dir_ / (name + ".json")).string(), url("/api/v1/certificates")});
    EXPECT_EQ(made.status, 201) << made.body;
    auto j = nlohmann::json::parse(made.body);
    write_file(dir_ / (name + ".crt"), j["certificate"].get<std::string>());
    return j["serial"].get<std::string>();
  }

  Http revoke(const std::string& serial, std::vector<std::string> auth, const std::string& body = "") {
    std::vector<std::string> args{"-X", "POST"};
    if (!body.empty()) {
      write_file(dir_ / "revoke.json", body);
      args.insert(args.end(), {"-H", "Content-Type: application/json", "--data-binary", "@" + (dir_ / "revoke.json").string()});
    }
    args.insert(args.end(), auth.begin(), auth.end());
    args.push_back(url("/api/v1/certificates/" + serial + "/revoke"));
    return curl(args);
  }

  // The certificates in an EST certs-only answer, as PEM.
  std::string certs_of(const Http& answer) {
    fs::path b64 = dir_ / ("p7-" + std::to_string(++requests_) + ".b64");
    write_file(b64, answer.body);
    // -A: one line, as RFC 8951 requires; a line break would cut the DER short.
    auto der = openssl({"base64", "-d", "-A", "-in", b64.string(), "-out", b64.string() + ".der"});
    EXPECT_EQ(der.exit_code, 0);
    auto certs = openssl({"pkcs7", "-inform", "DER", "-in", b64.string() + ".der", "-print_certs"});
    EXPECT_EQ(certs.exit_code, 0) << certs.err;
    return certs.out;
  }

  bool verifies(const std::string& pem) {
    fs::path f = dir_ / ("leaf-" + std::to_string(++requests_) + ".pem");
    write_file(f, pem);
    return openssl({"verify", "-x509_strict", "-CAfile", (dir_ / "root.crt").string(), "-untrusted",
                    (dir_ / "issuing.crt").string(), f.string()})
               .exit_code == 0;
  }

  nlohmann::json ledger() {
    auto r = hsmca({"certs", "list", "--config", (dir_ / "ca.yaml").string(), "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out);
  }

  bool healthy() { return run_process({"curl", "-sf", plain_url("/healthz")}).exit_code == 0; }

  TempDir dir_;
  fs::path log_;
  std::unique_ptr<BackgroundProcess> appliance_;
  int https_port_ = 0;
  int http_port_ = 0;
  int requests_ = 0;
  int starts_ = 0;
};

}  // namespace hsmca::test
