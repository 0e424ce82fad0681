// ACME replay nonces (RFC 8555 6.5), see acme_jws.hpp.
#include <openssl/rand.h>

#include <array>
#include <stdexcept>

#include "acme_jws.hpp"

namespace hsmca::appliance::acme {

namespace {

constexpr std::size_t kNonceOctets = 16;                       // 128 bits
constexpr std::size_t kNonceLength = (kNonceOctets * 4 + 2) / 3;  // 22 base64url characters

}  // namespace

NonceStore::NonceStore(const signer::Clock& clock, std::size_t capacity, std::chrono::seconds lifetime)
    : clock_(clock), lifetime_(lifetime), ring_(capacity) {
  if (capacity == 0) throw std::invalid_argument("NonceStore needs a capacity of at least one nonce");
  index_.reserve(capacity);
}

std::string NonceStore::issue() {
  std::array<unsigned char, kNonceOctets> random{};
  if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1) throw signer::OpenSslError("RAND_bytes");
  std::string nonce = base64url_encode(random);
  const auto now = clock_.steady();
  std::lock_guard lock(mutex_);
  // The oldest slot makes room: its nonce, if still unused, is forgotten.
  Slot& slot = ring_[next_];
  if (!slot.nonce.empty()) index_.erase(slot.nonce);
  // 128 random bits do not repeat; should they, the older one is forgotten.
  if (const auto clash = index_.find(nonce); clash != index_.end()) {
    ring_[clash->second].nonce.clear();
    index_.erase(clash);
  }
  slot = Slot{nonce, now};
  index_.emplace(nonce, next_);
  next_ = (next_ + 1) % ring_.size();
  return nonce;
}

bool NonceStore::consume(std::string_view nonce) {
  if (nonce.size() != kNonceLength) return false;  // not one of ours, whatever it is
  const auto now = clock_.steady();
  std::lock_guard lock(mutex_);
  const auto it = index_.find(std::string(nonce));
  if (it == index_.end()) return false;
  Slot& slot = ring_[it->second];
  index_.erase(it);
  const bool fresh = now - slot.issued < lifetime_;
  slot.nonce.clear();
  return fresh;
}

std::size_t NonceStore::outstanding() const {
  std::lock_guard lock(mutex_);
  return index_.size();
}

}  // namespace hsmca::appliance::acme
