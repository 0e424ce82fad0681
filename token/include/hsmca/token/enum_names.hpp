#pragma once
// One table per enum of the names files and command lines spell it with, and
// the one lookup each way: key types, signature schemes, extended key usages
// (and any other enum a CA file or a command names). A name is looked up in the
// table that lists it, never compared as a string where it is used.
#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace hsmca::token {

template <typename Enum, std::size_t N>
class EnumNames {
 public:
  constexpr explicit EnumNames(std::array<std::pair<Enum, std::string_view>, N> entries) : entries_(entries) {}

  // "unknown" for a value the table does not list.
  constexpr std::string_view name(Enum value) const noexcept {
    for (const auto& [v, n] : entries_) {
      if (v == value) return n;
    }
    return "unknown";
  }

  // Exact, case-sensitive: a file spells the name as the table does.
  constexpr std::optional<Enum> parse(std::string_view name) const noexcept {
    for (const auto& [v, n] : entries_) {
      if (n == name) return v;
    }
    return std::nullopt;
  }

  // Every value with its name, in table order.
  constexpr const std::array<std::pair<Enum, std::string_view>, N>& entries() const noexcept { return entries_; }

  // "a, b, c" in table order, for error messages.
  std::string list() const {
    std::string out;
    for (const auto& [v, n] : entries_) {
      if (!out.empty()) out += ", ";
      out += n;
    }
    return out;
  }

 private:
  std::array<std::pair<Enum, std::string_view>, N> entries_;
};

}  // namespace hsmca::token
