#include "hsmca/appliance/ocsp_cache.hpp"

namespace hsmca::appliance {

OcspCache::OcspCache(std::size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

std::shared_ptr<const OcspAnswer> OcspCache::fresh(std::string_view cert_id, const signer::RevocationVersion& current,
                                                   std::chrono::steady_clock::time_point now) const {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(std::string(cert_id));
  if (it == entries_.end() || !(it->second.confirmed == current) || now >= it->second.answer->refresh_after) {
    return nullptr;
  }
  return it->second.answer;
}

std::shared_ptr<const OcspAnswer> OcspCache::any(std::string_view cert_id) const {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(std::string(cert_id));
  return it == entries_.end() ? nullptr : it->second.answer;
}

void OcspCache::store(std::string_view cert_id, std::shared_ptr<const OcspAnswer> answer,
                      const signer::RevocationVersion& version) {
  std::lock_guard lock(mutex_);
  std::string key(cert_id);
  if (entries_.size() >= capacity_ && !entries_.count(key)) entries_.erase(entries_.begin());
  entries_[std::move(key)] = Entry{std::move(answer), version};
}

void OcspCache::confirm(std::string_view cert_id, const std::shared_ptr<const OcspAnswer>& answer,
                        const signer::RevocationVersion& version) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(std::string(cert_id));
  if (it != entries_.end() && it->second.answer == answer) it->second.confirmed = version;
}

std::size_t OcspCache::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

}  // namespace hsmca::appliance
