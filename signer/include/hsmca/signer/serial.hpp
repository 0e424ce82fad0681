#pragma once
// Certificate serial numbers as people type them.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace hsmca::signer {

// RFC 5280 4.1.2.2: a CA's serials are at most 20 octets.
inline constexpr std::size_t kMaxSerialHexDigits = 40;

// A serial as `openssl x509 -serial` ("67CF47"), `openssl x509 -text` and
// browsers ("67:cf:47", "67:CF:47") or a programmer ("0x67cf47") write it,
// in the spelling the ledger stores: lowercase hex digits, no separators
// ("67cf47"). Case does not matter; colons may separate the digits anywhere;
// "0x" may come first. Leading zeros are kept: the ledger spells a serial as
// its DER content octets, and "007f" is not "7f" there. nullopt when no
// digit is left, a character is neither a hex digit nor a colon, or there
// are more than kMaxSerialHexDigits digits.
std::optional<std::string> parse_serial(std::string_view text);

}  // namespace hsmca::signer
