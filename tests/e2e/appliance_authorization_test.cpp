// The appliance's trust boundary, tried as an attacker would: each test is a
// request an enroll caller (or a revoked one) could send, asserting the
// refusal, its status and error, and that the ledger recorded nothing.
// Checked with curl and openssl against the running appliance.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "appliance_fixture.hpp"

namespace hsmca::test {
namespace {

class ApplianceAuthorizationTest : public ApplianceFixture {
 protected:
  // More profiles, inside the CA file's `profiles` block (make_test_ca's
  // last lines are its `client` profile): one for single-label names of a
  // private network, one for the CA host only.
  std::string extra_ca_yaml() const override {
    return "  internal:\n"
           "    validity_days: 30\n"
           "    extended_key_usage: [server_auth]\n"
           "    requesters: [enroll]\n"
           "    names: {dns: [localhost, registry, corp.test], ip: [10.0.0.0/8]}\n"
           "  offline:\n"
           "    validity_days: 30\n"
           "    extended_key_usage: [client_auth]\n"
           "  open:\n"
           "    validity_days: 30\n"
           "    extended_key_usage: [client_auth]\n"
           "    requesters: [enroll]\n";
  }

  std::vector<std::string> mtls(const std::string& name) {
    return {"--cert", (dir_ / (name + ".crt")).string(), "--key", (dir_ / (name + ".key")).string()};
  }

  // A client certificate NAME.crt for `subject` (and `san`), enrolled over
  // EST with the enroll token under `profile`.
  void enroll_client(const std::string& name, const std::string& subject, const std::string& profile = "client",
                     const std::string& san = "") {
    openssl_csr(dir_.path(), name, subject, san);
    auto r = enroll(est_body(name), bearer(kEnrollToken), "/.well-known/est/" + profile + "/simpleenroll");
    ASSERT_EQ(r.status, 200) << r.body;
    write_file(dir_ / (name + ".crt"), certs_of(r));
  }

  std::string serial_of(const std::string& name) {
    auto r = openssl({"x509", "-in", (dir_ / (name + ".crt")).string(), "-noout", "-serial"});
    std::string serial = r.out.substr(r.out.find('=') + 1);
    while (!serial.empty() && serial.back() == '\n') serial.pop_back();
    return serial;
  }

  // A JSON API enrollment of DIR/NAME.csr under `profile`.
  Http api_enroll(const std::string& name, const std::string& profile, std::vector<std::string> auth) {
    write_file(dir_ / (name + ".json"), nlohmann::json{{"csr", read_file(dir_ / (name + ".csr"))}, {"profile", profile}}.dump());
    std::vector<std::string> args{"-X", "POST", "-H", "Content-Type: application/json", "--data-binary",
                                  "@" + (dir_ / (name + ".json")).string()};
    args.insert(args.end(), auth.begin(), auth.end());
    args.push_back(url("/api/v1/certificates"));
    return curl(args);
  }

  static std::string error_of(const Http& r) {
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    return j.is_object() && j.contains("error") ? j["error"].get<std::string>() : "(no JSON error) " + r.body;
  }

  // The appliance started on DIR/ca.yaml with its appliance block's roles
  // replaced: its exit code and what it printed.
  ProcessResult start_with_roles(const std::string& roles) {
    std::string yaml = read_file(dir_ / "ca.yaml");
    const auto at = yaml.find("    roles: ");
    yaml.replace(at, yaml.find('\n', at) - at, "    roles: " + roles);
    write_file(dir_ / "other-ca.yaml", yaml);
    return run_process({built_program("hsmca-appliance"), "--config", (dir_ / "other-ca.yaml").string()},
                       {{"HSMCA_PIN", kUserPin}});
  }
};

// Finding 1: `hsmca revoke` a client certificate, then use it for mTLS.
TEST_F(ApplianceAuthorizationTest, ARevokedClientCertificateNoLongerAuthenticates) {
  enroll_client("device", "/CN=device-1");
  openssl_csr(dir_.path(), "web", "/CN=web.example.test", "DNS:web.example.test");
  ASSERT_EQ(enroll(est_body("web"), mtls("device")).status, 200) << "the certificate works before its revocation";

  auto cli = hsmca({"revoke", "--config", (dir_ / "ca.yaml").string(), "--serial", serial_of("device"), "--reason",
                    "keyCompromise"});
  ASSERT_EQ(cli.exit_code, 0) << cli.err;
  // Another process revoked it: the appliance's watcher sees it within a second.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const auto before = ledger().size();
  auto est = enroll(est_body("web"), mtls("device"));
  EXPECT_EQ(est.status, 401) << est.body;
  EXPECT_EQ(error_of(est), "credential_refused");
  EXPECT_NE(est.body.find("revoked"), std::string::npos) << est.body;
  auto api = api_enroll("web", "server", mtls("device"));
  EXPECT_EQ(api.status, 401) << api.body;
  auto show = curl({"--cert", (dir_ / "device.crt").string(), "--key", (dir_ / "device.key").string(),
                    url("/api/v1/certificates/" + serial_of("device"))});
  EXPECT_EQ(show.status, 401) << "reading certificates relies on the credential too: " << show.body;
  EXPECT_EQ(ledger().size(), before) << "a refused request records nothing";
}

TEST_F(ApplianceAuthorizationTest, AnAdminCertificateRevokedThroughTheApiIsShutOutAtOnce) {
  const std::string victim = issue("victim");
  ASSERT_EQ(revoke(victim, mtls("ops")).status, 200) << "ops.crt is pinned as admin";
  const std::string other = issue("other");
  ASSERT_EQ(revoke(serial_of("ops"), bearer(kAdminToken), R"({"reason": "keyCompromise"})").status, 200);
  // No wait: this process revoked it, so its very next check knows.
  auto after = revoke(other, mtls("ops"));
  EXPECT_EQ(after.status, 401) << after.body;
  EXPECT_EQ(error_of(after), "credential_refused");
  for (const auto& e : ledger()) {
    if (e["serial"] == other) {
      EXPECT_EQ(e["status"], "issued") << "the refused revocation changed nothing";
    }
  }
}

// Finding 2: an enroll-only caller enrolls CN=ops-admin and uses it as admin.
TEST_F(ApplianceAuthorizationTest, EnrollingTheAdminsCommonNameGrantsNoAdminRole) {
  const std::string target = issue("target");
  enroll_client("fake-admin", "/CN=ops-admin");  // enrolling the name is allowed; it is only a name
  auto est = revoke(target, mtls("fake-admin"));
  EXPECT_EQ(est.status, 403) << est.body;
  EXPECT_EQ(error_of(est), "forbidden");
  // The same through the JSON API's profile field.
  openssl_csr(dir_.path(), "fake2", "/CN=ops-admin");
  auto made = api_enroll("fake2", "client", bearer(kEnrollToken));
  ASSERT_EQ(made.status, 201) << made.body;
  write_file(dir_ / "fake2.crt", nlohmann::json::parse(made.body)["certificate"].get<std::string>());
  EXPECT_EQ(revoke(target, mtls("fake2")).status, 403);
  for (const auto& e : ledger()) {
    if (e["serial"] == target) {
      EXPECT_EQ(e["status"], "issued");
    }
  }
}

TEST_F(ApplianceAuthorizationTest, ARoleGrantedByCommonNameWhileClientCaTrustsThisCaIsRefusedAtStartUp) {
  auto bare = start_with_roles(R"({enroll: ["*"], admin: ["ops-admin"]})");
  EXPECT_EQ(bare.exit_code, 1) << bare.out << bare.err;
  EXPECT_NE(bare.err.find("appliance.auth.roles.admin: 'ops-admin'"), std::string::npos) << bare.err;
  EXPECT_NE(bare.err.find("sha256:"), std::string::npos) << "says what to write instead: " << bare.err;
  EXPECT_EQ(std::count(bare.err.begin(), bare.err.end(), '\n'), 1) << bare.err;

  auto star = start_with_roles(R"({admin: ["*"]})");
  EXPECT_EQ(star.exit_code, 1);
  EXPECT_NE(star.err.find("may only be granted the enroll role"), std::string::npos) << star.err;
}

// Finding 3: simplereenroll to another profile, with new names, or with a
// certificate that fails client verification.
TEST_F(ApplianceAuthorizationTest, ReenrollmentCannotChangeTheProfileOrTheNames) {
  // A profile with no name policy: only the renewal rule stands between the holder and new names.
  enroll_client("device", "/CN=device-1", "open", "DNS:device-1");
  const auto before = ledger().size();

  openssl_csr(dir_.path(), "grab", "/CN=device-1", "DNS:device-1,DNS:*.example.test,IP:10.1.2.3");
  auto server = enroll(est_body("grab"), mtls("device"), "/.well-known/est/server/simplereenroll");
  EXPECT_EQ(server.status, 403) << server.body;
  EXPECT_EQ(error_of(server), "renewal_refused");

  auto names = enroll(est_body("grab"), mtls("device"), "/.well-known/est/simplereenroll");
  EXPECT_EQ(names.status, 422) << names.body;
  EXPECT_EQ(error_of(names), "renewal_mismatch");

  // The appliance's own TLS certificate (serverAuth only) does not pass client verification.
  openssl_csr(dir_.path(), "tls", "/CN=ca.example.test", "DNS:ca.example.test,IP:127.0.0.1");
  auto tls = enroll(est_body("tls"), {"--cert", (dir_ / "server-chain.pem").string(), "--key",
                                      (dir_ / "server.key").string()},
                    "/.well-known/est/simplereenroll");
  EXPECT_EQ(tls.status, 403) << tls.body;
  EXPECT_EQ(error_of(tls), "renewal_refused");
  EXPECT_EQ(ledger().size(), before) << "refused renewals record nothing";

  // The holder with the same names renews under the same profile.
  openssl_csr(dir_.path(), "same", "/CN=device-1", "DNS:device-1");
  auto same = enroll(est_body("same"), mtls("device"), "/.well-known/est/open/simplereenroll");
  ASSERT_EQ(same.status, 200) << same.body;
  EXPECT_EQ(ledger().back()["profile"], "open");
}

// Finding 4: a profile carrying ocsp_signing would make any enroll caller a responder.
TEST_F(ApplianceAuthorizationTest, AProfileWithOcspSigningIsRefusedWhenTheCaFileIsRead) {
  std::string yaml = read_file(dir_ / "ca.yaml");
  yaml.replace(yaml.find("  offline:\n"), 0,
               "  responder:\n    extended_key_usage: [ocsp_signing]\n    requesters: [enroll]\n");
  write_file(dir_ / "ocsp-ca.yaml", yaml);
  auto app = run_process({built_program("hsmca-appliance"), "--config", (dir_ / "ocsp-ca.yaml").string()},
                         {{"HSMCA_PIN", kUserPin}});
  EXPECT_EQ(app.exit_code, 1);
  EXPECT_NE(app.err.find("ocsp_signing"), std::string::npos) << app.err;
  EXPECT_NE(app.err.find("ocsp-signer"), std::string::npos) << "names the ceremony: " << app.err;
  openssl_csr(dir_.path(), "resp", "/CN=responder");
  auto cli = hsmca({"sign", "--config", (dir_ / "ocsp-ca.yaml").string(), "--csr", (dir_ / "resp.csr").string(),
                    "--profile", "responder", "--out", (dir_ / "resp.crt").string()});
  EXPECT_NE(cli.exit_code, 0);
  EXPECT_FALSE(fs::exists(dir_ / "resp.crt"));
}

// Finding 5: IP, URI and email names outside the profile.
TEST_F(ApplianceAuthorizationTest, NamesOfEveryKindOutsideTheProfileAreRefused) {
  const auto before = ledger().size();
  for (const std::string san : {"IP:8.8.8.8", "IP:127.0.0.1", "URI:spiffe://prod/admin", "email:ceo@bank.com"}) {
    SCOPED_TRACE(san);
    openssl_csr(dir_.path(), "web", "/CN=web.example.test", "DNS:web.example.test," + san);
    auto r = enroll(est_body("web"), bearer(kEnrollToken));
    EXPECT_EQ(r.status, 422) << r.body;
    EXPECT_EQ(error_of(r), "name_policy");
    EXPECT_NE(r.body.find("server"), std::string::npos) << "names the profile: " << r.body;
  }
  // A names block that lists only the CN's rule (the client profile) allows no name of any kind.
  openssl_csr(dir_.path(), "person", "/CN=Alice Smith", "URI:spiffe://prod/ns/admin,email:ceo@bank.com");
  auto person = enroll(est_body("person"), bearer(kEnrollToken), "/.well-known/est/client/simpleenroll");
  EXPECT_EQ(person.status, 422) << person.body;
  EXPECT_EQ(error_of(person), "name_policy");
  // The internal profile allows 10.0.0.0/8 and says so when refusing another address.
  openssl_csr(dir_.path(), "ip", "/CN=registry", "DNS:registry,IP:192.168.1.1");
  auto ip = api_enroll("ip", "internal", bearer(kEnrollToken));
  EXPECT_EQ(ip.status, 422) << ip.body;
  EXPECT_NE(ip.body.find("10.0.0.0/8"), std::string::npos) << ip.body;
  EXPECT_EQ(ledger().size(), before);
}

// Finding 6: common names that are no valid name, or two of them.
TEST_F(ApplianceAuthorizationTest, CommonNamesMustBeNamesTheProfileAllowsAndOnlyOne) {
  const auto before = ledger().size();
  for (const std::string subject : {"/CN=evil.com.", "/CN=*.com", "/CN=web.example.test/CN=ops-admin",
                                    "/CN=ops-admin/CN=web.example.test"}) {
    SCOPED_TRACE(subject);
    openssl_csr(dir_.path(), "cn", subject, "DNS:web.example.test");
    auto r = enroll(est_body("cn"), bearer(kEnrollToken));
    EXPECT_EQ(r.status, 422) << r.body;
    EXPECT_EQ(error_of(r), "name_policy");
  }
  EXPECT_EQ(ledger().size(), before);
}

TEST_F(ApplianceAuthorizationTest, SingleLabelNamesIssueUnderAProfileThatListsThem) {
  for (const std::string name : {"localhost", "registry"}) {
    SCOPED_TRACE(name);
    openssl_csr(dir_.path(), name, "/CN=" + name, "DNS:" + name + ",IP:10.0.0.7");
    auto r = api_enroll(name, "internal", bearer(kEnrollToken));
    ASSERT_EQ(r.status, 201) << r.body;
    const std::string pem = nlohmann::json::parse(r.body)["certificate"].get<std::string>();
    EXPECT_TRUE(verifies(pem));
    write_file(dir_ / (name + ".crt"), pem);
    auto text = openssl({"x509", "-in", (dir_ / (name + ".crt")).string(), "-noout", "-ext", "subjectAltName"});
    EXPECT_NE(text.out.find("DNS:" + name), std::string::npos) << text.out;
  }
  openssl_csr(dir_.path(), "build01", "/CN=build01", "DNS:build01");
  auto unlisted = api_enroll("build01", "internal", bearer(kEnrollToken));
  EXPECT_EQ(unlisted.status, 422) << unlisted.body;
  // A profile with no name policy takes any valid name, single labels too.
  auto open = api_enroll("build01", "open", bearer(kEnrollToken));
  EXPECT_EQ(open.status, 201) << open.body;
}

TEST_F(ApplianceAuthorizationTest, AProfileWithoutRequestersIsForTheCaHostOnly) {
  openssl_csr(dir_.path(), "op", "/CN=operator-1");
  const auto before = ledger().size();
  for (const char* token : {kEnrollToken, kAdminToken}) {
    auto r = api_enroll("op", "offline", bearer(token));
    EXPECT_EQ(r.status, 403) << r.body;
    EXPECT_EQ(error_of(r), "profile_forbidden");
    EXPECT_NE(r.body.find("hsmca sign"), std::string::npos) << "says who may: " << r.body;
  }
  // Who else may have a profile is not told: the list may hold admins' pins.
  auto internal = api_enroll("op", "internal", bearer(kAdminToken));
  EXPECT_EQ(internal.status, 403) << internal.body;
  EXPECT_EQ(internal.body.find("enroll"), std::string::npos) << internal.body;
  auto est = enroll(est_body("op"), bearer(kEnrollToken), "/.well-known/est/offline/simpleenroll");
  EXPECT_EQ(est.status, 403) << est.body;
  EXPECT_EQ(ledger().size(), before);
  // The operator on the CA host may.
  auto cli = hsmca({"sign", "--config", (dir_ / "ca.yaml").string(), "--csr", (dir_ / "op.csr").string(), "--profile",
                    "offline", "--out", (dir_ / "op.crt").string()});
  EXPECT_EQ(cli.exit_code, 0) << cli.err;
}

// A client certificate of another CA in client_ca is checked against that
// CA's CRL (appliance.auth.client_crls), re-read when the file changes.
TEST_F(ApplianceAuthorizationTest, AClientCertificateAnotherCaRevokedIsShutOut) {
  const std::string d = dir_.path().string();
  auto run = [](const std::vector<std::string>& args) {
    auto r = openssl(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  };
  run({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", d + "/partner.key",
       "-subj", "/CN=Partner CA", "-days", "2", "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
       "keyUsage=critical,keyCertSign,cRLSign", "-out", d + "/partner.crt"});
  openssl_csr(dir_.path(), "pdev", "/CN=partner-dev");
  write_file(dir_ / "pdev.ext", "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n");
  run({"x509", "-req", "-in", d + "/pdev.csr", "-CA", d + "/partner.crt", "-CAkey", d + "/partner.key", "-set_serial",
       "0x1234", "-days", "1", "-extfile", d + "/pdev.ext", "-out", d + "/pdev.crt"});
  // The partner's CRLs, made as `openssl ca` makes them.
  write_file(dir_ / "index.txt", "");
  write_file(dir_ / "crlnumber", "01\n");
  write_file(dir_ / "partner.cnf", "[ca]\ndefault_ca = p\n[p]\ndatabase = " + d + "/index.txt\ncrlnumber = " + d +
                                       "/crlnumber\ndefault_md = sha256\ndefault_crl_days = 1\n");
  const std::vector<std::string> ca{"ca", "-config", d + "/partner.cnf", "-keyfile", d + "/partner.key", "-cert",
                                    d + "/partner.crt"};
  auto gencrl = [&](const std::string& out) {
    auto args = ca;
    args.insert(args.end(), {"-gencrl", "-out", out});
    run(args);
  };
  gencrl(d + "/partner.crl");
  write_file(dir_ / "clients-ca.pem", read_file(dir_ / "clients-ca.pem") + read_file(dir_ / "partner.crt"));
  std::string yaml = read_file(dir_ / "ca.yaml");
  yaml.replace(yaml.find("    client_ca: clients-ca.pem\n"), 30, "    client_ca: clients-ca.pem\n    client_crls: [partner.crl]\n");
  write_file(dir_ / "ca.yaml", yaml);
  appliance_.reset();
  start();

  openssl_csr(dir_.path(), "web", "/CN=web.example.test", "DNS:web.example.test");
  ASSERT_EQ(enroll(est_body("web"), mtls("pdev")).status, 200) << "a partner device enrolls while its CA stands by it";
  auto revoke_args = ca;
  revoke_args.insert(revoke_args.end(), {"-revoke", d + "/pdev.crt"});
  run(revoke_args);
  gencrl(d + "/partner.crl.new");
  fs::rename(dir_ / "partner.crl.new", dir_ / "partner.crl");
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // the file is looked at once a second
  const auto before = ledger().size();
  auto after = enroll(est_body("web"), mtls("pdev"));
  EXPECT_EQ(after.status, 401) << after.body;
  EXPECT_EQ(error_of(after), "credential_refused");
  EXPECT_NE(after.body.find("CRL of CN=Partner CA"), std::string::npos) << after.body;
  EXPECT_EQ(ledger().size(), before);
}

}  // namespace
}  // namespace hsmca::test
