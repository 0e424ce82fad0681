#include "hsmca/token/slot.hpp"

#include <algorithm>
#include <optional>

#include "hsmca/token/error.hpp"
#include "hsmca/token/session.hpp"

namespace hsmca::token {
namespace {

// PKCS#11 pads fixed-width text fields with spaces.
template <std::size_t N>
std::string field(const unsigned char (&raw)[N]) {
  std::string s(reinterpret_cast<const char*>(raw), N);
  auto end = s.find_last_not_of(' ');
  s.erase(end == std::string::npos ? 0 : end + 1);
  return s;
}

template <std::size_t N>
void set_field(unsigned char (&raw)[N], const std::string& value) {
  std::fill(std::begin(raw), std::end(raw), ' ');
  std::copy(value.begin(), value.end(), std::begin(raw));
}

TokenInfo token_info(const Module& module, CK_SLOT_ID slot) {
  CK_TOKEN_INFO info{};
  check(module.fn()->C_GetTokenInfo(slot, &info), "C_GetTokenInfo");
  TokenInfo t;
  t.slot = slot;
  t.label = field(info.label);
  t.serial = field(info.serialNumber);
  t.manufacturer = field(info.manufacturerID);
  t.model = field(info.model);
  t.initialized = (info.flags & CKF_TOKEN_INITIALIZED) != 0;
  t.user_pin_initialized = (info.flags & CKF_USER_PIN_INITIALIZED) != 0;
  return t;
}

}  // namespace

std::string TokenSelector::describe() const {
  std::string s = "token";
  if (!label.empty()) s += " '" + label + "'";
  if (!serial.empty()) s += " (serial " + serial + ")";
  return s;
}

std::vector<TokenInfo> list_tokens(const Module& module) {
  std::vector<TokenInfo> tokens;
  for (CK_SLOT_ID slot : module.slots(true)) {
    try {
      tokens.push_back(token_info(module, slot));
    } catch (const Error& e) {
      // A token pulled between C_GetSlotList and C_GetTokenInfo is simply gone.
      if (e.rv() != CKR_TOKEN_NOT_PRESENT && e.rv() != CKR_SLOT_ID_INVALID) throw;
    }
  }
  return tokens;
}

TokenInfo find_token(const Module& module, const TokenSelector& selector) {
  if (selector.label.empty() && selector.serial.empty()) {
    throw LookupError("no token named: give a token label, serial or pkcs11: URI");
  }
  std::vector<TokenInfo> matches;
  for (auto& t : list_tokens(module)) {
    if (!t.initialized) continue;
    if (!selector.label.empty() && t.label != selector.label) continue;
    if (!selector.serial.empty() && t.serial != selector.serial) continue;
    matches.push_back(std::move(t));
  }
  if (matches.empty()) {
    throw LookupError("no initialized " + selector.describe() + " in " + module.path() +
                      " (hsmca token list shows the tokens; hsmca token init makes one)");
  }
  if (matches.size() > 1) {
    throw LookupError(std::to_string(matches.size()) + " tokens match " + selector.describe() +
                      "; select by serial as well");
  }
  return matches.front();
}

TokenInfo init_token(const std::shared_ptr<Module>& module_ptr, const std::string& label, const Secret& so_pin,
                     const Secret& user_pin) {
  Module& module = *module_ptr;
  if (label.empty() || label.size() > 32) throw std::invalid_argument("token label must be 1 to 32 characters");
  if (so_pin.empty() || user_pin.empty()) throw std::invalid_argument("token init needs both an SO PIN and a user PIN");
  std::optional<CK_SLOT_ID> free_slot;
  for (const auto& t : list_tokens(module)) {
    if (t.initialized && t.label == label) {
      throw AlreadyExists("a token labelled '" + label + "' already exists (serial " + t.serial + ")");
    }
    if (!t.initialized && !free_slot) free_slot = t.slot;
  }
  if (!free_slot) throw LookupError("no free (uninitialized) token in " + module.path());

  CK_UTF8CHAR padded[32];
  set_field(padded, label);
  check(module.fn()->C_InitToken(*free_slot,
                                 reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char*>(so_pin.data())),
                                 so_pin.size(), padded),
        "C_InitToken", label);

  // SoftHSM moves a token to a new slot id when it is initialized: look it up again.
  std::optional<TokenInfo> made;
  for (auto& t : list_tokens(module)) {
    if (t.initialized && t.label == label) made = std::move(t);
  }
  if (!made) throw std::runtime_error("token '" + label + "' vanished after C_InitToken");

  Session session = Session::open(module_ptr, made->slot, true);
  session.login(CKU_SO, so_pin);
  check(session.fn()->C_InitPIN(session.handle(),
                                reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char*>(user_pin.data())),
                                user_pin.size()),
        "C_InitPIN", label);
  session.fn()->C_Logout(session.handle());
  return token_info(module, made->slot);
}

}  // namespace hsmca::token
