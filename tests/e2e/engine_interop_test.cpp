// The break-glass path: a key made by hsmca is usable by stock OpenSSL through
// libp11's pkcs11 engine, by its RFC 7512 URI.
#include <gtest/gtest.h>

#include "cli_runner.hpp"

namespace hsmca::test {
namespace {

namespace fs = std::filesystem;

class EngineInteropTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override { SoftHsmEnv::get().init_token("Root Token"); }
  TempDir dir_;
};

TEST_P(EngineInteropTest, RootKeySignsALeafThroughTheEngineThatVerifiesAgainstTheRoot) {
  write_file(dir_ / "root.yaml", root_ceremony_yaml("Root Token", "root-key", GetParam()));
  auto ceremony = hsmca({"ceremony", "run", (dir_ / "root.yaml").string()});
  ASSERT_EQ(ceremony.exit_code, 0) << ceremony.out << ceremony.err;
  std::string uri = read_json(dir_ / "root-ceremony.json")["key"]["uri"];

  // An openssl.cnf that loads libp11's engine on the SoftHSM module.
  fs::path cnf = dir_ / "openssl.cnf";
  write_file(cnf,
             "openssl_conf = openssl_init\n"
             "[openssl_init]\nengines = engine_section\n"
             "[engine_section]\npkcs11 = pkcs11_section\n"
             "[pkcs11_section]\nengine_id = pkcs11\n"
             "MODULE_PATH = " + std::string(kSoftHsmModule) + "\ninit = 0\n"
             "[req]\ndistinguished_name = dn\n[dn]\n");
  write_secret_file(dir_ / "pin", std::string(kUserPin));
  std::map<std::string, std::string> env{{"OPENSSL_CONF", cnf.string()}};

  auto leaf_req = openssl({"req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                           (dir_ / "leaf.key").string(), "-subj", "/CN=leaf.example.test", "-out",
                           (dir_ / "leaf.csr").string()},
                          env);
  ASSERT_EQ(leaf_req.exit_code, 0) << leaf_req.err;

  // The key by URI; the PIN from a pin-source file, as an operator would.
  std::string key = uri + "?pin-source=file:" + (dir_ / "pin").string();
  auto sign = openssl({"x509", "-req", "-in", (dir_ / "leaf.csr").string(), "-CA", (dir_ / "root.crt").string(),
                       "-engine", "pkcs11", "-CAkeyform", "engine", "-CAkey", key, "-days", "30", "-set_serial",
                       "4660", "-out", (dir_ / "leaf.crt").string()},
                      env);
  ASSERT_EQ(sign.exit_code, 0) << sign.out << sign.err;

  auto verify = openssl({"verify", "-CAfile", (dir_ / "root.crt").string(), (dir_ / "leaf.crt").string()});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  EXPECT_NE(verify.out.find("leaf.crt: OK"), std::string::npos) << verify.out;
}

INSTANTIATE_TEST_SUITE_P(KeyTypes, EngineInteropTest, ::testing::Values("ec-p384", "rsa-2048"),
                         [](const auto& param_info) {
                           return std::string(param_info.param) == "ec-p384" ? "ec_p384" : "rsa_2048";
                         });

}  // namespace
}  // namespace hsmca::test
