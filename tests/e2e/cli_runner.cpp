#include "cli_runner.hpp"

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

nlohmann::json read_json(const std::filesystem::path& path) { return nlohmann::json::parse(read_file(path)); }

}  // namespace hsmca::test
