#include "hsmca/signer/signing_key.hpp"

#include <utility>

#include "hsmca/signer/outcome.hpp"
#include "hsmca/token/error.hpp"
#include "hsmca/token/session_pool.hpp"
#include "scheme.hpp"

namespace hsmca::signer {

SigningKey::~SigningKey() = default;

TokenSigningKey::TokenSigningKey(token::SessionPool& pool, std::string key_label,
                                 token::SignatureScheme scheme, Bytes spki)
    : pool_(pool), label_(std::move(key_label)), scheme_(scheme), spki_(std::move(spki)),
      public_key_(public_key_from_spki(spki_)) {
  detail::require_scheme_fits(public_key_.get(), scheme_);
}

Bytes TokenSigningKey::sign(std::span<const unsigned char> message) const {
  try {
    return pool_.sign(label_, scheme_, message);
  } catch (const token::Error& e) {
    throw TokenUnavailable(e.what());
  }
}

}  // namespace hsmca::signer
