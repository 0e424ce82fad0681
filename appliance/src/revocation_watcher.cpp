#include "hsmca/appliance/revocation_watcher.hpp"

namespace hsmca::appliance {

bool at_least(const signer::RevocationVersion& a, const signer::RevocationVersion& b) noexcept {
  return a.revoked > b.revoked || (a.revoked == b.revoked && a.latest_revoked_at >= b.latest_revoked_at);
}

RevocationWatcher::RevocationWatcher(Read read, std::chrono::milliseconds interval, Failed failed)
    : read_(std::move(read)), interval_(interval), failed_(std::move(failed)), version_(read_()) {
  thread_ = std::thread([this] { run(); });
}

RevocationWatcher::~RevocationWatcher() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

signer::RevocationVersion RevocationWatcher::current() const {
  std::lock_guard lock(mutex_);
  return version_;
}

void RevocationWatcher::advance(const signer::RevocationVersion& seen) {
  std::lock_guard lock(mutex_);
  if (!at_least(version_, seen)) version_ = seen;
}

void RevocationWatcher::run() {
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, interval_, [this] { return stopping_; })) {
    lock.unlock();
    try {
      advance(read_());
    } catch (const std::exception& e) {
      if (failed_) failed_(e);
    }
    lock.lock();
  }
}

}  // namespace hsmca::appliance
