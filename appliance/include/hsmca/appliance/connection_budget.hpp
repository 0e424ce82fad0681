#pragma once
// How many connections one listener holds, in all and per client address, so
// that one client cannot lock everyone out: a full listener first closes the
// connection that has waited longest for its next keep-alive request, and one
// address never holds more than its share.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace hsmca::appliance {

class ConnectionBudget {
 public:
  ConnectionBudget(std::size_t max_total, std::size_t max_per_address);
  ConnectionBudget(const ConnectionBudget&) = delete;  // slots point back at it
  ConnectionBudget& operator=(const ConnectionBudget&) = delete;

  // One admitted connection's place in the budget, given back on destruction.
  class Slot {
   public:
    ~Slot();
    Slot(const Slot&) = delete;  // the destructor gives the place back
    Slot& operator=(const Slot&) = delete;
    // Waiting for its next keep-alive request: may be closed (through
    // `close`, which must not block) to make room for a new connection.
    void idle(std::function<void()> close);
    // A request is in hand: not to be closed for room.
    void busy();

   private:
    friend class ConnectionBudget;
    Slot(ConnectionBudget& budget, std::string address) : budget_(budget), address_(std::move(address)) {}
    ConnectionBudget& budget_;
    std::string address_;
    std::function<void()> close_;       // guarded by budget_.mutex_
    std::uint64_t idle_since_ = 0;      // 0: busy; guarded by budget_.mutex_
    bool counted_ = true;               // false once closed for room; guarded by budget_.mutex_
  };

  // A place for a new connection from `address`, or nullptr: the address
  // holds its share already, or the listener is full and no connection is
  // idle. When full, the connection idle longest is closed and its place given.
  std::unique_ptr<Slot> admit(const std::string& address);

  std::size_t size() const;
  std::size_t from(const std::string& address) const;

 private:
  void release(Slot& slot);  // under mutex_

  const std::size_t max_total_;
  const std::size_t max_per_address_;
  mutable std::mutex mutex_;
  std::size_t total_ = 0;                                    // guarded by mutex_
  std::unordered_map<std::string, std::size_t> per_address_;  // guarded by mutex_
  std::map<std::uint64_t, Slot*> idle_;                      // oldest first; guarded by mutex_
  std::uint64_t next_idle_ = 1;                              // guarded by mutex_
};

}  // namespace hsmca::appliance
