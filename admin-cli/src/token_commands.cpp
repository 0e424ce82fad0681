#include <iostream>

#include "commands.hpp"
#include "key_report.hpp"
#include "hsmca/signer/pin.hpp"
#include "hsmca/signer/strict_yaml.hpp"
#include "hsmca/signer/token_target.hpp"

namespace hsmca::cli {

using signer::ConfigError;
using signer::StrictMap;
using signer::PinRole;
using signer::read_pin;
using signer::TokenTarget;

int token_init(const std::string& module_path, const std::string& label) {
  auto module = token::Module::load(module_path);
  token::Secret so_pin = read_pin(PinRole::security_officer, "", label);
  token::Secret user_pin = read_pin(PinRole::user, "", label);
  auto info = token::init_token(module, label, so_pin, user_pin);
  std::cout << "initialized token '" << info.label << "' serial " << info.serial << "\n";
  return 0;
}

int token_list(const std::string& module_path, bool json) {
  auto module = token::Module::load(module_path);
  auto tokens = token::list_tokens(*module);
  if (json) {
    auto out = nlohmann::ordered_json::array();
    for (const auto& t : tokens) {
      auto j = token_json(t);
      j["initialized"] = t.initialized;
      j["user_pin_initialized"] = t.user_pin_initialized;
      out.push_back(std::move(j));
    }
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  for (const auto& t : tokens) {
    if (!t.initialized) {
      std::cout << "(free slot)  " << t.manufacturer << " / " << t.model << "  -- hsmca token init can use it\n";
      continue;
    }
    token::Pkcs11Uri uri;
    uri.model = t.model;
    uri.manufacturer = t.manufacturer;
    uri.serial = t.serial;
    uri.token = t.label;
    std::cout << t.label << "  serial " << t.serial << "  " << t.manufacturer << " / " << t.model << "  "
              << uri.str() << "\n";
  }
  return 0;
}

int key_generate(const TokenOptions& opts, const std::string& label, const std::string& type_name, bool json) {
  auto type = token::parse_key_type(type_name);
  if (!type) throw ConfigError("unknown key type '" + type_name + "' (use one of " + token::key_type_names() + ")");
  auto pool = TokenTarget::from(opts.module, opts.token, opts.serial).connect(true);
  KeyReport report{pool->token(), {}};
  report.key = pool->with_session([&](token::Session& s) {
    return token::describe_key(s, token::generate_key_pair(s, label, *type));
  });
  if (json) {
    std::cout << report.json().dump(2) << "\n";
  } else {
    std::cout << "uri:         " << report.uri() << "\n"
              << "spki_sha256: " << report.spki_sha256() << "\n";
  }
  return 0;
}

int key_show(const TokenOptions& opts, const std::string& label, bool json) {
  auto pool = TokenTarget::from(opts.module, opts.token, opts.serial).connect(false);
  KeyReport report{pool->token(), {}};
  report.key = pool->with_session([&](token::Session& s) {
    return token::describe_key(s, token::find_key_pair(s, label));
  });
  std::cout << (json ? report.json().dump(2) + "\n" : report.text());
  return 0;
}

}  // namespace hsmca::cli
