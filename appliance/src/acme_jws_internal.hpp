#pragma once
// What acme_jwk.cpp and acme_jws.cpp share and nobody else needs.
#include <string>
#include <string_view>
#include <variant>

#include "acme_jws.hpp"

namespace hsmca::appliance::acme::detail {

struct JwkAccess {
  static Jwk make(KeyType type, signer::EvpPkeyPtr key, nlohmann::json json) {
    return Jwk(type, std::move(key), std::move(json));
  }
};

// The member `name` of `object` when it is a string; nullptr otherwise
// (absent, another type, or `object` not an object).
const std::string* string_member(const nlohmann::json& object, std::string_view name);

// parse_jwk without the throw: the key, or why it was refused.
std::variant<Jwk, std::string> read_jwk(const nlohmann::json& jwk);

}  // namespace hsmca::appliance::acme::detail
