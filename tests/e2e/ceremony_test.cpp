// The root and key ceremonies as an operator runs them: the hsmca program,
// a SoftHSM token, and openssl checking what comes out.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>

#include "cli_runner.hpp"

namespace hsmca::test {
namespace {

namespace fs = std::filesystem;

class CeremonyTest : public ::testing::Test {
 protected:
  void SetUp() override { token_ = SoftHsmEnv::get().init_token("Root Token"); }

  fs::path write_ceremony(const std::string& text, const std::string& name = "root-ceremony.yaml") {
    fs::path file = dir_ / name;
    write_file(file, text);
    return file;
  }

  // Whether a key with this label is on the token, as `hsmca key show` sees it.
  bool key_exists(const std::string& label) {
    return hsmca({"key", "show", "--module", kSoftHsmModule, "--token", "Root Token", "--label", label}).exit_code == 0;
  }

  token::TokenInfo token_;
  TempDir dir_;
};

class RootCeremonyPerKeyType : public CeremonyTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(RootCeremonyPerKeyType, WritesRootThatOpensslVerifiesAndRecordsEvidence) {
  fs::path file = write_ceremony(root_ceremony_yaml("Root Token", "root-key", GetParam()));
  auto r = hsmca({"ceremony", "run", file.string()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;

  fs::path cert = dir_ / "root.crt";
  auto verify = openssl({"verify", "-x509_strict", "-CAfile", cert.string(), cert.string()});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  EXPECT_NE(verify.out.find(": OK"), std::string::npos);

  auto text = openssl({"x509", "-in", cert.string(), "-noout", "-text"}).out;
  EXPECT_NE(text.find("X509v3 Basic Constraints: critical"), std::string::npos) << text;
  EXPECT_NE(text.find("CA:TRUE"), std::string::npos);
  EXPECT_NE(text.find("X509v3 Key Usage: critical"), std::string::npos);
  EXPECT_NE(text.find("Certificate Sign, CRL Sign"), std::string::npos);
  EXPECT_NE(text.find("X509v3 Subject Key Identifier"), std::string::npos);
  EXPECT_NE(text.find("X509v3 Authority Key Identifier"), std::string::npos);
  EXPECT_NE(text.find("Subject: C = US, O = Test Org, CN = Test Root CA"), std::string::npos) << text;

  auto t = read_json(dir_ / "root-ceremony.json");
  EXPECT_EQ(t["ceremony"], "root");
  EXPECT_EQ(t["result"], "success");
  EXPECT_EQ(t["ceremony_file"]["sha256"], sha256_hex(read_file(file)));
  EXPECT_EQ(t["token"]["label"], "Root Token");
  EXPECT_EQ(t["token"]["serial"], token_.serial);
  EXPECT_FALSE(t["token"]["model"].get<std::string>().empty());
  EXPECT_FALSE(t["token"]["manufacturer"].get<std::string>().empty());
  EXPECT_EQ(t["key"]["type"], GetParam());
  EXPECT_EQ(t["key"]["local"], true);
  EXPECT_EQ(t["key"]["sensitive"], true);
  EXPECT_EQ(t["key"]["always_sensitive"], true);
  EXPECT_EQ(t["key"]["extractable"], false);
  EXPECT_EQ(t["key"]["never_extractable"], true);
  EXPECT_EQ(t["key"]["uri"].get<std::string>().rfind("pkcs11:", 0), 0u);
  EXPECT_EQ(t["certificate"]["sha256_fingerprint"], openssl_fingerprint(cert));
  ASSERT_FALSE(t["steps"].empty());
  for (const auto& step : t["steps"]) EXPECT_EQ(step["result"], "ok") << step.dump();

  // The serial in the transcript is the certificate's, and it has at least 64 bits.
  auto serial_line = openssl({"x509", "-in", cert.string(), "-noout", "-serial"}).out;
  auto normalize = [](std::string hex) {
    std::string out;
    for (char c : hex) {
      if (std::isxdigit(static_cast<unsigned char>(c))) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out.substr(std::min(out.find_first_not_of('0'), out.size()));
  };
  std::string serial = normalize(serial_line.substr(serial_line.find('=') + 1));
  EXPECT_EQ(serial, normalize(t["certificate"]["serial"]));
  EXPECT_GE(serial.size() * 4, 64u);

  // The certificate's key is the token's: the SPKI hash in the transcript is the certificate's.
  auto pub = openssl({"x509", "-in", cert.string(), "-noout", "-pubkey"});
  write_file(dir_ / "pub.pem", pub.out);
  auto der = openssl({"pkey", "-pubin", "-in", (dir_ / "pub.pem").string(), "-outform", "DER", "-out",
                      (dir_ / "pub.der").string()});
  ASSERT_EQ(der.exit_code, 0) << der.err;
  EXPECT_EQ(t["key"]["spki_sha256"], sha256_hex(read_file(dir_ / "pub.der")));

  // Progress is printed as the ceremony runs.
  EXPECT_NE(r.out.find("[1/9]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[9/9]"), std::string::npos) << r.out;
}

INSTANTIATE_TEST_SUITE_P(AllKeyTypes, RootCeremonyPerKeyType,
                         ::testing::Values("ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096", "ed25519"),
                         [](const auto& param_info) {
                           std::string n = param_info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

TEST_F(CeremonyTest, HonoursExplicitValidityAndSignatureAlgorithm) {
  std::string yaml = root_ceremony_yaml("Root Token", "rsa-root", "rsa-2048", "");
  yaml.replace(yaml.find("  validity_days: 3650\n"), 21,
               "  not_before: 2026-01-01T00:00:00Z\n  not_after: 2046-01-01T00:00:00+02:00\n"
               "  signature_algorithm: rsa-pss-sha384\n");
  auto r = hsmca({"ceremony", "run", write_ceremony(yaml).string()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto text = openssl({"x509", "-in", (dir_ / "root.crt").string(), "-noout", "-text"}).out;
  EXPECT_NE(text.find("Not Before: Jan  1 00:00:00 2026 GMT"), std::string::npos) << text;
  EXPECT_NE(text.find("Not After : Dec 31 22:00:00 2045 GMT"), std::string::npos) << text;
  EXPECT_NE(text.find("rsassaPss"), std::string::npos) << text;
  EXPECT_NE(text.find("sha384"), std::string::npos) << text;
  auto verify = openssl({"verify", "-CAfile", (dir_ / "root.crt").string(), (dir_ / "root.crt").string()});
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
}

TEST_F(CeremonyTest, RefusesToOverwriteAnExistingCertificateAndLeavesNoKey) {
  write_file(dir_ / "root.crt", "precious\n");
  auto r = hsmca({"ceremony", "run", write_ceremony(root_ceremony_yaml("Root Token", "root-key", "ec-p256")).string()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("already exists"), std::string::npos) << r.err;
  EXPECT_EQ(read_file(dir_ / "root.crt"), "precious\n");
  EXPECT_FALSE(key_exists("root-key"));
  // The refusal is on record.
  auto t = read_json(dir_ / "root-ceremony.json");
  EXPECT_EQ(t["result"], "failed");
  EXPECT_EQ(t["steps"].back()["result"], "failed");
  EXPECT_EQ(t["steps"].back()["title"], "check that no output exists yet");
}

TEST_F(CeremonyTest, NeverOverwritesAnExistingTranscript) {
  write_file(dir_ / "root-ceremony.json", "{\"earlier\": true}\n");
  auto r = hsmca({"ceremony", "run", write_ceremony(root_ceremony_yaml("Root Token", "root-key", "ec-p256")).string()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(read_file(dir_ / "root-ceremony.json"), "{\"earlier\": true}\n");
  EXPECT_FALSE(fs::exists(dir_ / "root.crt"));
}

TEST_F(CeremonyTest, RefusesAKeyLabelThatIsTakenAndKeepsTheExistingKey) {
  auto first = hsmca({"ceremony", "run", write_ceremony(root_ceremony_yaml("Root Token", "root-key", "ec-p256")).string()});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  auto before = hsmca({"key", "show", "--module", kSoftHsmModule, "--token", "Root Token", "--label", "root-key", "--json"});

  fs::create_directory(dir_ / "second");
  fs::path second = dir_ / "second" / "root-ceremony.yaml";
  write_file(second, root_ceremony_yaml("Root Token", "root-key", "ec-p384"));
  auto r = hsmca({"ceremony", "run", second.string()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("already exists on the token"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "second" / "root.crt"));
  auto t = read_json(dir_ / "second" / "root-ceremony.json");
  EXPECT_EQ(t["result"], "failed");

  auto after = hsmca({"key", "show", "--module", kSoftHsmModule, "--token", "Root Token", "--label", "root-key", "--json"});
  EXPECT_EQ(nlohmann::json::parse(after.out)["spki_sha256"], nlohmann::json::parse(before.out)["spki_sha256"]);
}

TEST_F(CeremonyTest, WrongPinFailsWithOneClearLineAndNoCertificate) {
  auto r = hsmca({"ceremony", "run", write_ceremony(root_ceremony_yaml("Root Token", "root-key", "ec-p256")).string()},
                 {{"HSMCA_PIN", "not-the-pin"}});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("C_Login: CKR_PIN_INCORRECT"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(r.err.find("not-the-pin"), std::string::npos);
  EXPECT_EQ(r.out.find("not-the-pin"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir_ / "root.crt"));
  EXPECT_EQ(read_file(dir_ / "root-ceremony.json").find("not-the-pin"), std::string::npos);
}

TEST_F(CeremonyTest, KeyCeremonyGeneratesKeyAndWritesPublicKeyAndTranscript) {
  std::string yaml =
      "ceremony: key\n"
      "pkcs11: {module: " + std::string(kSoftHsmModule) + ", token: Root Token}\n"
      "key: {label: spare, type: ec-p256}\n"
      "outputs: {public_key: spare.pub.pem, transcript: spare.json}\n";
  auto r = hsmca({"ceremony", "run", write_ceremony(yaml, "key.yaml").string()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto t = read_json(dir_ / "spare.json");
  EXPECT_EQ(t["ceremony"], "key");
  EXPECT_EQ(t["result"], "success");
  EXPECT_EQ(t["key"]["never_extractable"], true);
  EXPECT_TRUE(key_exists("spare"));
  auto pub = openssl({"pkey", "-pubin", "-in", (dir_ / "spare.pub.pem").string(), "-outform", "DER", "-out",
                      (dir_ / "spare.der").string()});
  ASSERT_EQ(pub.exit_code, 0) << pub.err;
  EXPECT_EQ(t["key"]["spki_sha256"], sha256_hex(read_file(dir_ / "spare.der")));
}

TEST_F(CeremonyTest, RefusesAnOutputThatIsASymbolicLinkBeforeAKeyIsGenerated) {
  fs::create_directory(dir_ / "elsewhere");
  for (const char* output : {"root.crt", "root-ceremony.json"}) {
    SCOPED_TRACE(output);
    // Dangling: the file it names does not exist, so "does it exist?" says no.
    fs::create_symlink(dir_ / "elsewhere" / output, dir_ / output);
    auto r = hsmca({"ceremony", "run", write_ceremony(root_ceremony_yaml("Root Token", "root-key", "ec-p256")).string()});
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find((dir_ / output).string() + " is a symbolic link"), std::string::npos) << r.err;
    EXPECT_FALSE(key_exists("root-key")) << "a key was generated";
    EXPECT_FALSE(fs::exists(dir_ / "elsewhere" / output)) << "written through the link";
    EXPECT_TRUE(fs::is_empty(dir_ / "elsewhere"));
    fs::remove(dir_ / output);
    fs::remove(dir_ / "root.crt");
    fs::remove(dir_ / "root-ceremony.json");
  }
  // The refusal is on record when the transcript itself is not the link.
  fs::create_symlink(dir_ / "elsewhere" / "root.crt", dir_ / "root.crt");
  hsmca({"ceremony", "run", write_ceremony(root_ceremony_yaml("Root Token", "root-key", "ec-p256")).string()});
  auto t = read_json(dir_ / "root-ceremony.json");
  EXPECT_EQ(t["result"], "failed");
  EXPECT_EQ(t["steps"].back()["title"], "check that no output exists yet");
}

TEST_F(CeremonyTest, RefusesAPinFileOthersMayReadBeforeAKeyIsGenerated) {
  write_secret_file(dir_ / "pin", std::string(kUserPin) + "\n");
  fs::permissions(dir_ / "pin", fs::perms::others_read, fs::perm_options::add);
  const std::string yaml = root_ceremony_yaml("Root Token", "root-key", "ec-p256");
  const std::string with_pin_file = yaml.substr(0, yaml.find("key:\n")) + "  pin_source: file:" +
                                    (dir_ / "pin").string() + "\n" + yaml.substr(yaml.find("key:\n"));
  auto r = hsmca({"ceremony", "run", write_ceremony(with_pin_file).string()}, {{"HSMCA_PIN", ""}});
  EXPECT_NE(r.exit_code, 0);
  const std::string pin = (dir_ / "pin").string();
  EXPECT_NE(r.err.find("the user PIN file: " + pin + " is readable by others: chmod 600 " + pin), std::string::npos)
      << r.err;
  EXPECT_FALSE(key_exists("root-key"));
  EXPECT_FALSE(fs::exists(dir_ / "root.crt"));

  fs::permissions(dir_ / "pin", fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
  fs::remove(dir_ / "root-ceremony.json");
  auto again = hsmca({"ceremony", "run", write_ceremony(with_pin_file).string()}, {{"HSMCA_PIN", ""}});
  EXPECT_EQ(again.exit_code, 0) << again.err;
}

TEST_F(CeremonyTest, NeverPrintsOrRecordsAPinWrittenWhereItsSourceBelongs) {
  const std::string yaml = root_ceremony_yaml("Root Token", "root-key", "ec-p256");
  const std::string pin_as_source = yaml.substr(0, yaml.find("key:\n")) + "  pin_source: s3cr3t-pin-value\n" +
                                    yaml.substr(yaml.find("key:\n"));
  auto r = hsmca({"ceremony", "run", write_ceremony(pin_as_source).string()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("pin_source must be env:NAME or file:PATH"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("s3cr3t-pin-value"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("s3cr3t-pin-value"), std::string::npos) << r.out;
  EXPECT_EQ(read_file(dir_ / "root-ceremony.json").find("s3cr3t-pin-value"), std::string::npos);
}

struct BadFile {
  const char* name;
  std::string (*edit)(std::string);
  const char* message;  // what the one error line must name
};

// gtest prints parameters; name the case instead of dumping its bytes.
void PrintTo(const BadFile& bad, std::ostream* os) { *os << bad.name; }

std::string replace(std::string s, const std::string& from, const std::string& to) {
  s.replace(s.find(from), from.size(), to);
  return s;
}

class MalformedCeremony : public CeremonyTest, public ::testing::WithParamInterface<BadFile> {};

TEST_P(MalformedCeremony, FailsWithOneLineNamingTheProblemAndWritesNothingElse) {
  const auto& bad = GetParam();
  auto r = hsmca({"ceremony", "run",
                  write_ceremony(bad.edit(root_ceremony_yaml("Root Token", "root-key", "ec-p256"))).string()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find(bad.message), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "root.crt"));
  EXPECT_FALSE(key_exists("root-key"));
}

INSTANTIATE_TEST_SUITE_P(
    BadInput, MalformedCeremony,
    ::testing::Values(
        BadFile{"UnknownTopLevelKey", [](std::string s) { return s + "colour: blue\n"; }, "unknown key colour"},
        BadFile{"UnknownNestedKey",
                [](std::string s) { return replace(s, "    country: US\n", "    country: US\n    planet: Earth\n"); },
                "unknown key certificate.subject.planet"},
        BadFile{"UnknownKeyType", [](std::string s) { return replace(s, "type: ec-p256", "type: dsa-1024"); },
                "key.type 'dsa-1024'"},
        BadFile{"MissingCommonName",
                [](std::string s) { return replace(s, "    common_name: Test Root CA\n", ""); },
                "missing certificate.subject.common_name"},
        BadFile{"BadCountry", [](std::string s) { return replace(s, "country: US", "country: USA"); }, "country"},
        BadFile{"NegativeValidity", [](std::string s) { return replace(s, "validity_days: 3650", "validity_days: -5"); },
                "certificate.validity_days"},
        BadFile{"BadTime",
                [](std::string s) {
                  return replace(s, "  validity_days: 3650\n", "  not_before: yesterday\n  not_after: 2040-01-01T00:00:00Z\n");
                },
                "certificate.not_before"},
        BadFile{"SchemeForOtherKeyType",
                [](std::string s) {
                  return replace(s, "  validity_days: 3650\n", "  validity_days: 3650\n  signature_algorithm: rsa-pss-sha256\n");
                },
                "cannot be used with a ec-p256 key"},
        BadFile{"UnknownCeremony", [](std::string s) { return replace(s, "ceremony: root", "ceremony: coronation"); },
                "ceremony 'coronation'"},
        BadFile{"NotYaml", [](std::string) { return std::string("ceremony: [root\n"); }, "not valid YAML"},
        BadFile{"OverOneMebibyte", [](std::string s) { return s + "# " + std::string(1024 * 1024, 'x') + "\n"; },
                "is larger than 1048576 bytes (1 MiB), the limit for a ceremony or CA file"},
        BadFile{"MissingModule",
                [](std::string s) { return replace(s, kSoftHsmModule, "/nonexistent/libpkcs11.so"); },
                "cannot load PKCS#11 module /nonexistent/libpkcs11.so"},
        BadFile{"UnknownToken", [](std::string s) { return replace(s, "token: Root Token", "token: Nope Token"); },
                "no initialized token 'Nope Token'"},
        BadFile{"MissingOutputDirectory",
                [](std::string s) { return replace(s, "certificate: root.crt", "certificate: nowhere/root.crt"); },
                "does not exist"}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

TEST_F(CeremonyTest, TokenDirectoryWithoutInitializedTokenIsNamedInTheError) {
  // A fresh directory from the project's own helper: SoftHSM offers only a free slot.
  auto made = run_process({std::string(HSMCA_SOURCE_DIR) + "/softhsm-config/make-token-dir", (dir_ / "empty").string()});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  auto r = hsmca({"ceremony", "run", write_ceremony(root_ceremony_yaml("Root Token", "root-key", "ec-p256")).string()},
                 {{"SOFTHSM2_CONF", (dir_ / "empty" / "softhsm2.conf").string()}});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("no initialized token 'Root Token'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("hsmca token init"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "root.crt"));
}

}  // namespace
}  // namespace hsmca::test
