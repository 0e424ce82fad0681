#include "hsmca/signer/revocation.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <string>
#include <vector>

#include "hsmca/signer/signed_object.hpp"
#include "process.hpp"
#include "softhsm_env.hpp"
#include "test_certificates.hpp"
#include "test_keys.hpp"

namespace hsmca::signer {
namespace {

using namespace std::chrono;
using test::TempDir;

IssuerContext context(const IssuedCertificate& cert, const SigningKey& key) { return {cert.x509(), &key, {}, {}, {}}; }

const SigningKey& ec_key() { return test::key_for(token::SignatureScheme::ecdsa_sha256); }

// "AB:CD:..." as `openssl ... -text` prints key identifiers.
std::string openssl_hex(const std::string& lower_hex) {
  std::string out;
  for (std::size_t i = 0; i < lower_hex.size(); i += 2) {
    if (!out.empty()) out += ':';
    out += static_cast<char>(std::toupper(static_cast<unsigned char>(lower_hex[i])));
    out += static_cast<char>(std::toupper(static_cast<unsigned char>(lower_hex[i + 1])));
  }
  return out;
}

// Writes the issuer and the CRL to `dir` and runs `openssl crl` on them.
test::ProcessResult openssl_crl(const TempDir& dir, const IssuedCertificate& issuer, const IssuedCrl& crl,
                                std::vector<std::string> args) {
  test::write_file(dir / "issuer.pem", issuer.pem());
  test::write_file(dir / "crl.pem", crl.pem());
  args.insert(args.begin(), {"openssl", "crl", "-in", (dir / "crl.pem").string()});
  return test::run_process(args);
}

TEST(RevocationReasonTest, SpellsEveryReasonAsRfc5280AndMapsItToItsCode) {
  const std::vector<std::pair<std::string, int>> expected = {
      {"unspecified", 0},        {"keyCompromise", 1},        {"cACompromise", 2},      {"affiliationChanged", 3},
      {"superseded", 4},         {"cessationOfOperation", 5}, {"privilegeWithdrawn", 9},
  };
  for (const auto& [name, code] : expected) {
    SCOPED_TRACE(name);
    const auto reason = parse_revocation_reason(name);
    ASSERT_TRUE(reason);
    EXPECT_EQ(reason_code(*reason), code);
    EXPECT_EQ(reason_name(*reason), name);
  }
  EXPECT_EQ(revocation_reason_names(),
            "unspecified, keyCompromise, cACompromise, affiliationChanged, superseded, cessationOfOperation, "
            "privilegeWithdrawn");
}

TEST(RevocationReasonTest, RefusesOtherSpellingsAndSuspension) {
  for (const char* name : {"", "KeyCompromise", "key_compromise", "lostIt", "certificateHold", "removeFromCRL", "1"}) {
    EXPECT_FALSE(parse_revocation_reason(name)) << name;
  }
}

TEST(RevocationReasonTest, ReadsAReasonCodeOnlyForTheReasonsHsmcaIssues) {
  for (const int code : {0, 1, 2, 3, 4, 5, 9}) {
    const auto reason = reason_from_code(code);
    ASSERT_TRUE(reason) << code;
    EXPECT_EQ(reason_code(*reason), code);
  }
  for (const long code : {-1L, 6L, 7L, 8L, 10L, 11L}) EXPECT_FALSE(reason_from_code(code)) << code;
}

TEST(CrlTest, VerifiesWithOpensslForEveryKeyType) {
  TempDir dir;
  for (const auto& c : test::every_key()) {
    SCOPED_TRACE(c.name);
    const auto root = test::make_root(c.key);
    const std::vector<RevokedEntry> entries = {{"7f01", 1750000000, RevocationReason::key_compromise}};
    const auto now = system_clock::now();
    const auto crl = issue_crl(context(root, c.key), entries, 1, now, now + hours{24});
    auto r = openssl_crl(dir, root, crl, {"-CAfile", (dir / "issuer.pem").string(), "-noout"});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.err.find("verify OK"), std::string::npos) << r.err;
  }
}

TEST(CrlTest, CarriesNumberAuthorityKeyIdTimesAndEachEntryWithItsReason) {
  TempDir dir;
  const auto root = test::make_root(ec_key());
  const std::vector<RevokedEntry> entries = {
      {"7f01", 1750000000, RevocationReason::key_compromise},          // 2025-06-15T15:06:40Z
      {"4a5b6c", 1750003600, RevocationReason::cessation_of_operation},  // an hour later
      {"6e00", 1750007200, RevocationReason::privilege_withdrawn},
      {"5d5d", 1750010800, RevocationReason::unspecified},
  };
  const auto this_update = sys_days{2025y / 7 / 1} + hours{12};
  const auto crl = issue_crl(context(root, ec_key()), entries, 42, this_update, this_update + hours{24});
  EXPECT_EQ(crl.number, 42);
  EXPECT_EQ(crl.entries, 4u);
  EXPECT_EQ(crl.next_update - crl.this_update, 24 * 3600);

  const auto r = openssl_crl(dir, root, crl, {"-noout", "-text"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string& text = r.out;
  EXPECT_NE(text.find("Version 2 (0x1)"), std::string::npos) << text;
  EXPECT_NE(text.find("Signature Algorithm: ecdsa-with-SHA256"), std::string::npos) << text;
  EXPECT_NE(text.find("Last Update: Jul  1 12:00:00 2025 GMT"), std::string::npos) << text;
  EXPECT_NE(text.find("Next Update: Jul  2 12:00:00 2025 GMT"), std::string::npos) << text;
  EXPECT_NE(text.find("X509v3 CRL Number: \n                42"), std::string::npos) << text;
  EXPECT_NE(text.find("X509v3 Authority Key Identifier"), std::string::npos) << text;
  EXPECT_NE(text.find(openssl_hex(test::octets(X509_get0_subject_key_id(root.x509())))), std::string::npos) << text;

  // Sorted by serial number (numerically: 5D5D < 6E00 < 7F01 < 4A5B6C), each
  // with its date and a reason code, except for unspecified.
  const auto a = text.find("Serial Number: 5D5D");
  const auto b = text.find("Serial Number: 6E00");
  const auto c = text.find("Serial Number: 7F01");
  const auto d = text.find("Serial Number: 4A5B6C");
  ASSERT_TRUE(a != std::string::npos && b != std::string::npos && c != std::string::npos && d != std::string::npos)
      << text;
  ASSERT_TRUE(a < b && b < c && c < d) << text;
  EXPECT_EQ(text.substr(a, b - a).find("CRL Reason Code"), std::string::npos) << text;
  EXPECT_NE(text.substr(b, c - b).find("Privilege Withdrawn"), std::string::npos) << text;
  EXPECT_NE(text.substr(c, d - c).find("Revocation Date: Jun 15 15:06:40 2025 GMT"), std::string::npos) << text;
  EXPECT_NE(text.substr(c, d - c).find("Key Compromise"), std::string::npos) << text;
  EXPECT_NE(text.substr(d).find("Cessation Of Operation"), std::string::npos) << text;
}

TEST(CrlTest, AnEmptyCrlIsStillSignedAndNumbered) {
  TempDir dir;
  const auto root = test::make_root(ec_key());
  const auto now = system_clock::now();
  const auto crl = issue_crl(context(root, ec_key()), {}, 1, now, now + hours{1});
  auto verify = openssl_crl(dir, root, crl, {"-CAfile", (dir / "issuer.pem").string(), "-noout"});
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
  const auto text = openssl_crl(dir, root, crl, {"-noout", "-text"}).out;
  EXPECT_NE(text.find("No Revoked Certificates."), std::string::npos) << text;
  EXPECT_NE(text.find("X509v3 CRL Number"), std::string::npos) << text;
}

TEST(CrlTest, PemAndDerAreTheSameCrl) {
  TempDir dir;
  const auto root = test::make_root(ec_key());
  const auto now = system_clock::now();
  const auto crl = issue_crl(context(root, ec_key()), {}, 3, now, now + hours{1});
  const std::string pem = crl.pem();
  EXPECT_EQ(pem.rfind("-----BEGIN X509 CRL-----\n", 0), 0u) << pem;
  test::write_file(dir / "crl.pem", pem);
  auto r = test::run_process({"openssl", "crl", "-in", (dir / "crl.pem").string(), "-outform", "DER", "-out",
                              (dir / "crl.der").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string der = test::read_file(dir / "crl.der");
  EXPECT_EQ(std::vector<unsigned char>(der.begin(), der.end()), crl.der);
}

TEST(CrlTest, RefusesToSignWithAKeyThatIsNotTheIssuerCertificates) {
  const auto& other = test::key_for(token::SignatureScheme::ecdsa_sha384);
  const auto root = test::make_root(ec_key());
  const auto now = system_clock::now();
  EXPECT_THROW(issue_crl(context(root, other), {}, 1, now, now + hours{1}), VerificationError);
}

TEST(CrlTest, RefusesBadNumbersTimesAndSerials) {
  const auto root = test::make_root(ec_key());
  const auto issuer = context(root, ec_key());
  const auto now = system_clock::now();
  EXPECT_THROW(issue_crl(issuer, {}, 0, now, now + hours{1}), std::invalid_argument);
  EXPECT_THROW(issue_crl(issuer, {}, 1, now, now), std::invalid_argument);
  const std::vector<RevokedEntry> bad = {{"7G", 1, RevocationReason::unspecified}};
  EXPECT_THROW(issue_crl(issuer, bad, 1, now, now + hours{1}), std::invalid_argument);
}

TEST(ReadCrlTest, ReadsBackNumberTimesAndEntriesFromPemAndDer) {
  const auto root = test::make_root(ec_key());
  const auto this_update = sys_days{2026y / 12 / 1};
  const std::vector<RevokedEntry> entries = {{"7f01", 1750000000, RevocationReason::ca_compromise},
                                             {"0a", 1750000100, RevocationReason::unspecified}};
  const auto crl = issue_crl(context(root, ec_key()), entries, 7, this_update, this_update + days{180});
  const std::string pem = crl.pem();
  for (const auto& input : {Bytes(pem.begin(), pem.end()), crl.der}) {
    const CrlContents read = read_crl(input, root.x509());
    EXPECT_EQ(read.der, crl.der);
    EXPECT_EQ(read.number, 7);
    EXPECT_EQ(read.this_update, system_clock::to_time_t(this_update));
    EXPECT_EQ(read.next_update, system_clock::to_time_t(this_update + days{180}));
    ASSERT_EQ(read.entries.size(), 2u);
    // Sorted by serial in the CRL.
    EXPECT_EQ(read.entries[0].serial_hex, "0a");
    EXPECT_EQ(read.entries[0].reason, RevocationReason::unspecified);
    EXPECT_EQ(read.entries[1].serial_hex, "7f01");
    EXPECT_EQ(read.entries[1].revoked_at, 1750000000);
    EXPECT_EQ(read.entries[1].reason, RevocationReason::ca_compromise);
  }
}

TEST(ReadCrlTest, RefusesAnotherIssuersCrlATamperedOneAndGarbage) {
  const auto root = test::make_root(ec_key());
  const auto& other_key = test::key_for(token::SignatureScheme::ecdsa_sha384);
  const auto other = test::make_root(other_key);
  const auto now = system_clock::now();
  const auto crl = issue_crl(context(other, other_key), {}, 1, now, now + hours{1});
  // Same subject name ("Example Root"), another key: only the signature tells them apart.
  try {
    read_crl(crl.der, root.x509());
    ADD_FAILURE() << "another issuer's CRL was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("signature does not verify"), std::string::npos) << e.what();
  }
  Bytes tampered = issue_crl(context(root, ec_key()), {}, 1, now, now + hours{1}).der;
  tampered[tampered.size() - 3] ^= 0x01;
  EXPECT_THROW(read_crl(tampered, root.x509()), std::invalid_argument);
  const std::string garbage = "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n";
  EXPECT_THROW(read_crl(Bytes(garbage.begin(), garbage.end()), root.x509()), std::invalid_argument);
  Bytes trailing = crl.der;
  trailing.push_back(0);
  EXPECT_THROW(read_crl(trailing, other.x509()), std::invalid_argument);
  EXPECT_NO_THROW(read_crl(crl.der, other.x509()));
}

}  // namespace
}  // namespace hsmca::signer
