#include "token_target.hpp"

#include <cstdlib>

#include "pin.hpp"
#include "strict_yaml.hpp"

namespace hsmca::cli {

TokenTarget TokenTarget::from(std::string module, const std::string& token, std::string serial) {
  TokenTarget t;
  if (token.rfind("pkcs11:", 0) == 0) {
    token::Pkcs11Uri uri;
    try {
      uri = token::Pkcs11Uri::parse(token);
    } catch (const std::invalid_argument& e) {
      throw ConfigError(e.what());
    }
    t.selector.label = uri.token;
    t.selector.serial = uri.serial;
    t.pin_source = uri.pin_source;
    if (module.empty()) module = uri.module_path;
  } else {
    t.selector.label = token;
  }
  if (!serial.empty()) t.selector.serial = std::move(serial);
  if (module.empty()) {
    const char* env = std::getenv("HSMCA_MODULE");
    if (env != nullptr) module = env;
  }
  if (module.empty()) throw ConfigError("no PKCS#11 module: give --module PATH (or set HSMCA_MODULE)");
  t.module = std::move(module);
  return t;
}

std::unique_ptr<token::SessionPool> TokenTarget::connect(bool read_write, std::size_t sessions) const {
  auto module_ptr = token::Module::load(module);
  // Find the token before asking for a PIN: a typo should not cost a PIN entry.
  auto info = token::find_token(*module_ptr, selector);
  token::PoolOptions options;
  options.sessions = sessions;
  options.read_write = read_write;
  return token::SessionPool::open(module_ptr, selector, read_pin(PinRole::user, pin_source, info.label), options);
}

token::Pkcs11Uri key_uri(const token::TokenInfo& info, const std::string& label, const token::Bytes& id) {
  token::Pkcs11Uri uri;
  uri.model = info.model;
  uri.manufacturer = info.manufacturer;
  uri.serial = info.serial;
  uri.token = info.label;
  uri.id = id;
  uri.object = label;
  uri.type = "private";
  return uri;
}

}  // namespace hsmca::cli
