#include "cli_runner.hpp"

#include <openssl/sha.h>

#include <algorithm>
#include <cctype>

namespace hsmca::test {

ProcessResult hsmca(const std::vector<std::string>& args, std::map<std::string, std::string> env) {
  SoftHsmEnv::get();  // SOFTHSM2_CONF is set before the child inherits the environment
  env.try_emplace("HSMCA_PIN", kUserPin);
  std::vector<std::string> argv{built_program("hsmca")};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, env);
}

ProcessResult openssl(const std::vector<std::string>& args, std::map<std::string, std::string> env) {
  std::vector<std::string> argv{"openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, env);
}

std::string root_ceremony_yaml(const std::string& token, const std::string& label, const std::string& type,
                               const std::string& extra_certificate_lines) {
  return "ceremony: root\n"
         "pkcs11:\n"
         "  module: " + std::string(kSoftHsmModule) + "\n"
         "  token: " + token + "\n"
         "key:\n"
         "  label: " + label + "\n"
         "  type: " + type + "\n"
         "certificate:\n"
         "  subject:\n"
         "    common_name: Test Root CA\n"
         "    organization: Test Org\n"
         "    country: US\n"
         "  validity_days: 3650\n" +
         extra_certificate_lines +
         "outputs:\n"
         "  certificate: root.crt\n"
         "  transcript: root-ceremony.json\n";
}

std::string openssl_fingerprint(const std::filesystem::path& pem) {
  auto r = openssl({"x509", "-in", pem.string(), "-noout", "-fingerprint", "-sha256"});
  // "sha256 Fingerprint=AB:CD:..."
  std::string fp = r.out.substr(r.out.find('=') + 1);
  std::string out;
  for (char c : fp) {
    if (std::isxdigit(static_cast<unsigned char>(c))) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

std::string sha256_hex(const std::string& data) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : md) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

nlohmann::json read_json(const std::filesystem::path& path) { return nlohmann::json::parse(read_file(path)); }

std::string intermediate_ceremony_yaml(int days, const std::string& out) {
  return "ceremony: intermediate\n"
         "pkcs11: {module: " HSMCA_SOFTHSM_MODULE ", token: Issuing Token}\n"
         "key: {label: " + out + "-1, type: ec-p256}\n"
         "issuer:\n"
         "  certificate: root.crt\n"
         "  pkcs11: {module: " HSMCA_SOFTHSM_MODULE ", token: Root Token}\n"
         "  key_label: root-key\n"
         "certificate:\n"
         "  subject: {common_name: Test Issuing CA, organization: Test Org, country: US}\n"
         "  validity_days: " + std::to_string(days) + "\n"
         "  path_length: 0\n"
         "outputs: {certificate: " + out + ".crt, transcript: " + out + "-ceremony.json}\n";
}

std::string ocsp_signer_ceremony_yaml(const std::string& issuer_extra) {
  return "ceremony: ocsp-signer\n"
         "pkcs11: {module: " HSMCA_SOFTHSM_MODULE ", token: Issuing Token}\n"
         "key: {label: ocsp-1, type: ec-p256}\n"
         "issuer:\n"
         "  certificate: issuing.crt\n"
         "  pkcs11: {module: " HSMCA_SOFTHSM_MODULE ", token: Issuing Token}\n"
         "  key_label: issuing-1\n" +
         issuer_extra +
         "certificate:\n"
         "  subject: {common_name: Test OCSP Responder, organization: Test Org}\n"
         "  validity_days: 30\n"
         "outputs: {certificate: ocsp-signer.crt, transcript: ocsp-signer-ceremony.json}\n";
}

void make_test_ca(const std::filesystem::path& dir, const std::string& extra_ca_yaml) {
  auto& env = SoftHsmEnv::get();
  env.init_token("Root Token");
  env.init_token("Issuing Token");
  write_file(dir / "root.yaml", root_ceremony_yaml("Root Token", "root-key", "ec-p384"));
  auto root = hsmca({"ceremony", "run", (dir / "root.yaml").string()});
  if (root.exit_code != 0) throw std::runtime_error("root ceremony failed: " + root.err);
  write_file(dir / "issuing.yaml", intermediate_ceremony_yaml(1825, "issuing"));
  auto issuing = hsmca({"ceremony", "run", (dir / "issuing.yaml").string()});
  if (issuing.exit_code != 0) throw std::runtime_error("intermediate ceremony failed: " + issuing.err);
  write_file(dir / "ca.yaml",
             "pkcs11: {module: " HSMCA_SOFTHSM_MODULE ", token: Issuing Token, sessions: 4}\n"
             "issuer:\n"
             "  key_label: issuing-1\n"
             "  certificate: issuing.crt\n"
             "  chain: [root.crt]\n"
             "ledger: ledger.db\n"
             "profiles:\n"
             "  server:\n"
             "    validity_days: 90\n"
             "    extended_key_usage: [server_auth]\n"
             "    allowed_dns_suffixes: [example.test]\n"
             "    requesters: [enroll]\n"
             "  host:\n"
             "    validity_days: 90\n"
             "    extended_key_usage: [server_auth]\n"
             "    names: {dns: [example.test], ip: [127.0.0.1]}\n"
             "  client:\n"
             "    validity_days: 30\n"
             "    extended_key_usage: [client_auth]\n"
             "    requesters: [enroll]\n"
             "    names: {common_name: text}\n" +
                 extra_ca_yaml);
}

std::filesystem::path openssl_csr(const std::filesystem::path& dir, const std::string& name, const std::string& subject,
                                  const std::string& san, const std::string& key) {
  std::vector<std::string> args{"req", "-new", "-nodes", "-keyout", (dir / (name + ".key")).string(), "-subj", subject,
                                "-out", (dir / (name + ".csr")).string()};
  if (key == "ec:P-256") {
    args.insert(args.end(), {"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"});
  } else {
    args.insert(args.end(), {"-newkey", key});
  }
  if (!san.empty()) args.insert(args.end(), {"-addext", "subjectAltName=" + san});
  auto r = openssl(args);
  if (r.exit_code != 0) throw std::runtime_error("openssl req failed: " + r.err);
  return dir / (name + ".csr");
}

}  // namespace hsmca::test
