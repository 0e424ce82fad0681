#include "hsmca/appliance/auth.hpp"

#include <gtest/gtest.h>

#include <tuple>

#include "hsmca/signer/certificate_authority.hpp"
#include "hsmca/signer/openssl.hpp"
#include "process.hpp"
#include "softhsm_env.hpp"

namespace hsmca::appliance {
namespace {

using signer::ConfigError;

const std::string kEnrollToken = "enroll-token-8f2d0c";
const std::string kAdminToken = "admin-token-91ab7e";
const std::string kBothToken = "both-token-55aa10";

std::string hash_of(const std::string& token) {
  return signer::sha256_hex(std::span(reinterpret_cast<const unsigned char*>(token.data()), token.size()));
}

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

class AuthorizerTest : public ::testing::Test {
 protected:
  Authorizer with_tokens(const std::string& content) {
    test::write_secret_file(dir_ / "api-tokens", content);
    ApplianceConfig c;
    c.roles = {{"enroll", {"*"}}, {"admin", {"ops-admin"}}};
    c.tokens_file = dir_ / "api-tokens";
    return Authorizer::from(c);
  }

  std::string error_of(const std::string& content) {
    try {
      with_tokens(content);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "(no ConfigError)";
  }

  std::string tokens_file() const { return (dir_ / "api-tokens").string(); }

  Authorizer standard() {
    return with_tokens("# API tokens: ROLE SHA256-HEX\n\n"
                       "enroll " + hash_of(kEnrollToken) + "   # the build farm\n"
                       "   \t\n"
                       "admin\t" + upper(hash_of(kAdminToken)) + "\r\n"
                       "enroll " + hash_of(kBothToken) + "\n"
                       "admin " + hash_of(kBothToken) + "\n"
                       "admin " + hash_of(kBothToken) + "\n");
  }

  test::TempDir dir_;
};

TEST_F(AuthorizerTest, RightTokenGetsItsRoles) {
  const auto a = standard();
  auto id = a.for_bearer_token(kEnrollToken);
  EXPECT_EQ(id.kind, Identity::Kind::bearer_token);
  EXPECT_EQ(id.roles, std::vector<std::string>{"enroll"});
  EXPECT_TRUE(id.has_role("enroll"));
  EXPECT_FALSE(id.has_role("admin"));
  EXPECT_EQ(id.name, "token:enroll:" + hash_of(kEnrollToken).substr(0, 8));
  EXPECT_EQ(id.describe(), "bearer:enroll:" + hash_of(kEnrollToken).substr(0, 8));

  id = a.for_bearer_token(kAdminToken);  // the file had it in uppercase hex
  EXPECT_EQ(id.roles, std::vector<std::string>{"admin"});
}

TEST_F(AuthorizerTest, ATokenOnSeveralLinesGetsEveryRole) {
  const auto id = standard().for_bearer_token(kBothToken);
  EXPECT_EQ(id.roles, (std::vector<std::string>{"admin", "enroll"}));
  EXPECT_EQ(id.describe(), "bearer:admin+enroll:" + hash_of(kBothToken).substr(0, 8));
}

TEST_F(AuthorizerTest, WrongTokenGetsNothing) {
  const auto a = standard();
  for (const std::string& token : {std::string("enroll-token-8f2d0d"), std::string(""), kEnrollToken + " ",
                                  hash_of(kEnrollToken)}) {
    const auto id = a.for_bearer_token(token);
    EXPECT_EQ(id.kind, Identity::Kind::none) << token;
    EXPECT_TRUE(id.roles.empty());
    EXPECT_EQ(id.describe(), "anonymous");
  }
}

TEST_F(AuthorizerTest, NoTokensFileMeansNoToken) {
  ApplianceConfig c;
  const auto a = Authorizer::from(c);
  EXPECT_EQ(a.for_bearer_token(kEnrollToken).kind, Identity::Kind::none);
}

TEST_F(AuthorizerTest, DescribeNeverContainsTheToken) {
  const auto a = standard();
  for (const auto& token : {kEnrollToken, kAdminToken, kBothToken}) {
    const auto id = a.for_bearer_token(token);
    EXPECT_EQ(id.describe().find(token), std::string::npos);
    EXPECT_EQ(id.name.find(token), std::string::npos);
  }
}

TEST_F(AuthorizerTest, RefusesABadLineNamingFileAndLine) {
  const std::string good = "enroll " + hash_of(kEnrollToken) + "\n";
  std::string message = error_of("# comment\n" + good + "operator " + hash_of(kAdminToken) + "\n");
  EXPECT_EQ(message.rfind(tokens_file() + ":3: the first field is not a role", 0), 0u) << message;
  EXPECT_EQ(message.find("operator"), std::string::npos) << "a token in the wrong column is never printed";

  message = error_of(good + "admin " + hash_of(kAdminToken).substr(1) + "\n");
  EXPECT_EQ(message.rfind(tokens_file() + ":2: the token hash must be 64 hex digits", 0), 0u) << message;

  message = error_of("\n\nadmin " + hash_of(kAdminToken).substr(1) + "g\n");
  EXPECT_EQ(message.rfind(tokens_file() + ":3:", 0), 0u) << message;

  message = error_of("admin " + hash_of(kAdminToken) + " extra\n");
  EXPECT_EQ(message.rfind(tokens_file() + ":1: expected ROLE SHA256-HEX", 0), 0u) << message;

  message = error_of(good + "admin\n");
  EXPECT_EQ(message.rfind(tokens_file() + ":2: expected ROLE SHA256-HEX", 0), 0u) << message;
}

TEST_F(AuthorizerTest, NeverEchoesWhatStandsInPlaceOfAHash) {
  // Someone pasted the token itself instead of its hash.
  const auto message = error_of("admin " + kAdminToken + "\n");
  EXPECT_EQ(message.find(kAdminToken), std::string::npos) << message;
}

const std::string kOpsFingerprint(64, 'a');
const std::string kOtherFingerprint(64, 'b');

TEST_F(AuthorizerTest, AnyValidClientCertificateHoldsAStarRolePinnedOnesTheOthers) {
  ApplianceConfig c;
  c.roles = {{"enroll", {"*"}}, {"admin", {"sha256:" + kOpsFingerprint}}};
  const auto a = Authorizer::from(c);
  auto id = a.for_client_certificate("build-agent-7", kOtherFingerprint);
  EXPECT_EQ(id.kind, Identity::Kind::client_certificate);
  EXPECT_EQ(id.roles, std::vector<std::string>{"enroll"});
  EXPECT_EQ(id.describe(), "mtls:CN=build-agent-7;sha256=" + kOtherFingerprint.substr(0, 16));

  id = a.for_client_certificate("anyone", kOpsFingerprint);
  EXPECT_EQ(id.roles, (std::vector<std::string>{"admin", "enroll"}));
  // A CN is no fingerprint, whatever it says.
  id = a.for_client_certificate("sha256:" + kOpsFingerprint, kOtherFingerprint);
  EXPECT_FALSE(id.has_role("admin"));
}

TEST_F(AuthorizerTest, TheCallerCarriesRolesAndTheCertificatesPin) {
  ApplianceConfig c;
  c.roles = {{"enroll", {"*"}}};
  const auto caller = Authorizer::from(c).for_client_certificate("dev", kOpsFingerprint).caller();
  EXPECT_FALSE(caller.local);
  EXPECT_EQ(caller.roles, std::vector<std::string>{"enroll"});
  EXPECT_EQ(caller.identities, std::vector<std::string>{"sha256:" + kOpsFingerprint});
  EXPECT_EQ(Identity{}.caller().roles.size(), 0u);
  EXPECT_FALSE(Identity{}.caller().local) << "nobody is the CA host's operator by default";
}

TEST_F(AuthorizerTest, CommonNamesGrantRolesOnlyForACaOfAnotherHierarchy) {
  ApplianceConfig c;
  c.roles = {{"admin", {"ops-admin"}}};
  const auto a = Authorizer::from(c);
  EXPECT_TRUE(a.for_client_certificate("ops-admin", kOtherFingerprint).has_role("admin"));
  EXPECT_FALSE(a.for_client_certificate("OPS-ADMIN", kOtherFingerprint).has_role("admin")) << "compared exactly";
  EXPECT_TRUE(a.for_client_certificate("someone-else", kOtherFingerprint).roles.empty());
  EXPECT_TRUE(a.for_client_certificate("", kOtherFingerprint).roles.empty());
}

// client_ca holding a certificate of this CA: anyone who may enroll could
// get a client certificate with any CN.
// client_ca holding only the root, and a CA file that lists no chain: the
// issuing CA chains to client_ca all the same.
// Root -> Issuing, and a client certificate CN=ops-admin that Issuing issued,
// made by stock openssl in DIR: root.pem, issuing.pem, ops.pem.
void make_hierarchy(const std::filesystem::path& dir) {
  const auto run = [](const std::vector<std::string>& argv) {
    auto r = test::run_process(argv);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  };
  const std::string d = dir.string();
  run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
       d + "/root.key", "-subj", "/CN=Root", "-days", "1", "-out", d + "/root.pem"});
  test::write_file(dir / "ca.ext", "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n");
  test::write_file(dir / "leaf.ext", "extendedKeyUsage=clientAuth\n");
  for (const auto& [name, subject, issuer, ext] :
       {std::tuple{"issuing", "/CN=Issuing", "root", "ca.ext"}, std::tuple{"ops", "/CN=ops-admin", "issuing", "leaf.ext"}}) {
    run({"openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
         d + "/" + name + ".key", "-subj", subject, "-out", d + "/" + name + ".csr"});
    run({"openssl", "x509", "-req", "-in", d + "/" + name + ".csr", "-CA", d + "/" + issuer + ".pem", "-CAkey",
         d + "/" + issuer + ".key", "-CAcreateserial", "-days", "1", "-extfile", d + "/" + ext, "-out",
         d + "/" + name + ".pem"});
  }
}

// client_ca holding only the root, and a CA file that lists no chain: the
// issuing CA chains to client_ca all the same.
TEST_F(AuthorizerTest, RefusesARoleByCommonNameWhenClientCaTrustsThisCaOnlyThroughItsRoot) {
  ASSERT_NO_FATAL_FAILURE(make_hierarchy(dir_.path()));
  ApplianceConfig c;
  c.client_ca = dir_ / "root.pem";
  c.roles = {{"admin", {"ops-admin"}}};
  EXPECT_THROW(Authorizer::from(c, signer::read_certificates(dir_ / "issuing.pem")), ConfigError);
}

// Whatever the configuration: a certificate this CA issued is what any enroll
// caller can get, so its CN grants nothing.
TEST_F(AuthorizerTest, ACertificateOfThisCaGetsNoRoleByItsCommonName) {
  ASSERT_NO_FATAL_FAILURE(make_hierarchy(dir_.path()));
  ApplianceConfig c;
  c.roles = {{"enroll", {"*"}}, {"admin", {"ops-admin"}}};
  const auto ops = signer::read_certificates(dir_ / "ops.pem");
  const auto ours = Authorizer::from(c, signer::read_certificates(dir_ / "issuing.pem")).for_client_certificate(ops.front().get());
  EXPECT_EQ(ours.roles, std::vector<std::string>{"enroll"});
  EXPECT_EQ(ours.name, "ops-admin") << "still shown in logs";
  // The same certificate seen by an appliance of another CA: its CN is that CA's business.
  const auto theirs = Authorizer::from(c, signer::read_certificates(dir_ / "root.pem")).for_client_certificate(ops.front().get());
  EXPECT_TRUE(theirs.has_role("admin"));
}

TEST_F(AuthorizerTest, RefusesARoleByCommonNameWhenClientCaTrustsThisCa) {
  auto made = test::run_process({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                                 "-nodes", "-keyout", (dir_ / "ca.key").string(), "-subj", "/CN=This CA", "-days", "1",
                                 "-out", (dir_ / "ca.pem").string()});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  auto ours = signer::read_certificates(dir_ / "ca.pem");
  ApplianceConfig c;
  c.client_ca = dir_ / "ca.pem";
  c.roles = {{"enroll", {"*"}}, {"admin", {"ops-admin"}}};
  try {
    Authorizer::from(c, ours);
    ADD_FAILURE() << "a role by CN was accepted";
  } catch (const ConfigError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("appliance.auth.roles.admin: 'ops-admin'"), std::string::npos) << m;
    EXPECT_NE(m.find("sha256:FINGERPRINT"), std::string::npos) << m;
  }
  c.roles = {{"enroll", {"*"}}, {"admin", {"sha256:" + kOpsFingerprint}}};
  EXPECT_NO_THROW(Authorizer::from(c, ours));
  // Another hierarchy's client CA: names are that CA's business.
  c.roles = {{"admin", {"ops-admin"}}};
  EXPECT_NO_THROW(Authorizer::from(c, {}));
}

// An ACME profile that gives client_auth, while client_ca trusts this CA: one
// passed http-01 challenge would be a client certificate the appliance takes.
TEST_F(AuthorizerTest, RefusesAcmeClientCertificatesWhenClientCaTrustsThisCa) {
  ASSERT_NO_FATAL_FAILURE(make_hierarchy(dir_.path()));
  ApplianceConfig c;
  c.client_ca = dir_ / "root.pem";
  c.roles = {{"enroll", {"*"}}};
  c.acme = AcmeConfig{};
  c.acme->profiles = {"web", "device"};
  c.acme->client_certificates = {"device"};
  try {
    Authorizer::from(c, signer::read_certificates(dir_ / "issuing.pem"));
    ADD_FAILURE() << "ACME client certificates trusted by client_ca were accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("profile 'device' gives client_auth certificates over ACME"), std::string::npos)
        << e.what();
  }
  // Server profiles only: fine. Client certificates from another hierarchy's client CA: fine too.
  c.acme->client_certificates.clear();
  EXPECT_NO_THROW(Authorizer::from(c, signer::read_certificates(dir_ / "issuing.pem")));
  c.acme->client_certificates = {"device"};
  EXPECT_NO_THROW(Authorizer::from(c, {}));
}

TEST(IdentityTest, DescribeEscapesControlCharactersInACommonName) {
  Identity id;
  id.kind = Identity::Kind::client_certificate;
  id.name = "evil\nGET /admin \\ok";
  EXPECT_EQ(id.describe(), "mtls:CN=evil\\x0aGET /admin \\x5cok");
  EXPECT_EQ(Identity{}.describe(), "anonymous");
}

}  // namespace
}  // namespace hsmca::appliance
