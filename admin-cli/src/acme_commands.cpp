// hsmca acme eab add|list|revoke: External Account Binding keys (RFC 8555
// 7.3.4) in the ledger. The HMAC key is printed once, when it is made.
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "hsmca/signer/acme_store.hpp"
#include "hsmca/signer/ca_config.hpp"
#include "hsmca/signer/clock.hpp"
#include "hsmca/signer/ledger.hpp"
#include "hsmca/signer/openssl.hpp"

namespace hsmca::cli {
namespace {

std::int64_t now_unix() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// RFC 4648 5 without padding, as ACME clients take the key (certbot --eab-hmac-key, lego --hmac).
std::string base64url(const std::vector<unsigned char>& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (auto& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return out;
}

}  // namespace

int acme_eab_add(const std::string& config_file, const std::string& label, bool json) {
  if (label.empty() || label.size() > 128 || label.find('\n') != std::string::npos) {
    throw signer::ConfigError("--label must be one line of at most 128 characters");
  }
  const auto config = signer::CaConfig::load(config_file);
  auto ledger = signer::open_sqlite_ledger(config.ledger);
  signer::AcmeEabKey key;
  key.kid = signer::random_acme_id();
  key.label = label;
  key.hmac_key.resize(32);  // HS256's block of entropy
  if (RAND_bytes(key.hmac_key.data(), static_cast<int>(key.hmac_key.size())) != 1) {
    signer::drain_openssl_errors();
    throw std::runtime_error("RAND_bytes failed");
  }
  key.created_at = now_unix();
  ledger->acme().add_eab_key(key);
  const std::string hmac = base64url(key.hmac_key);
  OPENSSL_cleanse(key.hmac_key.data(), key.hmac_key.size());
  if (json) {
    std::cout << nlohmann::json{{"kid", key.kid}, {"hmac_key", hmac}, {"label", label}}.dump() << "\n";
  } else {
    std::cout << "kid: " << key.kid << "\nhmac_key: " << hmac
              << "\n(the HMAC key is shown this once; give both to the ACME client: certbot --eab-kid KID "
                 "--eab-hmac-key KEY)\n";
  }
  return 0;
}

int acme_eab_list(const std::string& config_file, bool json) {
  const auto config = signer::CaConfig::load(config_file);
  auto ledger = signer::open_sqlite_ledger(config.ledger);
  const auto keys = ledger->acme().eab_keys();
  nlohmann::json out = nlohmann::json::array();
  for (const auto& k : keys) {
    nlohmann::json j = {{"kid", k.kid},
                        {"label", k.label},
                        {"created_at", signer::rfc3339(k.created_at)},
                        {"status", k.revoked_at ? "revoked" : (k.account_id.empty() ? "unused" : "bound")}};
    if (!k.account_id.empty()) j["account"] = k.account_id;
    if (k.revoked_at) j["revoked_at"] = signer::rfc3339(*k.revoked_at);
    out.push_back(j);
  }
  if (json) {
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  for (const auto& j : out) {
    std::cout << j["kid"].get<std::string>() << "  " << j["status"].get<std::string>() << "  "
              << j["created_at"].get<std::string>() << "  " << j["label"].get<std::string>();
    if (j.contains("account")) std::cout << "  account " << j["account"].get<std::string>();
    std::cout << "\n";
  }
  return 0;
}

int acme_eab_revoke(const std::string& config_file, const std::string& kid) {
  const auto config = signer::CaConfig::load(config_file);
  auto ledger = signer::open_sqlite_ledger(config.ledger);
  if (!ledger->acme().revoke_eab_key(kid, now_unix())) {
    throw signer::ConfigError("no external account binding key " + kid + " in the ledger " + config.ledger.string());
  }
  std::cout << "revoked " << kid << ": no new account can bind with it\n";
  return 0;
}

}  // namespace hsmca::cli
