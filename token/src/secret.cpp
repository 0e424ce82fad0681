#include "hsmca/token/secret.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <new>
#include <stdexcept>
#include <utility>

namespace hsmca::token {
namespace {

// A page of its own: madvise and mlock work on whole pages, and a page shared
// with other heap data would drag that data along (or leave the PIN behind).
std::size_t page_size() noexcept {
  static const std::size_t size = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return size;
}

char* allocate() {
  static_assert(Secret::kCapacity <= 4096, "a Secret fits in the smallest page");
  void* p = mmap(nullptr, page_size(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  // Left out of core dumps, whatever the process's dumpable flag.
  madvise(p, page_size(), MADV_DONTDUMP);
  // Best effort: keep the PIN out of swap. Failing (RLIMIT_MEMLOCK) is not fatal.
  mlock(p, page_size());
  return static_cast<char*>(p);
}

void release(char* p) noexcept {
  if (p == nullptr) return;
  explicit_bzero(p, Secret::kCapacity);
  munlock(p, page_size());
  munmap(p, page_size());
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
