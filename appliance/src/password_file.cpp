#include "hsmca/appliance/password_file.hpp"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <fstream>
#include <memory>

#include "hsmca/signer/strict_yaml.hpp"

namespace hsmca::appliance {
namespace {

using signer::ConfigError;

// crypt_rn into a buffer of our own: thread-safe, and wiped after use (it
// holds the password's working state). nullopt when libcrypt refuses the setting.
std::optional<std::string> hash_with(std::string_view password, const std::string& setting) {
  auto data = std::make_unique<crypt_data>();
  const std::string phrase(password);
  const char* out = crypt_rn(phrase.c_str(), setting.c_str(), data.get(), sizeof(crypt_data));
  std::optional<std::string> result;
  // libxcrypt marks failure with a leading '*' (and nullptr from crypt_rn).
  if (out != nullptr && out[0] != '*') result = std::string(out);
  OPENSSL_cleanse(data.get(), sizeof(crypt_data));
  return result;
}

std::string_view weakness(std::string_view hash) {
  if (hash.starts_with("{SHA}")) return "an unsalted {SHA} hash";
  if (hash.starts_with("$apr1$")) return "an apr1 MD5 hash";
  if (hash.starts_with("$1$")) return "an MD5-crypt hash";
  if (hash.starts_with("$2a$")) return "a $2a$ bcrypt hash (the variant with a known flaw)";
  if (hash.starts_with("$5$")) return "a sha256-crypt hash";
  if (hash.size() == 13 && hash.find('$') == std::string_view::npos) return "a DES crypt hash (8 characters at most)";
  if (!hash.starts_with("$")) return "what looks like a plain-text password";
  return "a hash format hsmca does not take";
}

// What decides how long checking a hash takes: its algorithm and cost
// ("$2y$10$..." -> "bcrypt 10", "$6$rounds=9000$..." -> "sha512-crypt
// rounds=9000", "$y$j9T$..." -> "yescrypt j9T").
std::string cost_of(std::string_view hash) {
  const auto field = [&](std::size_t n) {
    std::size_t at = 0;
    for (std::size_t i = 0; i < n; ++i) at = hash.find('$', at) + 1;
    return std::string(hash.substr(at, hash.find('$', at) - at));
  };
  if (hash.starts_with("$2")) return "bcrypt " + field(2);
  if (hash.starts_with("$y$")) return "yescrypt " + field(2);
  const std::string rounds = field(2);
  return "sha512-crypt " + (rounds.starts_with("rounds=") ? rounds : std::string("rounds=5000"));
}

// libcrypt takes the setting (crypt_checksalt) and what follows the last '$'
// has its algorithm's full length: bcrypt 53 characters (22 of salt, 31 of
// hash), sha512-crypt 86, yescrypt 43.
bool complete_hash(const std::string& hash) {
  if (crypt_checksalt(hash.c_str()) != CRYPT_SALT_OK) return false;
  const std::size_t checksum = hash.size() - hash.rfind('$') - 1;
  if (hash.starts_with("$2")) return checksum == 53;
  return checksum == (hash.starts_with("$6$") ? 86u : 43u);
}

}  // namespace

bool is_strong_password_hash(std::string_view hash) noexcept {
  return hash.starts_with("$2y$") || hash.starts_with("$2b$") || hash.starts_with("$y$") || hash.starts_with("$6$");
}

PasswordFile PasswordFile::load(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw ConfigError("cannot read the password file " + file.string());
  PasswordFile out;
  std::string line;
  for (std::size_t number = 1; std::getline(in, line); ++number) {
    const auto where = [&] { return file.string() + ":" + std::to_string(number) + ": "; };
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line.front() == '#') continue;
    const auto colon = line.find(':');
    if (colon == std::string::npos || colon == 0) throw ConfigError(where() + "expected NAME:HASH (htpasswd -B)");
    std::string name = line.substr(0, colon);
    std::string hash = line.substr(colon + 1);
    if (!is_strong_password_hash(hash)) {
      throw ConfigError(where() + "user '" + name + "' has " + std::string(weakness(hash)) +
                        "; re-create it with `htpasswd -B " + file.string() + " " + name + "` (bcrypt)");
    }
    // The hash must be one libcrypt can check: a truncated line would
    // otherwise refuse its user silently forever. Checked without hashing: a
    // file of many users must not cost a slow hash each at start-up.
    if (!complete_hash(hash)) {
      throw ConfigError(where() + "user '" + name + "' has a damaged hash; re-create it with htpasswd -B");
    }
    // One kind and cost for all: an unknown user is checked against a decoy
    // of the same cost, so the time of an answer tells no names apart.
    if (!out.hashes_.empty() && cost_of(hash) != cost_of(out.hashes_.begin()->second)) {
      throw ConfigError(where() + "user '" + name + "' has a " + cost_of(hash) + " hash, the users before it a " +
                        cost_of(out.hashes_.begin()->second) +
                        " one: give every user the same kind and cost (htpasswd -B -C 10), or an answer's time tells "
                        "which names exist");
    }
    if (!out.hashes_.emplace(std::move(name), std::move(hash)).second) {
      throw ConfigError(where() + "user '" + line.substr(0, colon) + "' appears twice");
    }
  }
  if (in.bad()) throw ConfigError("cannot read the password file " + file.string());
  if (!out.hashes_.empty()) {
    // A hash of random bytes with the first user's kind and cost (its salt
    // and parameters are the setting): no password matches it.
    unsigned char random[24];
    if (RAND_bytes(random, sizeof random) != 1) throw ConfigError("RAND_bytes failed");
    out.decoy_ = hash_with(std::string_view(reinterpret_cast<const char*>(random), sizeof random),
                           out.hashes_.begin()->second)
                     .value_or("");
  }
  return out;
}

bool PasswordFile::verify(std::string_view user, std::string_view password) const {
  const auto it = hashes_.find(user);
  const bool known = it != hashes_.end();
  const std::string& stored = known ? it->second : decoy_;
  if (stored.empty()) return false;
  const auto computed = hash_with(password, stored);
  const bool same = computed && computed->size() == stored.size() &&
                    CRYPTO_memcmp(computed->data(), stored.data(), stored.size()) == 0;
  return known && same;
}

}  // namespace hsmca::appliance
