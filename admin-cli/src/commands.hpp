#pragma once
// Front-end commands: each parses nothing itself (CLI11 did), does one job
// through token/ and signer/, prints its result and returns the exit code.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace hsmca::signer {
struct CaConfig;
}

namespace hsmca::cli {

struct TokenOptions {
  std::string module;
  std::string token;   // label or pkcs11: URI
  std::string serial;
};

int token_init(const std::string& module, const std::string& label);
int token_list(const std::string& module, bool json);
int key_generate(const TokenOptions& target, const std::string& label, const std::string& type, bool json);
int key_show(const TokenOptions& target, const std::string& label, bool json);
int ceremony_run(const std::string& file);

struct SignOptions {
  std::string config;
  std::vector<std::string> csrs;
  std::string profile;
  std::optional<int> days;
  std::string out;
  std::string out_dir;
  bool chain = false;
  bool der = false;
};

int sign(const SignOptions& options);
int certs_list(const std::string& config, bool json);
int certs_show(const std::string& config, const std::string& serial, bool json);

int revoke(const std::string& config, const std::string& serial, const std::string& reason);

int acme_eab_add(const std::string& config, const std::string& label, bool json);
int acme_eab_list(const std::string& config, bool json);
int acme_eab_revoke(const std::string& config, const std::string& kid);
int crl(const std::string& config, const std::string& out, bool der);

// Shared by the ledger commands (sign_commands.cpp).
// The issuer id (its SKI) from the issuer certificate alone: reading and
// revoking in the ledger needs no token.
std::string issuer_id_of(const signer::CaConfig& config);

}  // namespace hsmca::cli
