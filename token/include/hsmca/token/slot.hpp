#pragma once
#include <memory>
#include <string>
#include <vector>

#include "hsmca/token/module.hpp"
#include "hsmca/token/secret.hpp"

namespace hsmca::token {

struct TokenInfo {
  CK_SLOT_ID slot = 0;  // only valid until the token set changes: never persist it
  std::string label;
  std::string serial;
  std::string manufacturer;
  std::string model;
  bool initialized = false;
  bool user_pin_initialized = false;
};

// Tokens are chosen by label and/or serial, never by slot number
// (SoftHSM renumbers slots when a token is initialized).
struct TokenSelector {
  std::string label;
  std::string serial;
  std::string describe() const;  // "token 'Example Root' (serial 1234)"
};

// C_GetSlotList + C_GetTokenInfo for every slot with a token.
std::vector<TokenInfo> list_tokens(const Module& module);
// Exactly one initialized token matching the selector, else LookupError.
TokenInfo find_token(const Module& module, const TokenSelector& selector);
// C_InitToken on the first uninitialized token, then C_InitPIN. Refuses a label
// that an initialized token already has. Returns the new token's info.
TokenInfo init_token(const std::shared_ptr<Module>& module, const std::string& label, const Secret& so_pin,
                     const Secret& user_pin);

}  // namespace hsmca::token
