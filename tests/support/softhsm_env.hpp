#pragma once
#include <filesystem>
#include <memory>
#include <string>

#include "hsmca/token/module.hpp"
#include "hsmca/token/secret.hpp"
#include "hsmca/token/slot.hpp"

namespace hsmca::test {

inline constexpr const char* kSoftHsmModule = HSMCA_SOFTHSM_MODULE;
inline constexpr const char* kUserPin = "1234-user";
inline constexpr const char* kSoPin = "5678-so";

// A throwaway SoftHSM token directory for this test process, made from
// softhsm-config/softhsm2.conf.in, with SOFTHSM2_CONF pointing at it. Created
// on first use, before anything calls C_Initialize; removed at exit.
class SoftHsmEnv {
 public:
  static SoftHsmEnv& get();
  const std::filesystem::path& dir() const { return dir_; }
  const std::filesystem::path& conf() const { return conf_; }
  std::shared_ptr<token::Module> module();
  // Initializes a fresh token through the project's own layer (kSoPin, kUserPin).
  token::TokenInfo init_token(const std::string& label);
  ~SoftHsmEnv();

 private:
  SoftHsmEnv();
  std::filesystem::path dir_;
  std::filesystem::path conf_;
};

inline token::Secret user_pin() { return token::Secret(kUserPin); }
inline token::Secret so_pin() { return token::Secret(kSoPin); }

// A fresh temporary directory, removed with the object.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

std::string read_file(const std::filesystem::path& path);
void write_file(const std::filesystem::path& path, const std::string& content);
// write_file, then chmod 600: a PIN file, an API token list or a key, which
// hsmca refuses while others may read it.
void write_secret_file(const std::filesystem::path& path, const std::string& content);

}  // namespace hsmca::test
