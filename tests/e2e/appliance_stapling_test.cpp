// Revocation as a relying party behind a stapling web server sees it: nginx
// (Debian's package) staples the appliance's OCSP answers for a certificate
// the appliance issued; after a revocation and a reload of nginx, the answer
// nginx fetches must say revoked — a "good" would be stapled for hours and
// accepted by clients (curl --cert-status). nginx staples only good answers:
// given "revoked" it logs it and staples nothing, and curl --cert-status
// refuses the server.
#include <gtest/gtest.h>

#include <signal.h>

#include <chrono>
#include <regex>
#include <set>
#include <string>
#include <thread>

#include "appliance_fixture.hpp"

namespace hsmca::test {
namespace {

class ApplianceStaplingTest : public ApplianceFixture {
 protected:
  void SetUp() override {
    ApplianceFixture::SetUp();
    if (HasFatalFailure()) return;
    serial_ = issue("web");
    write_file(dir_ / "web-chain.pem", read_file(dir_ / "web.crt") + read_file(dir_ / "issuing.crt"));
    write_file(dir_ / "chain.pem", read_file(dir_ / "issuing.crt") + read_file(dir_ / "root.crt"));
    fs::create_directories(dir_ / "nginx");
    port_ = free_port();
    const std::string d = (dir_ / "nginx").string();
    write_file(dir_ / "nginx" / "nginx.conf",
               "daemon off;\n"
               "worker_processes 1;\n"
               "error_log " + d + "/error.log info;\n"
               "pid " + d + "/nginx.pid;\n"
               "events { worker_connections 64; }\n"
               "http {\n"
               "  access_log off;\n"
               "  client_body_temp_path " + d + "/body; proxy_temp_path " + d + "/proxy;\n"
               "  fastcgi_temp_path " + d + "/fastcgi; uwsgi_temp_path " + d + "/uwsgi; scgi_temp_path " + d + "/scgi;\n"
               "  server {\n"
               "    listen 127.0.0.1:" + std::to_string(port_) + " ssl;\n"
               "    server_name web.example.test;\n"
               "    ssl_certificate " + (dir_ / "web-chain.pem").string() + ";\n"
               "    ssl_certificate_key " + (dir_ / "web.key").string() + ";\n"
               "    ssl_stapling on;\n"
               "    ssl_stapling_verify on;\n"
               "    ssl_trusted_certificate " + (dir_ / "chain.pem").string() + ";\n"
               "    ssl_stapling_responder " + plain_url("/ocsp") + ";\n"
               "    location / { return 200 \"stapled\\n\"; }\n"
               "  }\n"
               "}\n");
    nginx_ = std::make_unique<BackgroundProcess>(
        std::vector<std::string>{"nginx", "-p", d, "-c", (dir_ / "nginx" / "nginx.conf").string()},
        std::map<std::string, std::string>{}, (dir_ / "nginx" / "stdout.log").string());
    ASSERT_TRUE(wait_for_port(port_, 10)) << read_file(dir_ / "nginx" / "error.log");
  }

  void TearDown() override {
    nginx_.reset();
    ApplianceFixture::TearDown();
  }

  // Handshakes asking for a staple until one carries a staple or nginx logs
  // the status of the answer it fetched and would not staple: the statuses
  // seen ("good", "revoked"), plus "logged:revoked" for the log line.
  std::set<std::string> staples_seen() {
    std::set<std::string> seen;
    const fs::path log = dir_ / "nginx" / "error.log";
    const std::size_t log_start = fs::exists(log) ? read_file(log).size() : 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (std::chrono::steady_clock::now() < deadline) {
      auto r = run_process({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(port_), "-servername",
                            "web.example.test", "-status", "-CAfile", (dir_ / "root.crt").string()},
                           {}, "");
      std::smatch m;
      if (std::regex_search(r.out, m, std::regex(R"(Cert Status: (\w+))"))) seen.insert(m[1]);
      if (read_file(log).substr(log_start).find("certificate status \"revoked\" in the OCSP response") !=
          std::string::npos) {
        seen.insert("logged:revoked");
      }
      if (!seen.empty()) return seen;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return seen;
  }

  // curl as a client that insists on a good staple.
  int curl_cert_status() {
    return run_process({"curl", "-sS", "--max-time", "10", "--cert-status", "--cacert", (dir_ / "root.crt").string(),
                        "--resolve", "web.example.test:" + std::to_string(port_) + ":127.0.0.1",
                        "https://web.example.test:" + std::to_string(port_) + "/"})
        .exit_code;
  }

  void reload_nginx() {
    ASSERT_EQ(::kill(nginx_->pid(), SIGHUP), 0);
    // The new workers start with no staple; give the master time to swap them.
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }

  std::string serial_;
  int port_ = 0;
  std::unique_ptr<BackgroundProcess> nginx_;
};

TEST_F(ApplianceStaplingTest, AfterACliRevocationAndAQuietPeriodNginxNeverStaplesGood) {
  ASSERT_EQ(staples_seen(), std::set<std::string>{"good"});
  EXPECT_EQ(curl_cert_status(), 0) << "a good staple is accepted";

  auto cli = hsmca({"revoke", "--config", (dir_ / "ca.yaml").string(), "--serial", serial_, "--reason", "keyCompromise"});
  ASSERT_EQ(cli.exit_code, 0) << cli.err;
  // Nobody asks the appliance anything for a while.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  reload_nginx();
  EXPECT_EQ(staples_seen(), std::set<std::string>{"logged:revoked"}) << "the first answer nginx fetched said revoked";
  EXPECT_NE(curl_cert_status(), 0) << "curl --cert-status refuses the revoked certificate";
}

TEST_F(ApplianceStaplingTest, AfterAnApiRevocationNginxNeverStaplesGoodAgain) {
  ASSERT_EQ(staples_seen(), std::set<std::string>{"good"});
  ASSERT_EQ(revoke(serial_, bearer(kAdminToken), R"({"reason": "keyCompromise"})").status, 200);
  reload_nginx();
  EXPECT_EQ(staples_seen(), std::set<std::string>{"logged:revoked"});
  EXPECT_NE(curl_cert_status(), 0);
}

}  // namespace
}  // namespace hsmca::test
