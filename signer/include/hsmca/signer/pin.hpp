#pragma once
#include <string>

#include "hsmca/token/secret.hpp"

namespace hsmca::signer {

enum class PinRole { user, security_officer };

// Where a PIN comes from, never the command line: `source` is "env:NAME" or
// "file:PATH" (from a pkcs11 URI's pin-source or a config's pin_source); empty
// means HSMCA_PIN (HSMCA_SO_PIN for the SO), else a no-echo prompt when stdin
// is a terminal. `token_label` only words the prompt and errors.
token::Secret read_pin(PinRole role, const std::string& source, const std::string& token_label);

}  // namespace hsmca::signer
