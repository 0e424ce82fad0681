#include "hsmca/token/secret.hpp"

#include <sys/mman.h>

#include <cstring>
#include <stdexcept>
#include <utility>

namespace hsmca::token {
namespace {

char* allocate() {
  auto* p = new char[Secret::kCapacity];
  // Best effort: keep the PIN out of swap. Failing (RLIMIT_MEMLOCK) is not fatal.
  mlock(p, Secret::kCapacity);
  return p;
}

void release(char* p) noexcept {
  if (p == nullptr) return;
  explicit_bzero(p, Secret::kCapacity);
  munlock(p, Secret::kCapacity);
  delete[] p;
}

}  // namespace

Secret::Secret() : buf_(allocate()) {}

Secret::Secret(std::string_view value) : Secret() { assign(value); }

Secret::~Secret() { release(buf_); }

Secret::Secret(Secret&& other) noexcept : buf_(std::exchange(other.buf_, nullptr)), size_(std::exchange(other.size_, 0)) {}

Secret& Secret::operator=(Secret&& other) noexcept {
  if (this != &other) {
    release(buf_);
    buf_ = std::exchange(other.buf_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void Secret::assign(std::string_view value) {
  if (value.size() > kCapacity) throw std::length_error("PIN longer than 256 bytes");
  if (buf_ == nullptr) buf_ = allocate();
  wipe();
  std::memcpy(buf_, value.data(), value.size());
  size_ = value.size();
}

void Secret::push_back(char c) {
  if (size_ == kCapacity) throw std::length_error("PIN longer than 256 bytes");
  if (buf_ == nullptr) buf_ = allocate();
  buf_[size_++] = c;
}

void Secret::pop_back() noexcept {
  if (size_ > 0) buf_[--size_] = 0;
}

void Secret::wipe() noexcept {
  if (buf_ != nullptr) explicit_bzero(buf_, kCapacity);
  size_ = 0;
}

}  // namespace hsmca::token
