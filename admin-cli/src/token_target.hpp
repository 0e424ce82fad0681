#pragma once
#include <memory>
#include <string>

#include "hsmca/token/key.hpp"
#include "hsmca/token/session_pool.hpp"
#include "hsmca/token/uri.hpp"

namespace hsmca::cli {

// Which module and token a command works on, and where its PIN comes from.
struct TokenTarget {
  std::string module;
  token::TokenSelector selector;
  std::string pin_source;  // "", "env:NAME" or "file:PATH"

  // `token` is a label or a pkcs11: URI (whose token, serial, module-path and
  // pin-source attributes are taken); `module` may be empty when the URI or
  // HSMCA_MODULE names one.
  static TokenTarget from(std::string module, const std::string& token, std::string serial);

  // Loads the module, finds the token, reads the user PIN and logs in.
  std::unique_ptr<token::SessionPool> connect(bool read_write, std::size_t sessions = 1) const;
};

// RFC 7512 URI of a private key: what libp11 and p11tool take to find it again.
token::Pkcs11Uri key_uri(const token::TokenInfo& token, const std::string& label, const token::Bytes& id);

}  // namespace hsmca::cli
