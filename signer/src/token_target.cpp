#include "hsmca/signer/token_target.hpp"

#include <cstdlib>

#include "hsmca/signer/pin.hpp"
#include "hsmca/signer/strict_yaml.hpp"

namespace hsmca::signer {


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

TokenTarget TokenTarget::from_yaml(StrictMap m, bool allow_sessions) {
  auto module_path = m.optional_string("module").value_or("");
  auto uri = m.optional_string("uri");
  auto label = m.optional_string("token");
  auto serial = m.optional_string("serial").value_or("");
  auto pin_source = m.optional_string("pin_source");
  std::optional<long long> sessions;
  std::optional<long long> call_timeout_ms;
  if (allow_sessions) {
    sessions = m.optional_integer("sessions", 1, 64);
    call_timeout_ms = m.optional_integer("call_timeout_ms", 0, 600000).value_or(5000);
    if (*call_timeout_ms > 0 && *call_timeout_ms < 100) {
      throw ConfigError(m.path_of("call_timeout_ms") + " must be 0 (no bound) or at least 100");
    }
  }
  m.finish();
  if (uri && label) throw ConfigError(m.path_of("token") + " and uri: give one, not both");
  if (!uri && !label && serial.empty()) throw ConfigError("missing " + m.path_of("token") + " (the token's label)");
  TokenTarget t = from(module_path, uri ? *uri : label.value_or(""), serial);
  if (pin_source) {
    if (pin_source->rfind("env:", 0) != 0 && pin_source->rfind("file:", 0) != 0) {
      throw ConfigError(m.path_of("pin_source") + " must be env:NAME or file:PATH");
    }
    t.pin_source = *pin_source;
  }
  if (sessions) t.sessions = static_cast<std::size_t>(*sessions);
  if (call_timeout_ms) t.call_timeout = std::chrono::milliseconds(*call_timeout_ms);
  return t;
}

std::unique_ptr<token::SessionPool> TokenTarget::connect(bool read_write, token::PoolOptions options) const {
  auto module_ptr = token::Module::load(module);
  // Find the token before asking for a PIN: a typo should not cost a PIN entry.
  auto info = token::find_token(*module_ptr, selector);
  options.sessions = sessions;
  options.read_write = read_write;
  options.call_timeout = call_timeout;
  return token::SessionPool::open(module_ptr, selector, read_pin(PinRole::user, pin_source, info.label),
                                  std::move(options));
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

}  // namespace hsmca::signer
