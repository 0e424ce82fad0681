#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "process.hpp"
#include "softhsm_env.hpp"

namespace hsmca::test {

// Runs build/bin/hsmca against this process's SoftHSM directory, with the
// test user PIN in HSMCA_PIN unless `env` says otherwise.
ProcessResult hsmca(const std::vector<std::string>& args, std::map<std::string, std::string> env = {});

// Runs the openssl command line; fails the test when it cannot be started.
ProcessResult openssl(const std::vector<std::string>& args, std::map<std::string, std::string> env = {});

// Ceremony file text for a root on `token` with the given key label and type.
std::string root_ceremony_yaml(const std::string& token, const std::string& label, const std::string& type,
                               const std::string& extra_certificate_lines = "");

// The SHA-256 fingerprint openssl reports for a PEM certificate: lowercase, no colons.
std::string openssl_fingerprint(const std::filesystem::path& pem);

// Lowercase hex SHA-256 of `data`, worked out here rather than by the program
// under test.
std::string sha256_hex(const std::string& data);

nlohmann::json read_json(const std::filesystem::path& path);

// A two-level CA made with hsmca alone in `dir`: tokens "Root Token" and
// "Issuing Token", root.crt (ec-p384 key root-key), issuing.crt (ec-p256 key
// issuing-1), and ca.yaml (profiles server — example.test only — and client,
// ledger ledger.db) followed by `extra_ca_yaml`.
void make_test_ca(const std::filesystem::path& dir, const std::string& extra_ca_yaml = "");
std::string intermediate_ceremony_yaml(int days, const std::string& out);
// `ceremony: ocsp-signer` for key ocsp-1 in the Issuing Token, certified by
// issuing-1 for 30 days: ocsp-signer.crt; `issuer_extra`: more issuer lines.
std::string ocsp_signer_ceremony_yaml(const std::string& issuer_extra = "");

// A key and CSR made by stock openssl: DIR/NAME.key, DIR/NAME.csr (PEM).
std::filesystem::path openssl_csr(const std::filesystem::path& dir, const std::string& name, const std::string& subject,
                                  const std::string& san = "", const std::string& key = "ec:P-256");

}  // namespace hsmca::test
