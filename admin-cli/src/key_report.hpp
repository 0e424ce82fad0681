#pragma once
// How a key is shown to operators: the evidence as text, as JSON, and its URI.
#include <nlohmann/json.hpp>

#include <string>

#include "hsmca/token/key.hpp"
#include "hsmca/token/slot.hpp"

namespace hsmca::cli {

struct KeyReport {
  token::TokenInfo token;
  token::KeyDescription key;

  std::string uri() const;
  std::string spki_sha256() const;
  std::string public_key_pem() const;
  // label, id, type, uri, local, sensitive, always_sensitive, extractable,
  // never_extractable, born_in_token, spki_sha256, public_key_pem.
  nlohmann::ordered_json json() const;
  std::string text() const;
};

nlohmann::ordered_json token_json(const token::TokenInfo& token);

}  // namespace hsmca::cli
