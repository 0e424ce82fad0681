#pragma once
#include <chrono>
#include <memory>
#include <string>

#include "hsmca/signer/strict_yaml.hpp"
#include "hsmca/token/key.hpp"
#include "hsmca/token/session_pool.hpp"
#include "hsmca/token/uri.hpp"

namespace hsmca::signer {

// Which module and token a command or service works on, and where its PIN
// comes from. Shared by ceremony files, the CA file and the command line.
struct TokenTarget {
  std::string module;
  token::TokenSelector selector;
  std::string pin_source;  // "", "env:NAME" or "file:PATH"
  std::size_t sessions = 1;
  // How long a signature may take before the caller is told the token is
  // unavailable (SessionPool's call_timeout); 0: no bound.
  std::chrono::milliseconds call_timeout{0};

  // `token` is a label or a pkcs11: URI (whose token, serial, module-path and
  // pin-source attributes are taken); `module` may be empty when the URI or
  // HSMCA_MODULE names one.
  static TokenTarget from(std::string module, const std::string& token, std::string serial);

  // A `pkcs11:` block: module, token | uri, serial, pin_source (env:NAME or
  // file:PATH), and — when `allow_sessions` — sessions (the pool size) and
  // call_timeout_ms (default 5000).
  static TokenTarget from_yaml(StrictMap block, bool allow_sessions);

  // Loads the module, finds the token, reads the user PIN and logs in.
  // `observers` carries on_fault / on_sign; its size and mode are ours.
  std::unique_ptr<token::SessionPool> connect(bool read_write, token::PoolOptions observers = {}) const;
};

// RFC 7512 URI of a private key: what libp11 and p11tool take to find it again.
token::Pkcs11Uri key_uri(const token::TokenInfo& token, const std::string& label, const token::Bytes& id);

}  // namespace hsmca::signer
