// The whole chain's revocation for relying parties: the offline root signs
// its CRL in a ceremony, the appliance publishes it (appliance.root_crl) next
// to the issuing CA's own, the intermediate names it (issuer.crl_url in the
// intermediate ceremony), and `openssl verify -crl_check_all` uses both.
#include <gtest/gtest.h>

#include <chrono>
#include <regex>
#include <string>
#include <thread>

#include "appliance_fixture.hpp"

namespace hsmca::test {
namespace {

class ApplianceRootCrlTest : public ApplianceFixture {
 protected:
  std::string extra_appliance_yaml() const override { return "  root_crl: published/root.crl\n"; }

  // `ceremony: crl` with the root key: DIR/NAME.crl (PEM).
  void root_crl_ceremony(const std::string& name, const std::string& crl_body) {
    write_file(dir_ / (name + ".yaml"),
               "ceremony: crl\n"
               "issuer:\n"
               "  certificate: root.crt\n"
               "  pkcs11: {module: " HSMCA_SOFTHSM_MODULE ", token: Root Token}\n"
               "  key_label: root-key\n"
               "crl:\n" + crl_body +
               "outputs: {crl: " + name + ".crl, transcript: " + name + "-ceremony.json}\n");
    auto r = hsmca({"ceremony", "run", (dir_ / (name + ".yaml")).string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  // Puts a file where the appliance looks, as an operator would: whole, by rename.
  void publish(const std::string& file) {
    fs::create_directories(dir_ / "published");
    write_file(dir_ / "published" / "root.crl.new", read_file(dir_ / file));
    fs::rename(dir_ / "published" / "root.crl.new", dir_ / "published" / "root.crl");
  }

  // GET /root.crl: status, and the body in DIR/NAME.der.
  int fetch(const std::string& name) {
    auto r = run_process({"curl", "-sS", "-o", (dir_ / (name + ".der")).string(), "-w", "%{http_code}",
                          plain_url("/root.crl")});
    return r.out.empty() ? 0 : std::stoi(r.out);
  }

  std::string crl_number(const std::string& der) {
    auto r = openssl({"crl", "-inform", "DER", "-in", (dir_ / der).string(), "-noout", "-crlnumber"});
    return r.out;
  }

  // Waits up to 5 s for GET /root.crl to serve CRL number `n`.
  bool serves_number(int n) {
    const std::string want = "crlNumber=0x" + std::string(n < 16 ? "0" : "") +
                             [&] { char b[16]; std::snprintf(b, sizeof b, "%X", n); return std::string(b); }();
    for (int i = 0; i < 50; ++i) {
      if (fetch("served") == 200 && crl_number("served.der").find(want) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  ProcessResult verify_chain(const std::string& leaf) {
    // Both CRLs as a relying party fetches them: the root's and the issuing CA's, PEM for -CRLfile.
    EXPECT_EQ(fetch("root-now"), 200);
    auto root_pem = openssl({"crl", "-inform", "DER", "-in", (dir_ / "root-now.der").string(), "-out",
                             (dir_ / "root-now.pem").string()});
    EXPECT_EQ(root_pem.exit_code, 0) << root_pem.err;
    auto issuing = run_process({"curl", "-sS", "-o", (dir_ / "issuing-now.der").string(), plain_url("/crl")});
    EXPECT_EQ(issuing.exit_code, 0) << issuing.err;
    auto issuing_pem = openssl({"crl", "-inform", "DER", "-in", (dir_ / "issuing-now.der").string(), "-out",
                                (dir_ / "issuing-now.pem").string()});
    EXPECT_EQ(issuing_pem.exit_code, 0) << issuing_pem.err;
    return openssl({"verify", "-crl_check_all", "-CAfile", (dir_ / "root.crt").string(), "-untrusted",
                    (dir_ / "issuing.crt").string(), "-CRLfile", (dir_ / "root-now.pem").string(), "-CRLfile",
                    (dir_ / "issuing-now.pem").string(), (dir_ / (leaf + ".crt")).string()});
  }
};

TEST_F(ApplianceRootCrlTest, ServesTheRootsCrlSoOpensslCanCheckTheWholeChain) {
  issue("web");
  // Nothing published yet: a clear 503, not an empty CRL.
  EXPECT_EQ(fetch("none"), 503);
  EXPECT_NE(read_file(dir_ / "none.der").find("root_crl_unavailable"), std::string::npos);

  root_crl_ceremony("root-1", "  number: 1\n  validity_days: 30\n  revoked: []\n");
  publish("root-1.crl");
  ASSERT_TRUE(serves_number(1));
  auto checked = openssl({"crl", "-inform", "DER", "-in", (dir_ / "served.der").string(), "-CAfile",
                          (dir_ / "root.crt").string(), "-noout"});
  EXPECT_NE((checked.out + checked.err).find("verify OK"), std::string::npos) << checked.out << checked.err;
  auto good = verify_chain("web");
  EXPECT_EQ(good.exit_code, 0) << good.out << good.err;

  // A file that is not the root's CRL (the issuing CA's) is refused; the last good one stays.
  auto issuing_crl = run_process({"curl", "-sS", "-o", (dir_ / "issuing.der").string(), plain_url("/crl")});
  ASSERT_EQ(issuing_crl.exit_code, 0);
  publish("issuing.der");
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  ASSERT_EQ(fetch("after-wrong"), 200);
  EXPECT_NE(crl_number("after-wrong.der").find("crlNumber=0x01"), std::string::npos);

  // The root revokes the issuing CA: the next CRL, published, and the chain no longer verifies.
  root_crl_ceremony("root-2",
                    "  number: 2\n  previous: root-1.crl\n  validity_days: 30\n"
                    "  revoked:\n    - {certificate: issuing.crt, reason: cACompromise}\n");
  publish("root-2.crl");
  ASSERT_TRUE(serves_number(2)) << "the new root CRL was never served";
  auto revoked = verify_chain("web");
  EXPECT_NE(revoked.exit_code, 0);
  EXPECT_NE((revoked.out + revoked.err).find("certificate revoked"), std::string::npos) << revoked.out << revoked.err;
}

TEST_F(ApplianceRootCrlTest, AnIntermediateCeremonyNamesTheRootsCrlAndCertificate) {
  write_file(dir_ / "issuing-2.yaml",
             std::regex_replace(intermediate_ceremony_yaml(365, "issuing-2"), std::regex("  key_label: root-key\n"),
                                "  key_label: root-key\n"
                                "  crl_url: http://ca.example.test/root.crl\n"
                                "  issuer_url: http://ca.example.test/ca/root.crt\n"));
  auto r = hsmca({"ceremony", "run", (dir_ / "issuing-2.yaml").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto text = openssl({"x509", "-in", (dir_ / "issuing-2.crt").string(), "-noout", "-ext",
                       "crlDistributionPoints,authorityInfoAccess"});
  EXPECT_NE(text.out.find("URI:http://ca.example.test/root.crl"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("CA Issuers - URI:http://ca.example.test/ca/root.crt"), std::string::npos) << text.out;
  // Only a CA certificate points at its issuer's CRL this way: an OCSP
  // responder's (ocsp-nocheck) does not, and the key is refused there.
  write_file(dir_ / "ocsp-signer.yaml", ocsp_signer_ceremony_yaml("  crl_url: http://ca.example.test/crl\n"));
  auto refused = hsmca({"ceremony", "run", (dir_ / "ocsp-signer.yaml").string()});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("issuer.crl_url"), std::string::npos) << refused.err;
  EXPECT_FALSE(fs::exists(dir_ / "ocsp-signer.crt"));
}

}  // namespace
}  // namespace hsmca::test
