#include "hsmca/appliance/config.hpp"

#include <gtest/gtest.h>

#include <functional>

#include "softhsm_env.hpp"

namespace hsmca::appliance {
namespace {

using signer::ConfigError;
namespace fs = std::filesystem;

constexpr const char* kFullBlock = R"(appliance:
  listen: 127.0.0.1:8443
  public_listen: "[::1]:8080"
  tls: {certificate: server-chain.pem, key: server.key}
  auth:
    client_ca: clients-ca.pem
    roles: {enroll: ["*"], admin: ["ops-admin", "backup-admin"]}
    tokens_file: api-tokens
  default_profile: server
)";

// A CA file with the given appliance block (YAML text starting at column 0),
// beside the files the block names.
class ApplianceConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {"server-chain.pem", "clients-ca.pem"}) test::write_file(dir_ / name, "placeholder\n");
    for (const char* name : {"server.key", "api-tokens"}) test::write_secret_file(dir_ / name, "placeholder\n");
  }

  signer::CaConfig ca(const std::string& appliance_block, int sessions = 4) const {
    const std::string text = "pkcs11:\n  module: /usr/lib/softhsm/libsofthsm2.so\n  token: Example Issuing Token\n"
                             "  sessions: " + std::to_string(sessions) + "\n"
                             "issuer:\n  key_label: issuing-1\n  certificate: issuing.crt\n"
                             "ledger: ledger.db\n"
                             "profiles:\n"
                             "  server: {validity_days: 90, extended_key_usage: [server_auth]}\n"
                             "  client: {validity_days: 30, extended_key_usage: [client_auth]}\n"
                             "  web: {validity_days: 90, extended_key_usage: [server_auth], requesters: [acme]}\n" +
                             appliance_block;
    test::write_file(dir_ / "ca.yaml", text);
    return signer::CaConfig::load(dir_ / "ca.yaml");
  }

  ApplianceConfig load(const std::string& appliance_block, int sessions = 4) const {
    return ApplianceConfig::from(ca(appliance_block, sessions));
  }

  // The ConfigError's message, or a note that none was thrown.
  std::string error_of(const std::string& appliance_block) const {
    try {
      load(appliance_block);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "(no ConfigError)";
  }

  static std::string replace(std::string text, const std::string& from, const std::string& to) {
    const auto at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) text.replace(at, from.size(), to);
    return text;
  }

  test::TempDir dir_;
};

TEST_F(ApplianceConfigTest, ParsesTheFullExample) {
  const auto c = load(kFullBlock);
  EXPECT_EQ(c.listen.host, "127.0.0.1");
  EXPECT_EQ(c.listen.port, 8443);
  EXPECT_EQ(c.public_listen.host, "::1");
  EXPECT_EQ(c.public_listen.port, 8080);
  EXPECT_EQ(c.tls_certificate, dir_ / "server-chain.pem");
  EXPECT_EQ(c.tls_key, dir_ / "server.key");
  EXPECT_EQ(c.client_ca, dir_ / "clients-ca.pem");
  EXPECT_EQ(c.tokens_file, dir_ / "api-tokens");
  EXPECT_TRUE(c.tls_certificate.is_absolute());
  const std::map<std::string, std::vector<std::string>> roles{{"enroll", {"*"}}, {"admin", {"ops-admin", "backup-admin"}}};
  EXPECT_EQ(c.roles, roles);
  EXPECT_EQ(c.default_profile, "server");
  EXPECT_EQ(c.max_connections, 1024u);
  EXPECT_EQ(c.body_limit, 65536u);
  EXPECT_EQ(c.header_limit, 8192u);
  EXPECT_EQ(c.handshake_timeout, std::chrono::milliseconds(10'000));
  EXPECT_EQ(c.read_timeout, std::chrono::milliseconds(30'000));
  EXPECT_EQ(c.idle_timeout, std::chrono::milliseconds(60'000));
  EXPECT_EQ(c.write_timeout, std::chrono::milliseconds(30'000));
  EXPECT_EQ(c.shutdown_grace, std::chrono::milliseconds(10'000));
  EXPECT_EQ(c.io_threads, 2u);
  EXPECT_TRUE(c.root_crl.empty()) << "no root CRL unless one is named";
}

TEST_F(ApplianceConfigTest, ARootCrlMayBeNamedBeforeItExists) {
  const auto c = load(std::string(kFullBlock) + "  root_crl: published/root.crl\n");
  EXPECT_EQ(c.root_crl, dir_ / "published/root.crl");
}

TEST_F(ApplianceConfigTest, ReadsEveryLimit) {
  const auto c = load(std::string(kFullBlock) +
                      "  limits: {max_connections: 10, body_limit: 2000, header_limit: 3000, handshake_timeout_ms: 4,"
                      " read_timeout_ms: 5, idle_timeout_ms: 6, write_timeout_ms: 7, shutdown_grace_ms: 0,"
                      " io_threads: 9, workers: 11, queue_limit: 12}\n");
  EXPECT_EQ(c.max_connections, 10u);
  EXPECT_EQ(c.body_limit, 2000u);
  EXPECT_EQ(c.header_limit, 3000u);
  EXPECT_EQ(c.handshake_timeout, std::chrono::milliseconds(4));
  EXPECT_EQ(c.read_timeout, std::chrono::milliseconds(5));
  EXPECT_EQ(c.idle_timeout, std::chrono::milliseconds(6));
  EXPECT_EQ(c.write_timeout, std::chrono::milliseconds(7));
  EXPECT_EQ(c.shutdown_grace, std::chrono::milliseconds(0));
  EXPECT_EQ(c.io_threads, 9u);
  EXPECT_EQ(c.workers, 11u);
  EXPECT_EQ(c.queue_limit, 12u);
}

TEST_F(ApplianceConfigTest, RefusesLimitsOutOfRangeNamingTheLimit) {
  EXPECT_NE(error_of(std::string(kFullBlock) + "  limits: {io_threads: 0}\n").find("appliance.limits.io_threads must be between"),
            std::string::npos);
  EXPECT_NE(error_of(std::string(kFullBlock) + "  limits: {body_limit: lots}\n").find("appliance.limits.body_limit must be a whole number"),
            std::string::npos);
  EXPECT_NE(error_of(std::string(kFullBlock) + "  limits: {read_timeout_ms: -1}\n").find("appliance.limits.read_timeout_ms"),
            std::string::npos);
}

TEST_F(ApplianceConfigTest, ResolvesWorkersToFourPerTokenSessionAndQueueToEightPerWorker) {
  auto c = load(kFullBlock, 3);
  EXPECT_EQ(c.workers, 12u);
  EXPECT_EQ(c.queue_limit, 96u);

  c = load(std::string(kFullBlock) + "  limits: {workers: 5}\n", 3);
  EXPECT_EQ(c.workers, 5u);
  EXPECT_EQ(c.queue_limit, 40u);

  c = load(std::string(kFullBlock) + "  limits: {workers: 0, queue_limit: 7}\n", 2);
  EXPECT_EQ(c.workers, 8u);
  EXPECT_EQ(c.queue_limit, 7u);
}

TEST_F(ApplianceConfigTest, RefusesAnUnknownKeyAtEveryLevelNamingIt) {
  EXPECT_EQ(error_of(std::string(kFullBlock) + "  listne: 127.0.0.1:1\n"), "unknown key appliance.listne");
  EXPECT_EQ(error_of(replace(kFullBlock, "key: server.key", "key: server.key, keyfile: x")),
            "unknown key appliance.tls.keyfile");
  EXPECT_EQ(error_of(replace(kFullBlock, "    tokens_file:", "    rolez: {}\n    tokens_file:")),
            "unknown key appliance.auth.rolez");
  EXPECT_EQ(error_of(std::string(kFullBlock) + "  limits: {max_conections: 5}\n"),
            "unknown key appliance.limits.max_conections");
}

TEST_F(ApplianceConfigTest, ReportsAMisspeltKeyRatherThanTheMissingOne) {
  EXPECT_EQ(error_of(replace(kFullBlock, "{certificate: server-chain.pem", "{certifcate: server-chain.pem")),
            "unknown key appliance.tls.certifcate");
}

TEST_F(ApplianceConfigTest, RefusesAMissingTlsFileNamingKeyAndPath) {
  std::filesystem::remove(dir_ / "server.key");
  const auto message = error_of(kFullBlock);
  EXPECT_NE(message.find("appliance.tls.key"), std::string::npos) << message;
  EXPECT_NE(message.find((dir_ / "server.key").string()), std::string::npos) << message;

  EXPECT_NE(error_of(replace(kFullBlock, "server-chain.pem", "nowhere/chain.pem")).find("appliance.tls.certificate: no such file"),
            std::string::npos);
  EXPECT_EQ(error_of(replace(kFullBlock, "tls: {certificate: server-chain.pem, key: server.key}", "tls: {key: server.key}")),
            "missing appliance.tls.certificate");
}

TEST_F(ApplianceConfigTest, RefusesAMissingClientCaOrTokensFile) {
  std::filesystem::remove(dir_ / "clients-ca.pem");
  EXPECT_NE(error_of(kFullBlock).find("appliance.auth.client_ca: no such file"), std::string::npos);
  test::write_file(dir_ / "clients-ca.pem", "x");
  std::filesystem::remove(dir_ / "api-tokens");
  EXPECT_NE(error_of(kFullBlock).find("appliance.auth.tokens_file: no such file"), std::string::npos);
  std::filesystem::create_directory(dir_ / "api-tokens");
  EXPECT_NE(error_of(kFullBlock).find("is not a file"), std::string::npos);
}

TEST_F(ApplianceConfigTest, RefusesATlsKeyOrTokensFileThatOthersMayReadOrChange) {
  namespace fs = std::filesystem;
  const auto key = (dir_ / "server.key").string();
  fs::permissions(key, fs::perms::others_read, fs::perm_options::add);
  EXPECT_EQ(error_of(kFullBlock), "appliance.tls.key: " + key + " is readable by others: chmod 600 " + key);
  fs::permissions(key, fs::perms::others_read, fs::perm_options::remove);
  fs::permissions(key, fs::perms::group_write, fs::perm_options::add);
  EXPECT_EQ(error_of(kFullBlock), "appliance.tls.key: " + key + " is writable by group or others: chmod 600 " + key);
  fs::permissions(key, fs::perms::owner_read | fs::perms::group_read, fs::perm_options::replace);

  const auto tokens = (dir_ / "api-tokens").string();
  fs::permissions(tokens, fs::perms::others_write, fs::perm_options::add);
  EXPECT_EQ(error_of(kFullBlock),
            "appliance.auth.tokens_file: " + tokens + " is writable by group or others: chmod 600 " + tokens);
  fs::permissions(tokens, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
  // Readable by the owner and its group (a key shared with the service's group) is fine.
  EXPECT_EQ(load(kFullBlock).tls_key, dir_ / "server.key");
}

TEST_F(ApplianceConfigTest, TakesAbsolutePathsAsTheyAre) {
  const auto c = load(replace(kFullBlock, "key: server.key", "key: " + (dir_ / "server.key").string()));
  EXPECT_EQ(c.tls_key, dir_ / "server.key");
}

TEST_F(ApplianceConfigTest, LeavesClientCaAndTokensOptional) {
  const auto c = load(
      "appliance:\n  listen: 0.0.0.0:0\n  public_listen: 127.0.0.1:0\n"
      "  tls: {certificate: server-chain.pem, key: server.key}\n  auth: {}\n  default_profile: client\n");
  EXPECT_TRUE(c.client_ca.empty());
  EXPECT_TRUE(c.tokens_file.empty());
  EXPECT_TRUE(c.roles.empty());
  EXPECT_EQ(c.listen.port, 0);
}

TEST_F(ApplianceConfigTest, RefusesABadEndpointNamingTheKey) {
  const auto message = error_of(replace(kFullBlock, "listen: 127.0.0.1:8443", "listen: 127.0.0.1:99999"));
  EXPECT_EQ(message.rfind("appliance.listen: '127.0.0.1:99999'", 0), 0u) << message;
  EXPECT_NE(error_of(replace(kFullBlock, "\"[::1]:8080\"", "8080")).find("appliance.public_listen"), std::string::npos);
}

TEST_F(ApplianceConfigTest, RefusesAnUnknownDefaultProfileListingTheProfiles) {
  EXPECT_EQ(error_of(replace(kFullBlock, "default_profile: server", "default_profile: email")),
            "appliance.default_profile: 'email' is not a profile of the CA file (server, client, web)");
  EXPECT_EQ(error_of(replace(kFullBlock, "  default_profile: server\n", "")), "missing appliance.default_profile");
}

TEST_F(ApplianceConfigTest, RefusesARoleOtherThanEnrollOrAdmin) {
  const auto message = error_of(replace(kFullBlock, "admin: [", "superuser: ["));
  EXPECT_NE(message.find("appliance.auth.roles.superuser"), std::string::npos) << message;
  EXPECT_NE(message.find("enroll and admin"), std::string::npos) << message;
}

TEST_F(ApplianceConfigTest, GrantsAnyCertificateTheEnrollRoleOnlyAndReadsFingerprintPins) {
  const auto star = error_of(replace(kFullBlock, "admin: [\"ops-admin\"", "admin: [\"*\""));
  EXPECT_EQ(star.rfind("appliance.auth.roles.admin: \"*\" (any valid client certificate) may only be granted the "
                       "enroll role", 0), 0u) << star;
  const std::string pin(64, 'A');
  const auto c = load(replace(kFullBlock, "\"backup-admin\"", "\"sha256:" + pin + "\""));
  EXPECT_EQ(c.roles.at("admin").back(), "sha256:" + std::string(64, 'a')) << "kept lowercase, as fingerprints compare";
  const auto short_pin = error_of(replace(kFullBlock, "\"backup-admin\"", "\"sha256:abcd\""));
  EXPECT_NE(short_pin.find("64 hex digits"), std::string::npos) << short_pin;
  const auto colons = error_of(replace(kFullBlock, "\"backup-admin\"", "\"sha256:AB:CD\""));
  EXPECT_NE(colons.find("without colons"), std::string::npos) << colons;
}

TEST_F(ApplianceConfigTest, RefusesRoleCommonNamesWithoutAClientCa) {
  EXPECT_NE(error_of(replace(kFullBlock, "    client_ca: clients-ca.pem\n", "")).find("appliance.auth.client_ca is not set"),
            std::string::npos);
}

TEST_F(ApplianceConfigTest, RefusesACaFileWithoutAnApplianceBlock) {
  EXPECT_EQ(error_of("").rfind("missing appliance", 0), 0u);
}

TEST(EndpointTest, ParsesIpv4AndBracketedIpv6) {
  auto e = parse_endpoint("127.0.0.1:8443", "k");
  EXPECT_EQ(e.host, "127.0.0.1");
  EXPECT_EQ(e.port, 8443);
  e = parse_endpoint("[::1]:0", "k");
  EXPECT_EQ(e.host, "::1");
  EXPECT_EQ(e.port, 0);
  e = parse_endpoint("0.0.0.0:65535", "k");
  EXPECT_EQ(e.host, "0.0.0.0");
  EXPECT_EQ(e.port, 65535);
  e = parse_endpoint("[fe80::1:2]:443", "k");
  EXPECT_EQ(e.host, "fe80::1:2");
  EXPECT_EQ(e.port, 443);
}

TEST(EndpointTest, RefusesMalformedEndpointsNamingTheKey) {
  for (const char* text : {"", "127.0.0.1", "127.0.0.1:", ":8443", "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:+1",
                           "127.0.0.1:80x", "127.0.0.1: 80", "::1:8443", "[::1]8443", "[::1", "[::1]:", "[127.0.0.1]:80",
                           "[]:80", "host.example.test:80", "256.0.0.1:80", "127.0.0.1:0000080"}) {
    SCOPED_TRACE(text);
    try {
      parse_endpoint(text, "appliance.listen");
      ADD_FAILURE() << "accepted";
    } catch (const ConfigError& e) {
      EXPECT_EQ(std::string(e.what()).rfind("appliance.listen: '" + std::string(text) + "'", 0), 0u) << e.what();
    }
  }
}

TEST_F(ApplianceConfigTest, GrantsRolesToPasswordUsersOnlyWithAnHtpasswdFile) {
  test::write_secret_file(dir_ / "est-users", "placeholder\n");
  const std::string block = replace(kFullBlock, "roles: {enroll: [\"*\"], admin: [\"ops-admin\", \"backup-admin\"]}",
                                    "roles: {enroll: [\"user:device-bootstrap\"]}");
  EXPECT_NE(error_of(block).find("htpasswd is not set"), std::string::npos) << error_of(block);
  const auto c = load(replace(block, "    tokens_file: api-tokens\n", "    tokens_file: api-tokens\n    htpasswd: est-users\n"));
  EXPECT_EQ(c.htpasswd, dir_ / "est-users");
  EXPECT_EQ(c.roles.at("enroll"), std::vector<std::string>{"user:device-bootstrap"});
  // A password user needs no client_ca: it is not a certificate.
  const auto without_ca = load(replace(replace(block, "    client_ca: clients-ca.pem\n", ""), "    tokens_file: api-tokens\n",
                                       "    tokens_file: api-tokens\n    htpasswd: est-users\n"));
  EXPECT_TRUE(without_ca.client_ca.empty());
  EXPECT_NE(error_of(replace(block, "user:device-bootstrap", "user:")).find("not user: followed by"), std::string::npos);
}

TEST_F(ApplianceConfigTest, RefusesAnHtpasswdFileOthersMayRead) {
  test::write_file(dir_ / "est-users", "placeholder\n");
  fs::permissions(dir_ / "est-users", fs::perms::owner_read | fs::perms::owner_write | fs::perms::others_read);
  const auto why = error_of(replace(kFullBlock, "    tokens_file: api-tokens\n", "    tokens_file: api-tokens\n    htpasswd: est-users\n"));
  EXPECT_NE(why.find("appliance.auth.htpasswd"), std::string::npos) << why;
}

TEST_F(ApplianceConfigTest, AcmeIsOffWithoutItsBlockAndRequiresEabByDefault) {
  EXPECT_FALSE(load(kFullBlock).acme);
  const auto c = load(std::string(kFullBlock) + "  acme:\n    profile: web\n"
                                                 "    validation: {dns_server: 127.0.0.1:5353, http_port: 5002}\n");
  ASSERT_TRUE(c.acme);
  EXPECT_EQ(c.acme->profile, "web");
  EXPECT_TRUE(c.acme->external_account_binding);
  EXPECT_EQ(c.acme->dns_server, "127.0.0.1:5353");
  EXPECT_EQ(c.acme->http_port, 5002);
  EXPECT_EQ(c.acme->tls_port, 443);
  EXPECT_EQ(c.acme->order_lifetime_hours, 24);
  const auto off = load(std::string(kFullBlock) + "  acme: {profile: web, external_account_binding: false}\n");
  EXPECT_FALSE(off.acme->external_account_binding);
  // Offered profiles: acme.profile alone unless acme.profiles lists more.
  EXPECT_EQ(c.acme->profiles, std::vector<std::string>{"web"});
  EXPECT_TRUE(c.acme->client_certificates.empty());
}

TEST_F(ApplianceConfigTest, OffersOverAcmeOnlyTheListedProfilesThatGrantAcme) {
  const std::string devices = "  devices: {validity_days: 7, extended_key_usage: [client_auth], requesters: [acme]}\n";
  const std::string block = devices + std::string(kFullBlock);
  // The devices profile sits in the profiles block, before appliance:.
  const auto c = load(block + "  acme: {profile: web, profiles: [web, devices]}\n");
  EXPECT_EQ(c.acme->profiles, (std::vector<std::string>{"web", "devices"}));
  EXPECT_EQ(c.acme->client_certificates, std::vector<std::string>{"devices"});
  EXPECT_EQ(error_of(block + "  acme: {profile: web, profiles: [web, server]}\n"),
            "appliance.acme.profiles: profile 'server' does not list acme among its requesters; add it (requesters: "
            "[acme]) to let ACME accounts order it");
  EXPECT_EQ(error_of(block + "  acme: {profile: web, profiles: [devices]}\n"),
            "appliance.acme.profile: 'web' is not among appliance.acme.profiles; the default profile must be one of "
            "those offered");
  EXPECT_NE(error_of(block + "  acme: {profile: web, profiles: [web, nope]}\n").find("'nope' is not a profile"),
            std::string::npos);
}

TEST_F(ApplianceConfigTest, RefusesAnAcmeProfileWhoseRequestersDoNotListAcme) {
  EXPECT_EQ(error_of(std::string(kFullBlock) + "  acme: {profile: server}\n"),
            "appliance.acme.profile: profile 'server' does not list acme among its requesters; add it (requesters: "
            "[acme]) to let ACME accounts order it");
  EXPECT_NE(error_of(std::string(kFullBlock) + "  acme: {profile: web, externel_account_binding: true}\n")
                .find("externel_account_binding"),
            std::string::npos);
  EXPECT_NE(error_of(std::string(kFullBlock) + "  acme: {profile: web, validation: {dns_server: resolver}}\n")
                .find("appliance.acme.validation.dns_server"),
            std::string::npos);
}

}  // namespace
}  // namespace hsmca::appliance
