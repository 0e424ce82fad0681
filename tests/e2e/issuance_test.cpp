// A chain made only with hsmca — root ceremony, intermediate ceremony,
// `hsmca sign` — checked with openssl, certtool, curl and a TLS handshake.
#include <gtest/gtest.h>

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <memory>
#include <set>

#include "cli_runner.hpp"

namespace hsmca::test {
namespace {

namespace fs = std::filesystem;

// One CA for the whole binary would be faster, but ctest runs each test in its
// own process with its own token directory; the ceremonies take well under a second.
class IssuanceTest : public ::testing::Test {
 protected:
  void SetUp() override { make_test_ca(dir_.path()); }

  static std::string intermediate_yaml(int days, const std::string& out = "issuing") {
    return intermediate_ceremony_yaml(days, out);
  }

  fs::path make_csr(const std::string& name, const std::string& subject, const std::string& san = "",
                    const std::string& key_opts = "ec:P-256") {
    return openssl_csr(dir_.path(), name, subject, san, key_opts);
  }

  ProcessResult sign(std::vector<std::string> args) {
    args.insert(args.begin(), {"sign", "--config", (dir_ / "ca.yaml").string()});
    return hsmca(args);
  }

  nlohmann::json ledger() {
    auto r = hsmca({"certs", "list", "--config", (dir_ / "ca.yaml").string(), "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out);
  }

  TempDir dir_;
};

TEST_F(IssuanceTest, ChainMadeOnlyWithHsmcaVerifiesWithOpensslAndGnutls) {
  // The host profile allows the loopback address beside example.test names.
  auto csr = make_csr("web", "/CN=web.example.test", "DNS:web.example.test,IP:127.0.0.1");
  auto r = sign({"--csr", csr.string(), "--profile", "host", "--out", (dir_ / "web.crt").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  auto verify = openssl({"verify", "-x509_strict", "-CAfile", (dir_ / "root.crt").string(), "-untrusted",
                         (dir_ / "issuing.crt").string(), (dir_ / "web.crt").string()});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;

  write_file(dir_ / "chain.pem", read_file(dir_ / "web.crt") + read_file(dir_ / "issuing.crt") + read_file(dir_ / "root.crt"));
  auto certtool = run_process({"certtool", "--verify-chain", "--infile", (dir_ / "chain.pem").string()});
  EXPECT_EQ(certtool.exit_code, 0) << certtool.out << certtool.err;
  EXPECT_NE(certtool.out.find("Chain verification output: Verified"), std::string::npos) << certtool.out;

  auto text = openssl({"x509", "-in", (dir_ / "web.crt").string(), "-noout", "-text"}).out;
  EXPECT_NE(text.find("CA:FALSE"), std::string::npos) << text;
  EXPECT_NE(text.find("TLS Web Server Authentication"), std::string::npos);
  EXPECT_NE(text.find("DNS:web.example.test, IP Address:127.0.0.1"), std::string::npos) << text;

  auto entries = ledger();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0]["status"], "issued");
  EXPECT_EQ(entries[0]["profile"], "host");
}

TEST_F(IssuanceTest, IssuedLeafServesTlsToAClientThatTrustsOnlyTheRootAndChecksTheHostname) {
  auto csr = make_csr("web", "/CN=web.example.test", "DNS:web.example.test");
  auto r = sign({"--csr", csr.string(), "--profile", "server", "--out", (dir_ / "web.crt").string(), "--chain"});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  int port = free_port();
  BackgroundProcess server({"openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port), "-cert",
                            (dir_ / "web.crt").string(), "-cert_chain", (dir_ / "web.crt").string(), "-key",
                            (dir_ / "web.key").string(), "-www", "-quiet"},
                           {}, (dir_ / "s_server.log").string());
  ASSERT_TRUE(wait_for_port(port, 10)) << read_file(dir_ / "s_server.log");

  std::string url = "https://web.example.test:" + std::to_string(port) + "/";
  std::string resolve = "web.example.test:" + std::to_string(port) + ":127.0.0.1";
  auto curl = run_process({"curl", "-sS", "--fail", "--cacert", (dir_ / "root.crt").string(), "--resolve", resolve, url});
  EXPECT_EQ(curl.exit_code, 0) << curl.err;

  // The same server under a name the certificate does not carry is refused.
  std::string wrong = "other.example.test:" + std::to_string(port) + ":127.0.0.1";
  auto mismatch = run_process({"curl", "-sS", "--cacert", (dir_ / "root.crt").string(), "--resolve", wrong,
                               "https://other.example.test:" + std::to_string(port) + "/"});
  EXPECT_NE(mismatch.exit_code, 0);

  auto gnutls = run_process({"gnutls-cli", "--x509cafile", (dir_ / "root.crt").string(), "--port", std::to_string(port),
                             "--verify-hostname", "web.example.test", "127.0.0.1"},
                            {}, "");
  EXPECT_EQ(gnutls.exit_code, 0) << gnutls.out << gnutls.err;
}

TEST_F(IssuanceTest, SignManyWritesOneFilePerRequestWithChainOrDer) {
  auto a = make_csr("a", "/CN=a.example.test");
  auto b = make_csr("b", "/CN=client-b", "", "rsa:2048");
  fs::create_directory(dir_ / "out");
  auto r = sign({"--csr", a.string(), "--profile", "server", "--out-dir", (dir_ / "out").string(), "--chain"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string pem = read_file(dir_ / "out" / "a.crt");
  std::size_t certs = 0;
  for (auto pos = pem.find("-----BEGIN CERTIFICATE-----"); pos != std::string::npos;
       pos = pem.find("-----BEGIN CERTIFICATE-----", pos + 1)) {
    ++certs;
  }
  EXPECT_EQ(certs, 3u);  // leaf, issuing CA, root
  EXPECT_NE(pem.find(read_file(dir_ / "issuing.crt")), std::string::npos);
  EXPECT_NE(pem.find(read_file(dir_ / "root.crt")), std::string::npos);

  auto der = sign({"--csr", b.string(), "--profile", "client", "--out-dir", (dir_ / "out").string(), "--der", "--days", "7"});
  ASSERT_EQ(der.exit_code, 0) << der.err;
  auto text = openssl({"x509", "-inform", "DER", "-in", (dir_ / "out" / "b.der").string(), "-noout", "-text"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("TLS Web Client Authentication"), std::string::npos);
  EXPECT_EQ(text.out.find("Key Encipherment"), std::string::npos) << "a client certificate only signs";

  auto days = openssl({"x509", "-inform", "DER", "-in", (dir_ / "out" / "b.der").string(), "-noout", "-checkend",
                       std::to_string(8 * 86400)});
  EXPECT_NE(days.exit_code, 0) << "a 7-day certificate must expire within 8 days";

  // An existing output is never overwritten, and nothing is issued for it.
  auto again = sign({"--csr", a.string(), "--profile", "server", "--out-dir", (dir_ / "out").string()});
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.err.find("already exists"), std::string::npos) << again.err;
  EXPECT_EQ(ledger().size(), 2u);
}

TEST_F(IssuanceTest, AnOutputThatIsASymbolicLinkIsRefusedBeforeAnythingIsSignedOrRecorded) {
  auto csr = make_csr("web", "/CN=web.example.test");
  fs::create_directory(dir_ / "elsewhere");
  // Dangling: the file it names does not exist, so "does it exist?" says no.
  fs::create_symlink(dir_ / "elsewhere" / "web.crt", dir_ / "web.crt");
  auto out = sign({"--csr", csr.string(), "--profile", "server", "--out", (dir_ / "web.crt").string()});
  EXPECT_NE(out.exit_code, 0);
  EXPECT_EQ(out.err, "hsmca: error: " + (dir_ / "web.crt").string() +
                         " is a symbolic link; hsmca writes a certificate only to a new file, never through a link\n");

  // One of several --out-dir targets, pointing at a file that exists.
  auto other = make_csr("other", "/CN=other.example.test");
  fs::create_directory(dir_ / "out");
  write_file(dir_ / "elsewhere" / "kept.crt", "kept\n");
  fs::create_symlink(dir_ / "elsewhere" / "kept.crt", dir_ / "out" / "web.crt");
  auto batch = sign({"--csr", other.string(), "--csr", csr.string(), "--profile", "server", "--out-dir",
                     (dir_ / "out").string()});
  EXPECT_NE(batch.exit_code, 0);
  EXPECT_NE(batch.err.find((dir_ / "out" / "web.crt").string() + " is a symbolic link"), std::string::npos)
      << batch.err;

  EXPECT_FALSE(fs::exists(dir_ / "elsewhere" / "web.crt"));
  EXPECT_EQ(read_file(dir_ / "elsewhere" / "kept.crt"), "kept\n");
  EXPECT_FALSE(fs::exists(dir_ / "out" / "other.crt"));
  EXPECT_TRUE(ledger().empty()) << "a certificate was signed and recorded";
}

TEST_F(IssuanceTest, APinFileOthersMayReadStopsSigningBeforeAnythingIsRecorded) {
  write_secret_file(dir_ / "pin", std::string(kUserPin) + "\n");
  fs::permissions(dir_ / "pin", fs::perms::others_read, fs::perm_options::add);
  std::string yaml = read_file(dir_ / "ca.yaml");
  const std::string token = "token: Issuing Token, sessions: 4";
  yaml.replace(yaml.find(token), token.size(), token + ", pin_source: \"file:" + (dir_ / "pin").string() + "\"");
  write_file(dir_ / "ca.yaml", yaml);
  auto csr = make_csr("web", "/CN=web.example.test");

  const std::string pin = (dir_ / "pin").string();
  auto r = hsmca({"sign", "--config", (dir_ / "ca.yaml").string(), "--csr", csr.string(), "--profile", "server", "--out",
                  (dir_ / "web.crt").string()},
                 {{"HSMCA_PIN", ""}});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.err, "hsmca: error: the user PIN file: " + pin + " is readable by others: chmod 600 " + pin + "\n");
  EXPECT_FALSE(fs::exists(dir_ / "web.crt"));
  EXPECT_TRUE(ledger().empty());

  fs::permissions(dir_ / "pin", fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
  auto signed_now = hsmca({"sign", "--config", (dir_ / "ca.yaml").string(), "--csr", csr.string(), "--profile",
                           "server", "--out", (dir_ / "web.crt").string()},
                          {{"HSMCA_PIN", ""}});
  EXPECT_EQ(signed_now.exit_code, 0) << signed_now.err;
}

TEST_F(IssuanceTest, AnEntryACrashLeftPendingIsMarkedInterruptedByTheNextRun) {
  auto first = make_csr("first", "/CN=first.example.test", "DNS:first.example.test");
  ASSERT_EQ(sign({"--csr", first.string(), "--profile", "server", "--out", (dir_ / "first.crt").string()}).exit_code, 0);
  // What a kill -9 between "pending" and "issued" leaves: a pending row, here five seconds old.
  auto crash = run_process({"python3", "-c",
                            "import sqlite3, sys, time\n"
                            "db = sqlite3.connect(sys.argv[1])\n"
                            "r = db.execute('SELECT issuer_id, subject, sans, tbs_sha256, profile, requester, not_before,"
                            " not_after FROM certificates').fetchone()\n"
                            "db.execute(\"INSERT INTO certificates (issuer_id, serial, subject, sans, tbs_sha256, profile,"
                            " requester, not_before, not_after, status, created_at) VALUES (?, '0badc0de', ?, ?, ?, ?, ?, ?,"
                            " ?, 'pending', ?)\", r + (int(time.time()) - 5,))\n"
                            "db.commit()\n",
                            (dir_ / "ledger.db").string()});
  ASSERT_EQ(crash.exit_code, 0) << crash.err;
  ASSERT_EQ(ledger().back()["status"], "pending");

  auto second = make_csr("second", "/CN=second.example.test", "DNS:second.example.test");
  auto r = sign({"--csr", second.string(), "--profile", "server", "--out", (dir_ / "second.crt").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("1 ledger entry left pending by an earlier crash marked failed (interrupted)"), std::string::npos)
      << r.err;
  auto entries = ledger();
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[1]["serial"], "0badc0de");
  EXPECT_EQ(entries[1]["status"], "failed");
  EXPECT_EQ(entries[2]["status"], "issued");
  auto listed = hsmca({"certs", "list", "--config", (dir_ / "ca.yaml").string()});
  EXPECT_NE(listed.out.find("0badc0de  failed (interrupted)"), std::string::npos) << listed.out;
}

TEST_F(IssuanceTest, DaysBeyondTheProfileAreCappedAtTheProfile) {
  auto csr = make_csr("web", "/CN=web.example.test");
  ASSERT_EQ(sign({"--csr", csr.string(), "--profile", "server", "--days", "400", "--out", (dir_ / "web.crt").string()}).exit_code, 0);
  EXPECT_EQ(openssl({"x509", "-in", (dir_ / "web.crt").string(), "-noout", "-checkend", std::to_string(91 * 86400)}).exit_code, 1);
  EXPECT_EQ(openssl({"x509", "-in", (dir_ / "web.crt").string(), "-noout", "-checkend", std::to_string(89 * 86400)}).exit_code, 0);
}

TEST_F(IssuanceTest, CertsShowPrintsTheIssuedPem) {
  auto csr = make_csr("web", "/CN=web.example.test");
  ASSERT_EQ(sign({"--csr", csr.string(), "--profile", "server", "--out", (dir_ / "web.crt").string()}).exit_code, 0);
  std::string serial = ledger()[0]["serial"];
  auto show = hsmca({"certs", "show", "--config", (dir_ / "ca.yaml").string(), serial});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_NE(show.out.find(read_file(dir_ / "web.crt")), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("status: issued"), std::string::npos);
  // openssl's colon form works too.
  std::string colons;
  for (std::size_t i = 0; i < serial.size(); i += 2) colons += (i ? ":" : "") + serial.substr(i, 2);
  EXPECT_EQ(hsmca({"certs", "show", "--config", (dir_ / "ca.yaml").string(), colons}).exit_code, 0);
  auto missing = hsmca({"certs", "show", "--config", (dir_ / "ca.yaml").string(), "abcdef"});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("no certificate with serial abcdef"), std::string::npos);
  EXPECT_EQ(hsmca({"certs", "show", "--config", (dir_ / "ca.yaml").string(), "0x" + serial}).exit_code, 0);
  auto not_hex = hsmca({"certs", "show", "--config", (dir_ / "ca.yaml").string(), "web.example.test"});
  EXPECT_EQ(not_hex.exit_code, 1);
  EXPECT_NE(not_hex.err.find("'web.example.test' is not a serial number in hex"), std::string::npos) << not_hex.err;
}

TEST_F(IssuanceTest, IntermediateNeverOutlivesItsRoot) {
  write_file(dir_ / "long.yaml", intermediate_yaml(36500, "long"));
  auto r = hsmca({"ceremony", "run", (dir_ / "long.yaml").string()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto root_end = openssl({"x509", "-in", (dir_ / "root.crt").string(), "-noout", "-enddate"}).out;
  auto long_end = openssl({"x509", "-in", (dir_ / "long.crt").string(), "-noout", "-enddate"}).out;
  EXPECT_EQ(root_end, long_end);
  auto t = read_json(dir_ / "long-ceremony.json");
  EXPECT_EQ(t["certificate"]["not_after_clamped_to_issuer"], true);
  EXPECT_NE(r.out.find("clamped"), std::string::npos) << r.out;
  auto text = openssl({"x509", "-in", (dir_ / "long.crt").string(), "-noout", "-text"}).out;
  EXPECT_NE(text.find("CA:TRUE, pathlen:0"), std::string::npos) << text;
}

TEST_F(IssuanceTest, CsrCeremonyWritesARequestThatOpensslVerifies) {
  std::string yaml =
      "ceremony: csr\n"
      "pkcs11: {module: " HSMCA_SOFTHSM_MODULE ", token: Issuing Token}\n"
      "key: {label: issuing-2, type: ec-p384}\n"
      "certificate:\n"
      "  subject: {common_name: Test Issuing CA 2, organization: Test Org, country: US}\n"
      "outputs: {csr: issuing-2.csr, transcript: issuing-2.json}\n";
  write_file(dir_ / "csr.yaml", yaml);
  auto r = hsmca({"ceremony", "run", (dir_ / "csr.yaml").string()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto verify = openssl({"req", "-in", (dir_ / "issuing-2.csr").string(), "-verify", "-noout", "-subject"});
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
  EXPECT_NE(verify.out.find("CN = Test Issuing CA 2"), std::string::npos) << verify.out;
  EXPECT_EQ(read_json(dir_ / "issuing-2.json")["result"], "success");
}

// The catalogue in tests/data: each bad request gets one clear line, a
// non-zero exit, no output and no ledger row.
struct BadRequest {
  const char* file;
  const char* message;
};

void PrintTo(const BadRequest& b, std::ostream* os) { *os << b.file; }

class BadRequestTest : public IssuanceTest, public ::testing::WithParamInterface<BadRequest> {};

TEST_P(BadRequestTest, IsRefusedWithOneLineAndLeavesNoTrace) {
  fs::path csr = fs::path(HSMCA_SOURCE_DIR) / "tests" / "data" / GetParam().file;
  ASSERT_TRUE(fs::exists(csr)) << csr;
  auto r = sign({"--csr", csr.string(), "--profile", "server", "--out", (dir_ / "out.crt").string()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find(GetParam().message), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "out.crt"));
  EXPECT_TRUE(ledger().empty());
}

INSTANTIATE_TEST_SUITE_P(
    Catalogue, BadRequestTest,
    ::testing::Values(BadRequest{"bad-malformed-pem.csr", "bad-malformed-pem.csr: "},
                      BadRequest{"bad-truncated.der", "bad-truncated.der: "},
                      BadRequest{"bad-signature.csr", "proof of possession"},
                      BadRequest{"bad-attributes-primitive-tag.der", "not in DER"},
                      BadRequest{"bad-ber-version.csr", "not in DER"},
                      BadRequest{"bad-rsa-1024.csr", "1024"},
                      BadRequest{"bad-ec-secp256k1.csr", "bad-ec-secp256k1.csr: "},
                      BadRequest{"bad-ec-point-off-curve.csr", "bad-ec-point-off-curve.csr: "},
                      BadRequest{"bad-empty-subject-no-san.csr", "bad-empty-subject-no-san.csr: "},
                      BadRequest{"bad-disallowed-dns-suffix.csr", "example.org"},
                      BadRequest{"bad-oversized.csr", "bad-oversized.csr: "},
                      BadRequest{"bad-dsa.csr", "bad-dsa.csr: "},
                      BadRequest{"bad-san-othername.csr", "bad-san-othername.csr: "}),
    [](const auto& param_info) {
      std::string n = param_info.param.file;
      n = n.substr(0, n.find('.'));
      std::replace(n.begin(), n.end(), '-', '_');
      return n;
    });

TEST_F(IssuanceTest, RequestForCaTrueIsIssuedAsALeafOnly) {
  fs::path csr = fs::path(HSMCA_SOURCE_DIR) / "tests" / "data" / "bad-requests-ca.csr";
  ASSERT_TRUE(fs::exists(csr));
  auto r = sign({"--csr", csr.string(), "--profile", "server", "--out", (dir_ / "out.crt").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto text = openssl({"x509", "-in", (dir_ / "out.crt").string(), "-noout", "-text"}).out;
  EXPECT_NE(text.find("CA:FALSE"), std::string::npos) << text;
  EXPECT_EQ(text.find("CA:TRUE"), std::string::npos) << text;
  auto verify = openssl({"verify", "-purpose", "sslserver", "-CAfile", (dir_ / "root.crt").string(), "-untrusted",
                         (dir_ / "issuing.crt").string(), (dir_ / "out.crt").string()});
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
}

TEST_F(IssuanceTest, OneBadRequestInABatchIssuesNothing) {
  auto good = make_csr("good", "/CN=good.example.test");
  fs::path bad = fs::path(HSMCA_SOURCE_DIR) / "tests" / "data" / "bad-rsa-1024.csr";
  fs::create_directory(dir_ / "out");
  auto r = sign({"--csr", good.string(), "--csr", bad.string(), "--profile", "server", "--out-dir", (dir_ / "out").string()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("bad-rsa-1024.csr"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::is_empty(dir_ / "out"));
  EXPECT_TRUE(ledger().empty());
}

// Requests made in process, each with its own P-256 key: a few hundred openssl
// runs would take longer than the signing under test.
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using X509ReqPtr = std::unique_ptr<X509_REQ, decltype(&X509_REQ_free)>;
using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free_all)>;

bool write_p256_request(const fs::path& path, const std::string& cn) {
  EvpPkeyPtr key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  X509ReqPtr req(X509_REQ_new(), X509_REQ_free);
  if (!key || !req) return false;
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  BioPtr out(BIO_new_file(path.c_str(), "w"), BIO_free_all);
  return X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.c_str()), -1,
                                    -1, 0) == 1 &&
         X509_REQ_set_pubkey(req.get(), key.get()) == 1 && X509_REQ_sign(req.get(), key.get(), EVP_sha256()) > 0 &&
         out && PEM_write_bio_X509_REQ(out.get(), req.get()) == 1 && BIO_flush(out.get()) == 1;
}

// How fast a large batch goes is bench/run's batch section (10,000 requests);
// this is what a user of a batch relies on, at a size that runs in seconds.
TEST_F(IssuanceTest, EveryRequestOfABatchIsIssuedWithItsOwnSerialAndFileAndRecordedInTheLedger) {
  constexpr int kCount = 300;
  fs::create_directory(dir_ / "csrs");
  fs::create_directory(dir_ / "certs");
  std::vector<std::string> args{"--profile", "server", "--out-dir", (dir_ / "certs").string()};
  std::set<std::string> requested;
  for (int i = 0; i < kCount; ++i) {
    fs::path p = dir_ / "csrs" / ("host-" + std::to_string(i) + ".csr");
    std::string cn = "host-" + std::to_string(i) + ".example.test";
    ASSERT_TRUE(write_p256_request(p, cn)) << p;
    requested.insert("CN=" + cn);
    args.push_back("--csr");
    args.push_back(p.string());
  }
  auto r = sign(args);
  ASSERT_EQ(r.exit_code, 0) << r.err.substr(0, 2000);

  auto entries = ledger();
  ASSERT_EQ(entries.size(), static_cast<std::size_t>(kCount));
  std::set<std::string> serials;
  std::set<std::string> subjects;
  for (const auto& e : entries) {
    EXPECT_EQ(e["status"], "issued") << e.dump();
    serials.insert(e["serial"].get<std::string>());
    subjects.insert(e["subject"].get<std::string>());
  }
  EXPECT_EQ(serials.size(), static_cast<std::size_t>(kCount));
  EXPECT_EQ(subjects, requested) << "every request issued, none twice";
  for (int i = 0; i < kCount; ++i) {
    EXPECT_TRUE(fs::exists(dir_ / "certs" / ("host-" + std::to_string(i) + ".crt"))) << i;
  }
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_ / "certs"), fs::directory_iterator()), kCount);
  // The first, a middle and the last, checked by openssl.
  for (int i : {0, kCount / 2, kCount - 1}) {
    auto verify = openssl({"verify", "-CAfile", (dir_ / "root.crt").string(), "-untrusted", (dir_ / "issuing.crt").string(),
                           (dir_ / "certs" / ("host-" + std::to_string(i) + ".crt")).string()});
    EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  }
}

}  // namespace
}  // namespace hsmca::test
