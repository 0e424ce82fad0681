#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <span>
#include <type_traits>
#include <utility>
#include <optional>
#include <vector>

#include "hsmca/token/error.hpp"
#include "hsmca/token/signature.hpp"
#include "hsmca/token/slot.hpp"

namespace hsmca::token {

struct PoolOptions {
  std::size_t sessions = 4;
  bool read_write = false;  // key generation and destruction need read/write sessions
  // Called (from the failing thread) for every PKCS#11 fault the pool sees,
  // recovered or not: metrics count them by CK_RV.
  std::function<void(const Error&)> on_fault;
  // Called after every successful sign() with the time the token took
  // (C_SignInit + C_Sign, lease wait excluded): metrics keep a histogram.
  std::function<void(std::chrono::nanoseconds)> on_sign;
};

struct PoolStats {
  std::size_t total = 0;
  std::size_t busy = 0;
  std::size_t healthy = 0;     // open and logged in as far as the pool knows
  std::uint64_t recoveries = 0;  // sessions rebuilt after a fault
};

// A fixed set of long-lived sessions on one token, logged in once, each used by
// one thread at a time, with private-key handles cached per session.
//
// When a call fails with a session fault (is_session_fault: the session, the
// login or the whole library state is gone) the pool drops that session, opens
// a new one — re-initializing the library and finding the token again by label
// and serial if need be — logs in again, forgets the cached handles and retries
// the operation once. If the token is still unavailable the error reaches the
// caller and the next call tries again: the process never needs a restart.
// When the retry fails too, the pool restarts the library (C_Finalize +
// C_Initialize), reopens every session and tries a last time.
class SessionPool {
 public:
  // Opens `options.sessions` sessions and logs in with `pin`, which the pool
  // keeps (in locked, wiped memory) for logging in again after a fault.
  static std::unique_ptr<SessionPool> open(std::shared_ptr<Module> module, TokenSelector selector,
                                           Secret pin, PoolOptions options = {});
  ~SessionPool();
  // Not copyable or movable: leases point back into the pool.
  SessionPool(const SessionPool&) = delete;
  SessionPool& operator=(const SessionPool&) = delete;

  // Signs with the private key labelled `key_label`, finding it once per session.
  Bytes sign(const std::string& key_label, SignatureScheme scheme,
             std::span<const unsigned char> message);

  // Runs `op` with a leased, logged-in session, recovering and retrying once on
  // a session fault. `op` must be safe to run twice, and must not wait for
  // another call on this pool: recovery waits until no `op` is running.
  template <typename Op>
  auto with_session(Op&& op) -> decltype(op(std::declval<Session&>())) {
    using Result = decltype(op(std::declval<Session&>()));
    if constexpr (std::is_void_v<Result>) {
      run([&](Session& s, Entry&) { op(s); });
    } else {
      std::optional<Result> out;
      run([&](Session& s, Entry&) { out.emplace(op(s)); });
      return std::move(*out);
    }
  }

  const TokenInfo& token() const noexcept { return token_; }
  const Module& module() const noexcept { return *module_; }
  PoolStats stats() const;

 private:
  struct Entry {
    std::optional<Session> session;  // empty when broken and not yet reopened
    std::map<std::string, CK_OBJECT_HANDLE> private_keys;  // label -> handle
    // Bumped whenever `session` is replaced or dropped, so a thread whose call
    // failed can tell whether another thread's recovery already rebuilt it.
    std::uint64_t epoch = 0;
  };

  SessionPool(std::shared_ptr<Module> module, TokenSelector selector, Secret pin, PoolOptions options);
  void run(const std::function<void(Session&, Entry&)>& op);
  Entry& acquire();
  void release(Entry& entry) noexcept;
  void report(const Error& error) const noexcept;
  // Under the exclusive gate: repair `entry` after `cause`, unless another
  // thread has rebuilt it since the failed call saw it at `seen_epoch`.
  void recover(Entry& entry, CK_RV cause, std::uint64_t seen_epoch);
  void open_session(Entry& entry);
  // open_session, re-initializing the library first if it was finalized.
  void reopen(Entry& entry);
  void restart_library();
  // Under the exclusive gate: C_Finalize + C_Initialize and every session
  // reopened, unless another thread did so since `seen_generation`. Then
  // `entry` is reopened if it has no session (throws when the token is still away).
  void restart_module(Entry& entry, std::uint64_t seen_generation);
  void forget_session(Entry& entry) noexcept;

  std::shared_ptr<Module> module_;
  TokenSelector selector_;
  Secret pin_;
  PoolOptions options_;
  TokenInfo token_;

  std::vector<Entry> entries_;
  // Held shared by every call into the token, exclusively by recovery: while a
  // session is being rebuilt nothing else is inside the module, so no stale
  // handle is used after the token could have issued its number again.
  std::shared_mutex gate_;
  mutable std::mutex mutex_;  // guards free_
  std::condition_variable available_;
  std::vector<Entry*> free_;
  std::atomic<std::uint64_t> recoveries_{0};
  std::uint64_t generation_ = 0;  // library restarts; guarded by gate_
  std::mutex labels_mutex_;
  std::set<std::string> signed_with_;  // labels of keys sign() has found before: their loss is a fault
  std::atomic<std::size_t> open_sessions_{0};
};

}  // namespace hsmca::token
