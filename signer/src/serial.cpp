#include "hsmca/signer/serial.hpp"

namespace hsmca::signer {

std::optional<std::string> parse_serial(std::string_view text) {
  if (text.starts_with("0x") || text.starts_with("0X")) text.remove_prefix(2);
  std::string serial;
  for (const char c : text) {
    if (c == ':') continue;
    if (c >= '0' && c <= '9') {
      serial += c;
    } else if (c >= 'a' && c <= 'f') {
      serial += c;
    } else if (c >= 'A' && c <= 'F') {
      serial += static_cast<char>(c - 'A' + 'a');
    } else {
      return std::nullopt;
    }
    if (serial.size() > kMaxSerialHexDigits) return std::nullopt;
  }
  if (serial.empty()) return std::nullopt;
  return serial;
}

}  // namespace hsmca::signer
