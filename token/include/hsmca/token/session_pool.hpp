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

#include <deque>
#include <thread>

#include "hsmca/token/circuit_breaker.hpp"
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
  // The longest a sign() waits for the token, lease wait and repairs
  // included: after it the caller gets Timeout while the call, if one is
  // running, stays inside the token on the pool's own thread, its session set
  // aside until it returns. 0: no bound, and calls run on the caller's thread.
  std::chrono::milliseconds call_timeout{0};
  // The circuit breaker in front of the token (see CircuitBreaker).
  CircuitBreaker::Options breaker;
  // Called when the breaker opens (the token is away) and when it closes.
  std::function<void(const OutageEvent&)> on_outage;
};

struct PoolStats {
  std::size_t total = 0;
  std::size_t busy = 0;
  std::size_t healthy = 0;     // open and logged in as far as the pool knows
  std::uint64_t recoveries = 0;  // sessions rebuilt after a fault
  std::size_t stuck = 0;       // inside a call for longer than call_timeout
  bool outage = false;         // the circuit breaker is open
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
//
// With a call_timeout, sign() hands the call to one of the pool's threads (one
// per session) and waits at most that long: a token that hangs costs the
// caller the bound, not its thread. A session whose call hangs stays with its
// thread until the call returns, so it is never reused meanwhile; the others
// keep signing. Repairs wait for the calls inside the token only as long as
// the bound allows.
//
// Repeated faults open the circuit breaker: sign() and ensure_available()
// then throw Outage at once, and one caller per probe interval signs a probe
// message to find out whether the token is back.
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
  // Throws Timeout after call_timeout, Outage while the breaker is open.
  Bytes sign(const std::string& key_label, SignatureScheme scheme,
             std::span<const unsigned char> message);

  // Returns when the token may be called; throws Outage while the breaker is
  // open, unless this caller is the probe and the probe succeeds. Callers
  // that record something before they sign ask this first.
  void ensure_available();

  // Runs `op` with a leased, logged-in session, recovering and retrying once on
  // a session fault. `op` must be safe to run twice, and must not wait for
  // another call on this pool: recovery waits until no `op` is running.
  // It runs on the caller's thread, without the call timeout or the breaker:
  // key generation and look-ups, not the signing path.
  template <typename Op>
  auto with_session(Op&& op) -> decltype(op(std::declval<Session&>())) {
    using Result = decltype(op(std::declval<Session&>()));
    if constexpr (std::is_void_v<Result>) {
      run([&](Session& s, Entry&) { op(s); }, kNoDeadline);
    } else {
      std::optional<Result> out;
      run([&](Session& s, Entry&) { out.emplace(op(s)); }, kNoDeadline);
      return std::move(*out);
    }
  }

  const TokenInfo& token() const noexcept { return token_; }
  const Module& module() const noexcept { return *module_; }
  PoolStats stats() const;

 private:
  using Deadline = std::chrono::steady_clock::time_point;
  static constexpr Deadline kNoDeadline = Deadline::max();

  struct Entry {
    std::optional<Session> session;  // empty when broken and not yet reopened
    std::map<std::string, CK_OBJECT_HANDLE> private_keys;  // label -> handle
    // Bumped whenever `session` is replaced or dropped, so a thread whose call
    // failed can tell whether another thread's recovery already rebuilt it.
    std::uint64_t epoch = 0;
    // When the call now inside the token began (steady clock, ns); 0: none.
    std::atomic<std::int64_t> busy_since{0};
    // Guarded by gate_mutex_: a call is inside the module with this entry's
    // session; it is quarantined once past the bound (repairs stop waiting
    // for it and leave the entry alone); the repair count when it began.
    bool in_call = false;
    bool quarantined = false;
    std::uint64_t repairs_seen = 0;
  };
  class CallGate;
  class RepairGate;
  struct SignTask;

  SessionPool(std::shared_ptr<Module> module, TokenSelector selector, Secret pin, PoolOptions options);
  void run(const std::function<void(Session&, Entry&)>& op, Deadline deadline);
  Bytes sign_now(const std::string& key_label, SignatureScheme scheme, std::span<const unsigned char> message,
                 Deadline deadline);
  // sign_now on one of the pool's threads, waited for until the timeout.
  Bytes sign_bounded(const std::string& key_label, SignatureScheme scheme, std::span<const unsigned char> message);
  Bytes run_bounded(const std::shared_ptr<SignTask>& task);
  void check_session(Deadline deadline);
  // Under gate_mutex_: calls inside for longer than the bound are quarantined.
  void quarantine_stuck_locked();
  Bytes sign_observed(const std::string& key_label, SignatureScheme scheme, std::span<const unsigned char> message);
  void probe();
  void worker_loop();
  Entry& acquire(Deadline deadline);
  void release(Entry& entry) noexcept;
  void report(const Error& error) const noexcept;
  // Under the repair gate: repair `entry` after `cause`, unless another
  // thread has rebuilt it since the failed call saw it at `seen_epoch`.
  void recover(Entry& entry, CK_RV cause, std::uint64_t seen_epoch, Deadline deadline);
  // Whether a repair may touch `e` (no quarantined call is inside with it).
  bool settled(const Entry& e);
  void open_session(Entry& entry);
  // open_session, re-initializing the library first if it was finalized.
  void reopen(Entry& entry);
  void restart_library();
  // Under the repair gate, with no call at all inside the module: C_Finalize
  // + C_Initialize and every session reopened, unless another thread did so
  // since `seen_generation`. Then `entry` is reopened if it has no session
  // (throws when the token is still away).
  void restart_module(Entry& entry, std::uint64_t seen_generation, Deadline deadline);
  void forget_session(Entry& entry) noexcept;

  std::shared_ptr<Module> module_;
  TokenSelector selector_;
  Secret pin_;
  PoolOptions options_;
  TokenInfo token_;

  std::vector<Entry> entries_;
  // The gate between calls and repairs: every call into the token enters it,
  // a repair closes it and waits until no call is inside, so no stale handle
  // is used after the token could have issued its number again. A call past
  // the bound is quarantined: a session repair no longer waits for it and
  // leaves its entry alone (its handle is still open, so the token cannot
  // reissue its number); only a library restart waits for it too. A
  // quarantined call that returns after a repair gives its session up
  // without closing it.
  std::mutex gate_mutex_;
  std::condition_variable gate_changed_;
  std::size_t active_calls_ = 0;
  std::size_t quarantined_calls_ = 0;
  bool repairing_ = false;
  std::uint64_t repair_count_ = 0;
  mutable std::mutex mutex_;  // guards free_
  std::condition_variable available_;
  std::vector<Entry*> free_;
  std::atomic<std::uint64_t> recoveries_{0};
  std::uint64_t generation_ = 0;  // library restarts; changed only with no call inside
  std::mutex labels_mutex_;
  std::set<std::string> signed_with_;  // labels of keys sign() has found before: their loss is a fault
  std::atomic<std::size_t> open_sessions_{0};

  CircuitBreaker breaker_;
  std::atomic<CK_RV> last_fault_{CKR_OK};
  // The key and scheme the last signature used: what the breaker's probe signs with.
  std::mutex probe_mutex_;
  std::optional<std::pair<std::string, SignatureScheme>> probe_key_;

  // With a call_timeout: sign tasks and the threads that run them.
  std::mutex tasks_mutex_;
  std::condition_variable tasks_ready_;
  std::deque<std::shared_ptr<SignTask>> tasks_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace hsmca::token
