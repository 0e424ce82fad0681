#include "hsmca/appliance/connection_budget.hpp"

namespace hsmca::appliance {

ConnectionBudget::ConnectionBudget(std::size_t max_total, std::size_t max_per_address)
    : max_total_(max_total), max_per_address_(max_per_address) {}

std::unique_ptr<ConnectionBudget::Slot> ConnectionBudget::admit(const std::string& address) {
  std::function<void()> close_for_room;
  std::unique_ptr<Slot> slot;
  {
    std::lock_guard lock(mutex_);
    // No entry for a refused address: a flood of addresses leaves nothing behind.
    if (const auto found = per_address_.find(address); found != per_address_.end() && found->second >= max_per_address_) {
      return nullptr;
    }
    if (total_ >= max_total_) {
      if (idle_.empty()) return nullptr;
      Slot* oldest = idle_.begin()->second;
      close_for_room = std::move(oldest->close_);
      release(*oldest);
      oldest->counted_ = false;
    }
    ++total_;
    ++per_address_[address];
    slot.reset(new Slot(*this, address));
  }
  // Outside the lock: the closer only posts the close to its connection.
  if (close_for_room) close_for_room();
  return slot;
}

std::size_t ConnectionBudget::size() const {
  std::lock_guard lock(mutex_);
  return total_;
}

std::size_t ConnectionBudget::from(const std::string& address) const {
  std::lock_guard lock(mutex_);
  const auto found = per_address_.find(address);
  return found == per_address_.end() ? 0 : found->second;
}

void ConnectionBudget::release(Slot& slot) {
  if (slot.idle_since_ != 0) idle_.erase(slot.idle_since_);
  slot.idle_since_ = 0;
  if (!slot.counted_) return;
  --total_;
  if (auto found = per_address_.find(slot.address_); found != per_address_.end() && --found->second == 0) {
    per_address_.erase(found);
  }
}

ConnectionBudget::Slot::~Slot() {
  std::lock_guard lock(budget_.mutex_);
  budget_.release(*this);
  counted_ = false;
}

void ConnectionBudget::Slot::idle(std::function<void()> close) {
  std::lock_guard lock(budget_.mutex_);
  if (!counted_) return;  // already closed for room
  if (idle_since_ != 0) budget_.idle_.erase(idle_since_);
  close_ = std::move(close);
  idle_since_ = budget_.next_idle_++;
  budget_.idle_.emplace(idle_since_, this);
}

void ConnectionBudget::Slot::busy() {
  std::lock_guard lock(budget_.mutex_);
  if (idle_since_ != 0) budget_.idle_.erase(idle_since_);
  idle_since_ = 0;
  close_ = nullptr;
}

}  // namespace hsmca::appliance
