// The root's CRL ceremony and the OCSP responder ceremony on a CA made with
// hsmca alone, checked with stock openssl as the relying party (and, for the
// responder, as the OCSP server signing through libp11's engine).
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <regex>

#include "cli_runner.hpp"

namespace hsmca::test {
namespace {

namespace fs = std::filesystem;

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// Hex digits only, lowercase: "SHA256 Fingerprint=AB:CD" -> "abcd", "serial=0A1B" -> "0a1b".
std::string hex_after_equals(const std::string& line) {
  std::string out;
  for (char c : line.substr(line.find('=') + 1)) {
    if (std::isxdigit(static_cast<unsigned char>(c))) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

// "Nov 22 10:30:00 2026 GMT", as openssl prints times -> "2026-11-22T10:30:00Z".
std::string rfc3339_of_openssl_time(const std::string& text) {
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%b %d %H:%M:%S %Y GMT", &tm);
  if (end == nullptr || *end != '\0') return "unreadable: " + text;
  char out[32];
  std::strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return out;
}

std::size_t lines(const std::string& s) { return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n')); }

class RevocationCeremonyTest : public ::testing::Test {
 protected:
  void SetUp() override { make_test_ca(dir_.path()); }

  // A CRL ceremony file signed by the root: `crl_body` are the lines under
  // `crl:` (indented two spaces), `outputs` the flow mapping's contents.
  fs::path crl_file(const std::string& name, const std::string& crl_body, const std::string& outputs) {
    write_file(dir_ / name,
               "ceremony: crl\n"
               "issuer:\n"
               "  certificate: root.crt\n"
               "  pkcs11: {module: " HSMCA_SOFTHSM_MODULE ", token: Root Token}\n"
               "  key_label: root-key\n"
               "crl:\n" +
                   crl_body + "outputs: {" + outputs + "}\n");
    return dir_ / name;
  }

  static std::string revoking_issuing(int number, const std::string& more = "") {
    return "  number: " + std::to_string(number) + "\n" + more +
           "  validity_days: 180\n"
           "  revoked:\n"
           "    - certificate: issuing.crt\n"
           "      revoked_at: 2025-06-15T15:06:40Z\n"
           "      reason: keyCompromise\n";
  }

  static std::string revoking_nothing(int number, const std::string& more = "") {
    return "  number: " + std::to_string(number) + "\n" + more + "  validity_days: 180\n  revoked: []\n";
  }

  ProcessResult run(const fs::path& file) { return hsmca({"ceremony", "run", file.string()}); }

  // `openssl verify -crl_check` of the issuing CA against the root and its CRL.
  ProcessResult verify_issuing(const fs::path& crl, const std::string& inform = "") {
    fs::path pem = crl;
    if (inform == "DER") {
      pem = dir_ / "converted.crl";
      openssl({"crl", "-inform", "DER", "-in", crl.string(), "-out", pem.string()});
    }
    return openssl({"verify", "-crl_check", "-CRLfile", pem.string(), "-CAfile", (dir_ / "root.crt").string(),
                    (dir_ / "issuing.crt").string()});
  }

  std::string crl_text(const fs::path& crl, const std::string& inform = "PEM") {
    auto r = openssl({"crl", "-inform", inform, "-in", crl.string(), "-noout", "-text"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  }

  // The issuing CA's serial as openssl prints it, lowercase.
  std::string issuing_serial() {
    return hex_after_equals(openssl({"x509", "-in", (dir_ / "issuing.crt").string(), "-noout", "-serial"}).out);
  }

  bool key_exists(const std::string& token, const std::string& label) {
    return hsmca({"key", "show", "--module", kSoftHsmModule, "--token", token, "--label", label}).exit_code == 0;
  }

  TempDir dir_;
};

TEST_F(RevocationCeremonyTest, RootCrlRevokesTheIntermediateForOpensslAndRecordsItAsOpensslSeesIt) {
  const auto file = crl_file("crl-1.yaml", revoking_issuing(1), "crl: root-1.crl, transcript: root-crl-1.json");
  auto r = run(file);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("[1/8]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[8/8] write the CRL"), std::string::npos) << r.out;
  const fs::path crl = dir_ / "root-1.crl";

  auto check = openssl({"crl", "-in", crl.string(), "-CAfile", (dir_ / "root.crt").string(), "-noout"});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  EXPECT_NE(check.err.find("verify OK"), std::string::npos) << check.err;

  const std::string serial = issuing_serial();
  ASSERT_FALSE(serial.empty());
  const auto text = crl_text(crl);
  EXPECT_NE(text.find("Issuer: C = US, O = Test Org, CN = Test Root CA"), std::string::npos) << text;
  EXPECT_NE(text.find("Serial Number: " + upper(serial)), std::string::npos) << text;
  EXPECT_NE(text.find("Revocation Date: Jun 15 15:06:40 2025 GMT"), std::string::npos) << text;
  EXPECT_NE(text.find("Key Compromise"), std::string::npos) << text;
  EXPECT_NE(text.find("X509v3 CRL Number: \n                1\n"), std::string::npos) << text;

  auto revoked = verify_issuing(crl);
  EXPECT_NE(revoked.exit_code, 0) << revoked.out;
  EXPECT_NE((revoked.out + revoked.err).find("certificate revoked"), std::string::npos) << revoked.out << revoked.err;

  const auto t = read_json(dir_ / "root-crl-1.json");
  EXPECT_EQ(t["ceremony"], "crl");
  EXPECT_EQ(t["result"], "success");
  EXPECT_EQ(t["ceremony_file"]["sha256"], sha256_hex(read_file(file)));
  EXPECT_EQ(t["issuer"]["certificate"]["sha256_fingerprint"], openssl_fingerprint(dir_ / "root.crt"));
  EXPECT_EQ(t["issuer"]["token"]["label"], "Root Token");
  EXPECT_EQ(t["issuer"]["key"]["label"], "root-key");
  EXPECT_EQ(t["crl"]["number"], 1);
  EXPECT_EQ(t["crl"]["format"], "pem");
  EXPECT_EQ(t["crl"]["pem"], read_file(crl));
  const std::string fingerprint =
      hex_after_equals(openssl({"crl", "-in", crl.string(), "-noout", "-fingerprint", "-sha256"}).out);
  EXPECT_EQ(t["crl"]["sha256"], fingerprint);
  EXPECT_EQ(fingerprint.size(), 64u);
  // thisUpdate and nextUpdate as openssl reads them.
  const auto times = openssl({"crl", "-in", crl.string(), "-noout", "-lastupdate", "-nextupdate"}).out;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(times, m, std::regex(R"(lastUpdate=(.*)\nnextUpdate=(.*)\n)"))) << times;
  EXPECT_EQ(t["crl"]["this_update"], rfc3339_of_openssl_time(m[1].str()));
  EXPECT_EQ(t["crl"]["next_update"], rfc3339_of_openssl_time(m[2].str()));
  ASSERT_EQ(t["crl"]["revoked"].size(), 1u);
  const auto& entry = t["crl"]["revoked"][0];
  EXPECT_EQ(entry["serial"], serial);
  EXPECT_EQ(entry["reason"], "keyCompromise");
  EXPECT_EQ(entry["revoked_at"], "2025-06-15T15:06:40Z");
  EXPECT_EQ(entry["certificate"]["sha256_fingerprint"], openssl_fingerprint(dir_ / "issuing.crt"));
  for (const auto& step : t["steps"]) EXPECT_EQ(step["result"], "ok") << step.dump();
}

TEST_F(RevocationCeremonyTest, ExplicitTimesAndSerialsAreSignedAsWrittenAndDerOnRequest) {
  // Next year, so that the CRL is current whenever the test runs: the ceremony
  // refuses a nextUpdate in the past.
  const std::time_t now = std::time(nullptr);
  std::tm today{};
  gmtime_r(&now, &today);
  const std::string year = std::to_string(today.tm_year + 1900 + 1);
  const std::string later = std::to_string(today.tm_year + 1900 + 11);
  const auto file = crl_file("crl.yaml",
                             "  number: 5\n"
                             "  this_update: " + year + "-01-01T00:00:00Z\n"
                             "  next_update: " + later + "-06-01T00:00:00Z\n"
                             "  revoked:\n"
                             "    - {serial: \"01:F3\", reason: superseded, revoked_at: 2025-12-24T12:00:00+02:00}\n"
                             "    - {serial: 0x7fAB01, reason: cACompromise}\n",
                             "crl: root.crl.der, der: true, transcript: crl.json");
  auto r = run(file);
  // nextUpdate years on: more than a year after thisUpdate.
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("crl.next_update is more than 366 days after this_update"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "root.crl.der"));

  std::string yaml = read_file(file);
  yaml.replace(yaml.find(later + "-06-01"), 10, year + "-12-31");
  fs::create_directory(dir_ / "again");
  write_file(dir_ / "again" / "crl.yaml", yaml);
  fs::copy_file(dir_ / "root.crt", dir_ / "again" / "root.crt");
  r = run(dir_ / "again" / "crl.yaml");
  // A CRL whose nextUpdate has passed would be refused by relying parties; this one is still current.
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const fs::path der = dir_ / "again" / "root.crl.der";
  auto check = openssl({"crl", "-inform", "DER", "-in", der.string(), "-CAfile", (dir_ / "root.crt").string(), "-noout"});
  EXPECT_NE(check.err.find("verify OK"), std::string::npos) << check.err;
  const auto text = crl_text(der, "DER");
  EXPECT_NE(text.find("Last Update: Jan  1 00:00:00 " + year + " GMT"), std::string::npos) << text;
  EXPECT_NE(text.find("Next Update: Dec 31 00:00:00 " + year + " GMT"), std::string::npos) << text;
  EXPECT_NE(text.find("Serial Number: 01F3\n        Revocation Date: Dec 24 10:00:00 2025 GMT"), std::string::npos)
      << text;
  // No revoked_at: revoked as of thisUpdate.
  EXPECT_NE(text.find("Serial Number: 7FAB01\n        Revocation Date: Jan  1 00:00:00 " + year + " GMT"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("Superseded"), std::string::npos) << text;
  EXPECT_NE(text.find("CA Compromise"), std::string::npos) << text;
  EXPECT_NE(text.find("X509v3 CRL Number: \n                5\n"), std::string::npos) << text;
  const auto t = read_json(dir_ / "again" / "crl.json");
  EXPECT_EQ(t["crl"]["format"], "der");
  EXPECT_EQ(t["crl"]["sha256"], sha256_hex(read_file(der)));
}

TEST_F(RevocationCeremonyTest, AnEmptyCrlLetsTheIntermediateVerify) {
  auto r = run(crl_file("crl.yaml", revoking_nothing(1), "crl: root-1.crl, transcript: crl.json"));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("none: this CRL revokes nothing"), std::string::npos) << r.out;
  EXPECT_NE(crl_text(dir_ / "root-1.crl").find("No Revoked Certificates."), std::string::npos);
  auto fine = verify_issuing(dir_ / "root-1.crl");
  EXPECT_EQ(fine.exit_code, 0) << fine.out << fine.err;
  EXPECT_NE(fine.out.find("issuing.crt: OK"), std::string::npos) << fine.out;
}

TEST_F(RevocationCeremonyTest, ANumberNotAboveThePreviousCrlsIsRefusedAndNothingIsSigned) {
  ASSERT_EQ(run(crl_file("crl-2.yaml", revoking_nothing(2), "crl: root-2.crl, transcript: crl-2.json")).exit_code, 0);

  for (int number : {1, 2}) {
    SCOPED_TRACE(number);
    const std::string json = "again-" + std::to_string(number) + ".json";
    auto r = run(crl_file("again.yaml", revoking_nothing(number, "  previous: root-2.crl\n"),
                          "crl: root-3.crl, transcript: " + json));
    EXPECT_NE(r.exit_code, 0);
    EXPECT_EQ(lines(r.err), 1u) << r.err;
    EXPECT_NE(r.err.find("crl.number " + std::to_string(number) + " is not above the previous CRL's number 2"),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("use 3"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(dir_ / "root-3.crl"));
    const auto t = read_json(dir_ / json);
    EXPECT_EQ(t["result"], "failed");
    EXPECT_EQ(t["steps"].back()["title"], "read the previous CRL " + (dir_ / "root-2.crl").string());
    // Refused before the token was opened.
    EXPECT_FALSE(t.contains("issuer") && t["issuer"].contains("token")) << t.dump(2);
  }

  auto r = run(crl_file("crl-3.yaml", revoking_nothing(3, "  previous: root-2.crl\n"),
                        "crl: root-3.crl, transcript: crl-3.json"));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("[9/9]"), std::string::npos) << r.out;
  EXPECT_NE(crl_text(dir_ / "root-3.crl").find("X509v3 CRL Number: \n                3\n"), std::string::npos);
  EXPECT_EQ(read_json(dir_ / "crl-3.json")["previous_crl"]["number"], 2);
}

TEST_F(RevocationCeremonyTest, ARevocationOnThePreviousCrlCannotBeDroppedSilently) {
  ASSERT_EQ(run(crl_file("crl-1.yaml", revoking_issuing(1), "crl: root-1.crl, transcript: crl-1.json")).exit_code, 0);
  auto r = run(crl_file("crl-2.yaml", revoking_nothing(2, "  previous: root-1.crl\n"),
                        "crl: root-2.crl, transcript: crl-2.json"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("serial " + issuing_serial() + " is revoked on the previous CRL"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "root-2.crl"));
  // Listed again, it carries over.
  r = run(crl_file("crl-2b.yaml", revoking_issuing(2, "  previous: root-1.crl\n"),
                   "crl: root-2.crl, transcript: crl-2b.json"));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(verify_issuing(dir_ / "root-2.crl").exit_code, 0);
}

TEST_F(RevocationCeremonyTest, CertificatesAndCrlsOfAnotherIssuerAreRefused) {
  // A leaf of the issuing CA: not the root's to revoke.
  auto csr = openssl_csr(dir_.path(), "web", "/CN=web.example.test", "DNS:web.example.test");
  auto sign = hsmca({"sign", "--config", (dir_ / "ca.yaml").string(), "--csr", csr.string(), "--profile", "server",
                     "--out", (dir_ / "web.crt").string()});
  ASSERT_EQ(sign.exit_code, 0) << sign.err;
  auto r = run(crl_file("leaf.yaml",
                        "  number: 1\n  validity_days: 30\n  revoked:\n    - {certificate: web.crt, reason: keyCompromise}\n",
                        "crl: root-1.crl, transcript: leaf.json"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("crl.revoked[0].certificate " + (dir_ / "web.crt").string() +
                       " (CN=web.example.test) is not issued by CN=Test Root CA"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "root-1.crl"));

  // The root itself.
  r = run(crl_file("self.yaml",
                   "  number: 1\n  validity_days: 30\n  revoked:\n    - {certificate: root.crt, reason: cACompromise}\n",
                   "crl: root-1.crl, transcript: self.json"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("is the issuer's own certificate"), std::string::npos) << r.err;

  // The issuing CA's CRL given as the root's previous one.
  ASSERT_EQ(hsmca({"crl", "--config", (dir_ / "ca.yaml").string(), "--out", (dir_ / "issuing.crl").string()}).exit_code,
            0);
  r = run(crl_file("prev.yaml", revoking_nothing(2, "  previous: issuing.crl\n"), "crl: root-2.crl, transcript: prev.json"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("a CRL of CN=Test Issuing CA,O=Test Org,C=US, not of CN=Test Root CA"), std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "root-2.crl"));
}

TEST_F(RevocationCeremonyTest, AnExistingOutputIsNeverOverwritten) {
  write_file(dir_ / "root-1.crl", "precious\n");
  auto r = run(crl_file("crl.yaml", revoking_nothing(1), "crl: root-1.crl, transcript: crl.json"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("already exists"), std::string::npos) << r.err;
  EXPECT_EQ(read_file(dir_ / "root-1.crl"), "precious\n");
  EXPECT_EQ(read_json(dir_ / "crl.json")["steps"].back()["title"], "check that no output exists yet");

  write_file(dir_ / "old.json", "{}\n");
  r = run(crl_file("crl2.yaml", revoking_nothing(1), "crl: root-9.crl, transcript: old.json"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(read_file(dir_ / "old.json"), "{}\n");
  EXPECT_FALSE(fs::exists(dir_ / "root-9.crl"));
}

TEST_F(RevocationCeremonyTest, AMalformedCrlFileIsOneLineNamingTheKey) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"  number: 1\n  validity_days: 30\n  revoked:\n    - {certificate: issuing.crt, reason: stolen}\n",
       "crl.revoked[0].reason 'stolen' is not one of unspecified, keyCompromise, cACompromise"},
      {"  number: 1\n  validity_days: 30\n  revoked:\n    - {serial: 0xZZ, reason: superseded}\n",
       "crl.revoked[0].serial '0xZZ' is not a positive serial number in hex"},
      {"  number: 1\n  validity_days: 30\n  revoked:\n    - {serial: 01, certificate: issuing.crt, reason: superseded}\n",
       "give one, not both"},
      {"  number: 1\n  validity_days: 30\n  revoked:\n    - {reason: superseded}\n", "give one, not neither"},
      {"  number: 1\n  validity_days: 30\n  revoked:\n    - {serial: 01, reason: superseded}\n    - {serial: '0x0001', "
       "reason: keyCompromise}\n",
       "crl.revoked[1]: serial 01 is listed twice"},
      {"  number: 1\n  validity_days: 30\n  revoked:\n"
       "    - {serial: 01, reason: superseded, revoked_at: 2099-02-01T00:00:00Z}\n",
       "crl.revoked[0].revoked_at is later than crl.this_update"},
      {"  number: 1\n  validity_days: 30\n  next_update: 2099-01-01T00:00:00Z\n  revoked: []\n",
       "crl: give next_update or validity_days, not both"},
      {"  number: 1\n  revoked: []\n", "crl: give next_update or validity_days, one of them"},
      {"  number: 1\n  validity_days: 400\n  revoked: []\n", "crl.validity_days must be between 1 and 366"},
      {"  number: 0\n  validity_days: 30\n  revoked: []\n", "crl.number must be between 1 and"},
      {"  validity_days: 30\n  revoked: []\n", "missing crl.number"},
      {"  number: 1\n  validity_days: 30\n", "missing crl.revoked"},
      {"  number: 1\n  validity_days: 30\n  revoked: []\n  colour: blue\n", "unknown key crl.colour"},
      {"  number: 1\n  validity_days: 30\n  revoked: []\n  previous: nowhere.crl\n", "nowhere.crl cannot be read"},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(cases[i].second);
    const std::string out = "bad-" + std::to_string(i) + ".crl";
    auto r = run(crl_file("bad.yaml", cases[i].first, "crl: " + out + ", transcript: bad-" + std::to_string(i) + ".json"));
    EXPECT_NE(r.exit_code, 0);
    EXPECT_EQ(lines(r.err), 1u) << r.err;
    EXPECT_NE(r.err.find(cases[i].second), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(dir_ / out));
  }
}

class OcspSignerCeremonyTest : public RevocationCeremonyTest {
 protected:
  fs::path ocsp_file(const std::string& name, const std::string& issuer_cert, const std::string& validity_lines,
                     const std::string& out) {
    write_file(dir_ / name,
               "ceremony: ocsp-signer\n"
               "pkcs11: {module: " HSMCA_SOFTHSM_MODULE ", token: Issuing Token}\n"
               "key: {label: " + out + ", type: ec-p256}\n"
               "issuer:\n"
               "  certificate: " + issuer_cert + "\n"
               "  pkcs11: {module: " HSMCA_SOFTHSM_MODULE ", token: Issuing Token}\n"
               "  key_label: issuing-1\n"
               "certificate:\n"
               "  subject: {common_name: Test Issuing CA OCSP Responder, organization: Test Org, country: US}\n" +
                   validity_lines + "outputs: {certificate: " + out + ".crt, transcript: " + out + ".json}\n");
    return dir_ / name;
  }
};

TEST_F(OcspSignerCeremonyTest, MakesAResponderCertificateThatOpensslAcceptsForTheIssuersOcspResponses) {
  auto r = run(ocsp_file("ocsp.yaml", "issuing.crt", "  validity_days: 30\n", "ocsp-1"));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("[11/11] write the certificate"), std::string::npos) << r.out;
  const fs::path cert = dir_ / "ocsp-1.crt";

  const auto text = openssl({"x509", "-in", cert.string(), "-noout", "-text"}).out;
  EXPECT_NE(text.find("X509v3 Basic Constraints: critical\n                CA:FALSE"), std::string::npos) << text;
  EXPECT_NE(text.find("X509v3 Key Usage: critical\n                Digital Signature\n"), std::string::npos) << text;
  EXPECT_NE(text.find("X509v3 Extended Key Usage: \n                OCSP Signing\n"), std::string::npos) << text;
  EXPECT_NE(text.find("OCSP No Check"), std::string::npos) << text;
  EXPECT_NE(text.find("Issuer: C = US, O = Test Org, CN = Test Issuing CA"), std::string::npos) << text;
  const auto verify = openssl({"verify", "-x509_strict", "-purpose", "ocsphelper", "-CAfile",
                               (dir_ / "root.crt").string(), "-untrusted", (dir_ / "issuing.crt").string(),
                               cert.string()});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  const auto dates = openssl({"x509", "-in", cert.string(), "-noout", "-checkend", std::to_string(29 * 86400)});
  EXPECT_EQ(dates.exit_code, 0) << "valid for 30 days: " << dates.out;
  EXPECT_NE(openssl({"x509", "-in", cert.string(), "-noout", "-checkend", std::to_string(31 * 86400)}).exit_code, 0);

  const auto t = read_json(dir_ / "ocsp-1.json");
  EXPECT_EQ(t["ceremony"], "ocsp-signer");
  EXPECT_EQ(t["result"], "success");
  EXPECT_EQ(t["key"]["label"], "ocsp-1");
  EXPECT_EQ(t["key"]["local"], true);
  EXPECT_EQ(t["key"]["always_sensitive"], true);
  EXPECT_EQ(t["key"]["never_extractable"], true);
  EXPECT_EQ(t["key"]["extractable"], false);
  EXPECT_EQ(t["certificate"]["sha256_fingerprint"], openssl_fingerprint(cert));
  EXPECT_EQ(t["certificate"]["ocsp_nocheck"], true);
  EXPECT_EQ(t["certificate"]["not_after_clamped_to_issuer"], false);
  EXPECT_EQ(t["issuer"]["key"]["label"], "issuing-1");
  auto pub = openssl({"x509", "-in", cert.string(), "-noout", "-pubkey"});
  write_file(dir_ / "pub.pem", pub.out);
  ASSERT_EQ(openssl({"pkey", "-pubin", "-in", (dir_ / "pub.pem").string(), "-outform", "DER", "-out",
                     (dir_ / "pub.der").string()})
                .exit_code,
            0);
  EXPECT_EQ(t["key"]["spki_sha256"], sha256_hex(read_file(dir_ / "pub.der")));

  // openssl as the OCSP server, signing with the responder key in the token
  // through libp11's engine; openssl as the client accepts the response only
  // from a delegated responder the issuer certified for OCSP signing.
  write_file(dir_ / "openssl.cnf",
             "openssl_conf = openssl_init\n"
             "[openssl_init]\nengines = engine_section\n"
             "[engine_section]\npkcs11 = pkcs11_section\n"
             "[pkcs11_section]\nengine_id = pkcs11\n"
             "MODULE_PATH = " + std::string(kSoftHsmModule) + "\ninit = 0\n");
  write_secret_file(dir_ / "pin", std::string(kUserPin));
  write_file(dir_ / "index.txt", "V\t300101000000Z\t\t1234\tunknown\t/CN=leaf\n");
  write_file(dir_ / "chain.pem", read_file(dir_ / "issuing.crt") + read_file(dir_ / "root.crt"));
  auto request = openssl({"ocsp", "-issuer", (dir_ / "issuing.crt").string(), "-serial", "0x1234", "-no_nonce",
                          "-reqout", (dir_ / "req.der").string()});
  ASSERT_EQ(request.exit_code, 0) << request.err;
  const std::string key = "org.openssl.engine:pkcs11:" + t["key"]["uri"].get<std::string>() +
                          "?pin-source=file:" + (dir_ / "pin").string();
  auto respond = openssl({"ocsp", "-index", (dir_ / "index.txt").string(), "-CA", (dir_ / "issuing.crt").string(),
                          "-rsigner", cert.string(), "-rkey", key, "-reqin", (dir_ / "req.der").string(), "-respout",
                          (dir_ / "resp.der").string()},
                         {{"OPENSSL_CONF", (dir_ / "openssl.cnf").string()}});
  ASSERT_EQ(respond.exit_code, 0) << respond.out << respond.err;
  auto client = openssl({"ocsp", "-respin", (dir_ / "resp.der").string(), "-issuer", (dir_ / "issuing.crt").string(),
                         "-serial", "0x1234", "-CAfile", (dir_ / "chain.pem").string(), "-no_nonce", "-resp_text"});
  EXPECT_EQ(client.exit_code, 0) << client.out << client.err;
  EXPECT_NE(client.err.find("Response verify OK"), std::string::npos) << client.err;
  EXPECT_NE(client.out.find("Responder Id: C = US, O = Test Org, CN = Test Issuing CA OCSP Responder"),
            std::string::npos)
      << client.out;
  EXPECT_NE(client.out.find("0x1234: good"), std::string::npos) << client.out;

}

TEST_F(OcspSignerCeremonyTest, AValidityOverTheLimitIsRefusedBeforeAnyKeyIsMade) {
  auto r = run(ocsp_file("long.yaml", "issuing.crt", "  validity_days: 400\n", "ocsp-long"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("certificate.validity_days 400 is longer than 366 days"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "ocsp-long.crt"));
  EXPECT_FALSE(key_exists("Issuing Token", "ocsp-long"));

  r = run(ocsp_file("long2.yaml", "issuing.crt",
                    "  not_before: 2026-01-01T00:00:00Z\n  not_after: 2099-01-01T00:00:00Z\n", "ocsp-long2"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("longer than 366 days"), std::string::npos) << r.err;
  EXPECT_FALSE(key_exists("Issuing Token", "ocsp-long2"));
}

TEST_F(OcspSignerCeremonyTest, DefaultsToThirtyDaysAndNeverOutlivesItsIssuer) {
  // An issuing CA that expires in ten days.
  write_file(dir_ / "short.yaml", intermediate_ceremony_yaml(10, "short"));
  ASSERT_EQ(run(dir_ / "short.yaml").exit_code, 0);
  std::string yaml = read_file(ocsp_file("clamped.yaml", "short.crt", "", "ocsp-short"));
  yaml.replace(yaml.find("key_label: issuing-1"), 20, "key_label: short-1");
  write_file(dir_ / "clamped.yaml", yaml);
  auto r = run(dir_ / "clamped.yaml");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("notAfter clamped to the issuer's"), std::string::npos) << r.out;
  EXPECT_EQ(openssl({"x509", "-in", (dir_ / "ocsp-short.crt").string(), "-noout", "-enddate"}).out,
            openssl({"x509", "-in", (dir_ / "short.crt").string(), "-noout", "-enddate"}).out);
  EXPECT_EQ(read_json(dir_ / "ocsp-short.json")["certificate"]["not_after_clamped_to_issuer"], true);

  // Without a validity: 30 days.
  r = run(ocsp_file("default.yaml", "issuing.crt", "", "ocsp-default"));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto t = read_json(dir_ / "ocsp-default.json");
  EXPECT_EQ(t["certificate"]["not_after_clamped_to_issuer"], false);
  const auto cert = (dir_ / "ocsp-default.crt").string();
  EXPECT_EQ(openssl({"x509", "-in", cert, "-noout", "-checkend", std::to_string(29 * 86400)}).exit_code, 0);
  EXPECT_NE(openssl({"x509", "-in", cert, "-noout", "-checkend", std::to_string(31 * 86400)}).exit_code, 0);
}

TEST_F(OcspSignerCeremonyTest, AFailedCeremonyDestroysTheKeyItGenerated) {
  // An issuing CA that has expired by the time the responder would begin: the
  // file parses, the key is made, and signing the certificate fails.
  write_file(dir_ / "short.yaml", intermediate_ceremony_yaml(10, "short"));
  ASSERT_EQ(run(dir_ / "short.yaml").exit_code, 0);
  const std::time_t now = std::time(nullptr);
  std::tm today{};
  gmtime_r(&now, &today);
  const std::string year = std::to_string(today.tm_year + 1900 + 1);
  std::string yaml = read_file(ocsp_file("late.yaml", "short.crt",
                                         "  not_before: " + year + "-03-01T00:00:00Z\n  not_after: " + year +
                                             "-03-20T00:00:00Z\n",
                                         "ocsp-late"));
  yaml.replace(yaml.find("key_label: issuing-1"), 20, "key_label: short-1");
  write_file(dir_ / "late.yaml", yaml);
  auto r = run(dir_ / "late.yaml");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("expires before the responder's not_before"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("generate the ec-p256 key pair 'ocsp-late' in the token ... ok"), std::string::npos) << r.out;
  EXPECT_FALSE(key_exists("Issuing Token", "ocsp-late"));
  EXPECT_FALSE(fs::exists(dir_ / "ocsp-late.crt"));
  const auto t = read_json(dir_ / "ocsp-late.json");
  EXPECT_EQ(t["result"], "failed");
  EXPECT_EQ(t["cleanup"], "destroyed the key pair 'ocsp-late' generated by this failed ceremony");
  // The issuer's key is untouched.
  EXPECT_TRUE(key_exists("Issuing Token", "short-1"));
}

}  // namespace
}  // namespace hsmca::test
