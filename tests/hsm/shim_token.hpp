#pragma once
// A SoftHSM token reached through tests/pkcs11-shim (the fault and latency
// shim), with one P-256 key, the shim's config file and its counters.
#include <dlfcn.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "hsmca/token/key.hpp"
#include "hsmca/token/session_pool.hpp"
#include "softhsm_env.hpp"
#include "token_fixture.hpp"

namespace hsmca::token {

namespace fs = std::filesystem;

inline constexpr SignatureScheme kScheme = SignatureScheme::ecdsa_sha256;

// The shim's own counters (exported for tests in the process that loaded it),
// counted since its settings last changed.
class ShimCounters {
 public:
  ShimCounters() {
    // Already loaded by Module::load: RTLD_NOLOAD hands back that instance.
    handle_ = dlopen(HSMCA_PKCS11_SHIM, RTLD_NOW | RTLD_NOLOAD);
    if (handle_ == nullptr) throw std::runtime_error("the shim is not loaded");
    held_ = reinterpret_cast<unsigned long (*)()>(dlsym(handle_, "hsmca_shim_held_calls"));
    calls_ = reinterpret_cast<unsigned long long (*)(const char*)>(dlsym(handle_, "hsmca_shim_calls"));
    injected_ = reinterpret_cast<unsigned long long (*)(const char*)>(dlsym(handle_, "hsmca_shim_injected_faults"));
    if (!held_ || !calls_ || !injected_) throw std::runtime_error("the shim exports no counters");
  }
  ~ShimCounters() { dlclose(handle_); }
  ShimCounters(const ShimCounters&) = delete;
  ShimCounters& operator=(const ShimCounters&) = delete;

  unsigned long held() const { return held_(); }
  unsigned long long calls(const char* function) const { return calls_(function); }
  unsigned long long injected(const char* function) const { return injected_(function); }

 private:
  void* handle_;
  unsigned long (*held_)();
  unsigned long long (*calls_)(const char*);
  unsigned long long (*injected_)(const char*);
};

// A token made through the shim, one P-256 key on it, and the shim's config
// file, which the test rewrites while the module is loaded.
class ShimToken {
 public:
  ShimToken() {
    test::SoftHsmEnv::get();  // SOFTHSM2_CONF before the first C_Initialize
    setenv("HSMCA_SHIM_CONFIG", config_path().c_str(), 1);
    setenv("HSMCA_SHIM_MODULE", test::kSoftHsmModule, 1);
    configure("");
    module = Module::load(HSMCA_PKCS11_SHIM);
    // ctest gives each test its own process and SoftHSM directory; a label of
    // its own lets the binary also run all tests in one process.
    static int tokens = 0;
    info = init_token(module, "shim-" + std::to_string(++tokens), test::so_pin(), test::user_pin());
    Session s = Session::open(module, info.slot, true);
    s.login(CKU_USER, test::user_pin());
    spki = describe_key(s, generate_key_pair(s, "issuing", KeyType::ec_p256)).spki_der;
    counters.emplace();
  }

  // Written beside and renamed over, as the shim asks: it re-reads the file
  // when it changes and must never see half of it.
  void configure(const std::string& text) {
    const fs::path tmp = dir / "shim.conf.tmp";
    test::write_file(tmp, text);
    fs::rename(tmp, config_path());
  }

  // A hung token: `function` blocks (at most `limit` calls at a time; 0:
  // every call) until `file` is removed. `config` is what was configured, to
  // add other faults to.
  struct Hang {
    fs::path file;
    std::string config;
  };
  Hang hang(const std::string& function, int limit = 0) {
    Hang h{dir / "hold", ""};
    h.config = function + ".hang_file = " + h.file.string() + "\n";
    if (limit > 0) h.config += function + ".hang_limit = " + std::to_string(limit) + "\n";
    test::write_file(h.file, "");
    configure(h.config);
    return h;
  }
  fs::path config_path() const { return dir / "shim.conf"; }
  TokenSelector selector() const { return {info.label, info.serial}; }

  std::unique_ptr<SessionPool> pool(std::size_t sessions, PoolOptions options = {}) {
    options.sessions = sessions;
    return SessionPool::open(module, selector(), test::user_pin(), std::move(options));
  }

  bool verifies(const std::string& message, const Bytes& signature) const {
    return test::openssl_verifies(spki, kScheme, test::bytes_of(message), signature);
  }

  test::TempDir dir;
  std::shared_ptr<Module> module;
  TokenInfo info;
  Bytes spki;
  std::optional<ShimCounters> counters;
};

}  // namespace hsmca::token
