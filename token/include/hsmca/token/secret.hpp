#pragma once
#include <cstddef>
#include <string_view>

namespace hsmca::token {

// A PIN held in locked memory, left out of core dumps (MADV_DONTDUMP) and
// wiped when it is no longer needed.
// Fixed capacity so the buffer never reallocates and leaves copies behind.
class Secret {
 public:
  static constexpr std::size_t kCapacity = 256;

  Secret();
  explicit Secret(std::string_view value);
  ~Secret();
  Secret(Secret&& other) noexcept;
  Secret& operator=(Secret&& other) noexcept;
  // Not copyable: each copy is one more place the PIN lingers in memory.
  Secret(const Secret&) = delete;
  Secret& operator=(const Secret&) = delete;

  void assign(std::string_view value);
  void push_back(char c);  // throws std::length_error past kCapacity
  void pop_back() noexcept;
  void wipe() noexcept;

  bool empty() const noexcept { return size_ == 0; }
  std::size_t size() const noexcept { return size_; }
  const char* data() const noexcept { return buf_; }
  std::string_view view() const noexcept { return {buf_, size_}; }

 private:
  char* buf_;
  std::size_t size_ = 0;
};

}  // namespace hsmca::token
