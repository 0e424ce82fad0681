#include "hsmca/token/session_pool.hpp"

#include <utility>

#include "hsmca/token/key.hpp"

namespace hsmca::token {
namespace {

CircuitBreaker::Options breaker_options(const PoolOptions& o) {
  CircuitBreaker::Options b = o.breaker;
  // A probe is bounded like any signature; one that never reports is given up.
  if (b.probe_timeout.count() == 0 && o.call_timeout.count() > 0) b.probe_timeout = 2 * o.call_timeout;
  return b;
}

std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Faults that say the token (or the path to it) is in trouble, as opposed to
// a call the token refused for what it was asked (CKR_FUNCTION_FAILED, a
// memory limit: a request of the caller's making could earn those) or a
// caller that waited for a free session: what the breaker counts.
bool counts_against_token(const Error& e) {
  if (const auto* t = dynamic_cast<const Timeout*>(&e)) return t->inside_token();
  return is_session_fault(e.rv()) || e.rv() == CKR_GENERAL_ERROR;
}

// After these the session's handle is dead; the token may hand its number to
// the next session opened, so it must not even be passed to C_CloseSession.
bool handle_is_gone(CK_RV rv) {
  return rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED || rv == CKR_DEVICE_REMOVED ||
         rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_TOKEN_NOT_RECOGNIZED || rv == CKR_CRYPTOKI_NOT_INITIALIZED;
}

}  // namespace

// A signature handed to one of the pool's threads. It owns everything the
// call needs, so a caller that stopped waiting leaves nothing dangling.
struct SessionPool::SignTask {
  bool check_session = false;  // a probe: C_GetSessionInfo rather than a signature
  std::string label;
  SignatureScheme scheme;
  Bytes message;
  Deadline deadline;
  std::mutex mutex;
  std::condition_variable finished;
  bool done = false;
  bool abandoned = false;  // the caller timed out: skip it if not yet started
  bool started = false;    // a pool thread took it: the token is being asked
  Bytes signature;
  std::exception_ptr error;
};

SessionPool::SessionPool(std::shared_ptr<Module> module, TokenSelector selector, Secret pin, PoolOptions options)
    : module_(std::move(module)), selector_(std::move(selector)), pin_(std::move(pin)), options_(std::move(options)),
      entries_(options_.sessions), breaker_(breaker_options(options_), options_.on_outage) {}

SessionPool::~SessionPool() {
  {
    std::lock_guard lock(tasks_mutex_);
    stopping_ = true;
  }
  tasks_ready_.notify_all();
  // A thread still inside a hung call is waited for: its session and the
  // module must outlive the call.
  for (auto& w : workers_) w.join();
}

std::unique_ptr<SessionPool> SessionPool::open(std::shared_ptr<Module> module, TokenSelector selector, Secret pin,
                                               PoolOptions options) {
  if (options.sessions == 0) throw std::invalid_argument("a session pool needs at least one session");
  std::unique_ptr<SessionPool> pool(new SessionPool(std::move(module), std::move(selector), std::move(pin),
                                                    std::move(options)));
  pool->token_ = find_token(*pool->module_, pool->selector_);
  for (auto& entry : pool->entries_) {
    pool->open_session(entry);
    pool->free_.push_back(&entry);
  }
  if (pool->options_.call_timeout.count() > 0) {
    for (std::size_t i = 0; i < pool->entries_.size(); ++i) {
      pool->workers_.emplace_back([p = pool.get()] { p->worker_loop(); });
    }
  }
  return pool;
}

void SessionPool::open_session(Entry& entry) {
  TokenInfo found;
  try {
    found = find_token(*module_, selector_);
  } catch (const LookupError&) {
    throw Error("C_GetTokenInfo", CKR_TOKEN_NOT_PRESENT, selector_.describe() + " is not present");
  }
  Session session = Session::open(module_, found.slot, options_.read_write);
  // Login belongs to the application: after the first one this returns
  // CKR_USER_ALREADY_LOGGED_IN, which Session::login accepts.
  session.login(CKU_USER, pin_);
  token_ = found;
  entry.session.emplace(std::move(session));
  entry.private_keys.clear();
  ++entry.epoch;
  ++open_sessions_;
}

void SessionPool::reopen(Entry& entry) {
  try {
    open_session(entry);
  } catch (const Error& e) {
    // The library was finalized while this entry had no session to notice it
    // with (C_GetSlotList or C_OpenSession says so first).
    if (e.rv() != CKR_CRYPTOKI_NOT_INITIALIZED) throw;
    restart_library();
    open_session(entry);
  }
}

void SessionPool::restart_library() {
  {
    // C_Finalize with a call inside the module is undefined: not while one is quarantined.
    std::lock_guard lock(gate_mutex_);
    if (quarantined_calls_ > 0) {
      throw Timeout("C_Finalize", options_.call_timeout, "a call is still inside " + selector_.describe());
    }
  }
  module_->reinitialize();
  // Every session went with the old library state, and the new one numbers
  // sessions afresh: no old handle may survive.
  for (auto& e : entries_) forget_session(e);
}

void SessionPool::forget_session(Entry& entry) noexcept {
  if (!entry.session) return;
  entry.session->abandon();
  entry.session.reset();
  entry.private_keys.clear();
  ++entry.epoch;
  --open_sessions_;
}

SessionPool::Entry& SessionPool::acquire(Deadline deadline) {
  std::unique_lock lock(mutex_);
  if (deadline == kNoDeadline) {
    available_.wait(lock, [&] { return !free_.empty(); });
  } else if (!available_.wait_until(lock, deadline, [&] { return !free_.empty(); })) {
    throw Timeout("lease", options_.call_timeout, "every session of " + selector_.describe() + " is busy or stuck");
  }
  Entry* entry = free_.back();
  free_.pop_back();
  return *entry;
}

void SessionPool::release(Entry& entry) noexcept {
  {
    std::lock_guard lock(mutex_);
    free_.push_back(&entry);
  }
  available_.notify_one();
}

void SessionPool::report(const Error& error) const noexcept {
  if (!options_.on_fault) return;
  try {
    options_.on_fault(error);
  } catch (...) {
    // An observer's failure must not change the outcome of a signature.
  }
}

// One call inside the module: waits while a repair runs, and counts itself
// so that a repair waits for it (until it is quarantined).
class SessionPool::CallGate {
 public:
  CallGate(SessionPool& pool, Entry& entry, Deadline deadline) : pool_(pool), entry_(entry) {
    std::unique_lock lock(pool.gate_mutex_);
    const auto open = [&] { return !pool.repairing_; };
    if (deadline == kNoDeadline) {
      pool.gate_changed_.wait(lock, open);
    } else if (!pool.gate_changed_.wait_until(lock, deadline, open)) {
      throw Timeout("repair", pool.options_.call_timeout, "a repair of " + pool.selector_.describe() + " is running");
    }
    ++pool.active_calls_;
    entry.in_call = true;
    entry.quarantined = false;
    entry.repairs_seen = pool.repair_count_;
    entry.busy_since = steady_ns();
  }
  ~CallGate() {
    bool stale = false;
    {
      std::lock_guard lock(pool_.gate_mutex_);
      stale = entry_.quarantined && entry_.repairs_seen != pool_.repair_count_;
    }
    // Still counted as inside, so no repair touches the entry meanwhile: a
    // session a repair may have outlived is given up, never closed (its
    // number may belong to a newer session now).
    if (stale) pool_.forget_session(entry_);
    std::lock_guard lock(pool_.gate_mutex_);
    if (entry_.quarantined) {
      --pool_.quarantined_calls_;
    } else {
      --pool_.active_calls_;
    }
    entry_.in_call = false;
    entry_.quarantined = false;
    entry_.busy_since = 0;
    pool_.gate_changed_.notify_all();
  }
  CallGate(const CallGate&) = delete;
  CallGate& operator=(const CallGate&) = delete;

 private:
  SessionPool& pool_;
  Entry& entry_;
};

// A repair: closes the gate to new calls and waits until none is inside —
// quarantining calls past the bound, which only a library restart
// (`whole_library`) waits for as well. Timeout when `deadline` passes first.
class SessionPool::RepairGate {
 public:
  RepairGate(SessionPool& pool, Deadline deadline, bool whole_library) : pool_(pool) {
    std::unique_lock lock(pool.gate_mutex_);
    const auto bounded = pool.options_.call_timeout.count() > 0;
    const auto wait = [&](auto&& ready) {
      while (!ready()) {
        if (deadline != kNoDeadline && std::chrono::steady_clock::now() >= deadline) return false;
        if (!bounded && deadline == kNoDeadline) {
          pool.gate_changed_.wait(lock);
          continue;
        }
        auto wake = std::chrono::steady_clock::now() + std::chrono::milliseconds(10);
        if (deadline != kNoDeadline && deadline < wake) wake = deadline;
        pool.gate_changed_.wait_until(lock, wake);
        pool.quarantine_stuck_locked();
      }
      return true;
    };
    if (!wait([&] { return !pool.repairing_; })) {
      throw Timeout("repair", pool.options_.call_timeout, "another repair of " + pool.selector_.describe() + " is running");
    }
    pool.repairing_ = true;
    ++pool.repair_count_;
    pool.quarantine_stuck_locked();
    if (!wait([&] { return pool.active_calls_ == 0 && (!whole_library || pool.quarantined_calls_ == 0); })) {
      pool.repairing_ = false;
      pool.gate_changed_.notify_all();
      throw Timeout("repair", pool.options_.call_timeout, "a call is still inside " + pool.selector_.describe());
    }
  }
  ~RepairGate() {
    std::lock_guard lock(pool_.gate_mutex_);
    pool_.repairing_ = false;
    pool_.gate_changed_.notify_all();
  }
  RepairGate(const RepairGate&) = delete;
  RepairGate& operator=(const RepairGate&) = delete;

 private:
  SessionPool& pool_;
};

void SessionPool::quarantine_stuck_locked() {
  if (options_.call_timeout.count() <= 0) return;
  const std::int64_t bound = std::chrono::duration_cast<std::chrono::nanoseconds>(options_.call_timeout).count();
  const std::int64_t now = steady_ns();
  for (auto& e : entries_) {
    if (!e.in_call || e.quarantined) continue;
    const std::int64_t since = e.busy_since.load();
    if (since != 0 && now - since > bound) {
      e.quarantined = true;
      --active_calls_;
      ++quarantined_calls_;
    }
  }
}

bool SessionPool::settled(const Entry& e) {
  std::lock_guard lock(gate_mutex_);
  return !e.in_call;
}

void SessionPool::run(const std::function<void(Session&, Entry&)>& op, Deadline deadline) {
  Entry& entry = acquire(deadline);
  struct Lease {
    SessionPool& pool;
    Entry& entry;
    ~Lease() { pool.release(entry); }
  } lease{*this, entry};

  // A fault gets a repair of the session (recover) and a retry; if the repair
  // or the retry fails, the library is restarted for a last try. A fault that
  // survives that is the caller's to see; the next call starts over.
  bool retried_failure = false;
  for (int repairs = 0;; ++repairs) {
    if (deadline != kNoDeadline && std::chrono::steady_clock::now() >= deadline) {
      throw Timeout("repair", options_.call_timeout, "the token kept failing");
    }
    CK_RV cause = CKR_SESSION_HANDLE_INVALID;  // an entry left closed by a failed recovery
    std::uint64_t seen_epoch = 0;
    std::uint64_t seen_generation = 0;
    {
      CallGate call(*this, entry, deadline);
      seen_epoch = entry.epoch;
      seen_generation = generation_;
      if (entry.session) {
        try {
          op(*entry.session, entry);
          return;
        } catch (const Error& e) {
          report(e);
          if (e.rv() == CKR_FUNCTION_FAILED && !retried_failure && repairs < 2) {
            // The call failed but the session stands (PKCS#11 2.40 §5.1.2):
            // once more on the same session before it counts.
            retried_failure = true;
            --repairs;
            continue;
          }
          if (!is_session_fault(e.rv()) || repairs == 2) throw;
          cause = e.rv();
        }
      } else if (repairs == 2) {
        throw Error("C_OpenSession", CKR_TOKEN_NOT_PRESENT, selector_.describe() + " is unavailable");
      }
    }
    try {
      if (repairs == 0) {
        try {
          recover(entry, cause, seen_epoch, deadline);
        } catch (const Timeout&) {
          throw;
        } catch (const Error& e) {
          report(e);
          ++repairs;
          restart_module(entry, seen_generation, deadline);
        }
      } else {
        restart_module(entry, seen_generation, deadline);
      }
    } catch (const Timeout&) {
      throw;
    } catch (const Error& e) {
      report(e);
      throw;
    }
  }
}

void SessionPool::restart_module(Entry& entry, std::uint64_t seen_generation, Deadline deadline) {
  RepairGate gate(*this, deadline, true);
  if (generation_ == seen_generation) {
    // Nothing is inside the module: every session can go with the library.
    for (auto& e : entries_) forget_session(e);
    module_->restart();
    ++generation_;
    ++recoveries_;
    for (auto& e : entries_) {
      if (&e == &entry) continue;
      try {
        open_session(e);
      } catch (const Error&) {
        // Its next caller tries again.
      }
    }
  }
  if (!entry.session) open_session(entry);
}

namespace {
bool logged_in(const CK_SESSION_INFO& info) {
  return info.state == CKS_RO_USER_FUNCTIONS || info.state == CKS_RW_USER_FUNCTIONS;
}
}  // namespace

void SessionPool::recover(Entry& entry, CK_RV cause, std::uint64_t seen_epoch, Deadline deadline) {
  // A session repair waits for the calls inside the module, not for those
  // quarantined past the bound: a hung call does not stop the others' repair.
  RepairGate gate(*this, deadline, cause == CKR_CRYPTOKI_NOT_INITIALIZED);
  // Several threads fail at once when the token drops every session; the
  // first to get here rebuilds them all. Repairing again would throw away a
  // fresh session (or, after C_Finalize, every fresh session) for nothing.
  if (entry.epoch != seen_epoch) return;

  if (cause == CKR_KEY_HANDLE_INVALID || cause == CKR_OBJECT_HANDLE_INVALID || cause == CKR_USER_NOT_LOGGED_IN) {
    // A logout (C_Logout on any session of ours, or the token's own) hides the
    // private keys and invalidates every private-object handle, for good
    // (PKCS#11 2.40 C_Logout), and tokens report it as a dead key handle as
    // often as CKR_USER_NOT_LOGGED_IN. A key replaced under its label looks
    // the same. Either way every cached handle goes, and we log in if needed.
    for (auto& e : entries_) {
      if (&e == &entry || settled(e)) e.private_keys.clear();
    }
    if (entry.session) {
      CK_SESSION_INFO info{};
      CK_RV rv = module_->fn()->C_GetSessionInfo(entry.session->handle(), &info);
      if (rv == CKR_OK) {
        if (!logged_in(info)) {
          entry.session->login(CKU_USER, pin_);
          ++recoveries_;
        }
        return;
      }
      if (!is_session_fault(rv)) throw Error("C_GetSessionInfo", rv, selector_.describe());
      cause = rv;  // the session itself is gone: rebuild it below
    }
  }

  if (cause == CKR_CRYPTOKI_NOT_INITIALIZED) {
    // The library was finalized underneath us: every session went with it.
    restart_library();
  } else if (handle_is_gone(cause) || !entry.session) {
    forget_session(entry);
    // The others may be gone too. Find out now, while nothing is inside the
    // module and no dead handle number has been reissued.
    for (auto& e : entries_) {
      if (!e.session || !settled(e)) continue;
      CK_SESSION_INFO info{};
      CK_RV rv = module_->fn()->C_GetSessionInfo(e.session->handle(), &info);
      if (rv != CKR_OK && (handle_is_gone(rv) || is_session_fault(rv))) forget_session(e);
    }
  } else {
    // CKR_DEVICE_ERROR and the like: the handle is still ours, so close it.
    entry.session.reset();
    entry.private_keys.clear();
    ++entry.epoch;
    --open_sessions_;
  }
  reopen(entry);
  ++recoveries_;
  // Rebuild every other lost session now, while the gate is ours, rather than
  // have each of their threads wait for the whole pool to drain in turn. One
  // that will not open stays empty; its next caller tries again.
  for (auto& e : entries_) {
    if (e.session || !settled(e)) continue;
    try {
      open_session(e);
      ++recoveries_;
    } catch (const Error&) {
    }
  }
}

Bytes SessionPool::sign(const std::string& key_label, SignatureScheme scheme, std::span<const unsigned char> message) {
  ensure_available();
  return sign_observed(key_label, scheme, message);
}

Bytes SessionPool::sign_observed(const std::string& key_label, SignatureScheme scheme,
                                 std::span<const unsigned char> message) {
  try {
    Bytes signature = options_.call_timeout.count() > 0 ? sign_bounded(key_label, scheme, message)
                                                        : sign_now(key_label, scheme, message, kNoDeadline);
    breaker_.succeeded();
    std::lock_guard lock(probe_mutex_);
    if (!probe_key_ || probe_key_->first != key_label || probe_key_->second != scheme) {
      probe_key_.emplace(key_label, scheme);
    }
    return signature;
  } catch (const Error& e) {
    if (counts_against_token(e)) {
      last_fault_ = e.rv();
      breaker_.failed(e.what());
    }
    throw;
  }
}

void SessionPool::ensure_available() {
  std::uint64_t probe_id = 0;
  switch (breaker_.admit(&probe_id)) {
    case CircuitBreaker::Admission::pass:
      return;
    case CircuitBreaker::Admission::refuse:
      throw Outage(last_fault_.load(), breaker_.cause(), breaker_.retry_after_seconds());
    case CircuitBreaker::Admission::probe:
      break;
  }
  try {
    probe();
  } catch (const Error& e) {
    last_fault_ = e.rv();
    breaker_.probe_finished(false, e.what(), probe_id);
    throw Outage(e.rv(), e.what(), breaker_.retry_after_seconds());
  } catch (...) {
    breaker_.probe_finished(false, {}, probe_id);
    throw;
  }
  breaker_.probe_finished(true, {}, probe_id);
}

void SessionPool::probe() {
  static const unsigned char kProbe[] = "hsmca token probe";
  std::optional<std::pair<std::string, SignatureScheme>> key;
  {
    std::lock_guard lock(probe_mutex_);
    key = probe_key_;
  }
  if (options_.call_timeout.count() > 0) {
    // On the pool's threads and within the bound, like any signature: a
    // probe into a hung token costs its caller the bound, no more.
    auto task = std::make_shared<SignTask>();
    task->check_session = !key;
    if (key) {
      task->label = key->first;
      task->scheme = key->second;
      task->message.assign(std::begin(kProbe), std::end(kProbe));
    }
    run_bounded(task);
  } else if (key) {
    sign_now(key->first, key->second, kProbe, kNoDeadline);
  } else {
    check_session(kNoDeadline);
  }
}

void SessionPool::check_session(Deadline deadline) {
  // Nothing signed yet: that a session answers is all there is to know.
  run([](Session& s, Entry&) {
        CK_SESSION_INFO info{};
        check(s.fn()->C_GetSessionInfo(s.handle(), &info), "C_GetSessionInfo");
      },
      deadline);
}

Bytes SessionPool::sign_bounded(const std::string& key_label, SignatureScheme scheme,
                                std::span<const unsigned char> message) {
  auto task = std::make_shared<SignTask>();
  task->label = key_label;
  task->scheme = scheme;
  task->message.assign(message.begin(), message.end());
  return run_bounded(task);
}

Bytes SessionPool::run_bounded(const std::shared_ptr<SignTask>& task) {
  task->deadline = std::chrono::steady_clock::now() + options_.call_timeout;
  {
    std::lock_guard lock(tasks_mutex_);
    // While every thread is inside a hung call nothing is taken: what callers
    // gave up on goes, so the queue holds no more than the waiting callers.
    if (tasks_.size() >= 4 * entries_.size()) {
      std::erase_if(tasks_, [](const std::shared_ptr<SignTask>& t) {
        std::lock_guard task_lock(t->mutex);
        return t->abandoned;
      });
    }
    tasks_.push_back(task);
  }
  tasks_ready_.notify_one();
  std::unique_lock lock(task->mutex);
  if (!task->finished.wait_until(lock, task->deadline, [&] { return task->done; })) {
    task->abandoned = true;
    // Counted against the token when a pool thread was asking it, or every
    // session is stuck inside it: a caller that waited in the queue behind
    // busy sessions saw load, not a fault.
    throw Timeout(task->check_session ? "C_GetSessionInfo" : "C_Sign", options_.call_timeout, selector_.describe(),
                  task->started || stats().stuck == entries_.size());
  }
  if (task->error) std::rethrow_exception(task->error);
  return std::move(task->signature);
}

void SessionPool::worker_loop() {
  for (;;) {
    std::shared_ptr<SignTask> task;
    {
      std::unique_lock lock(tasks_mutex_);
      tasks_ready_.wait(lock, [&] { return stopping_ || !tasks_.empty(); });
      if (tasks_.empty()) return;  // stopping
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    {
      std::lock_guard lock(task->mutex);
      if (task->abandoned) continue;
      task->started = true;
    }
    Bytes signature;
    std::exception_ptr error;
    try {
      if (task->check_session) {
        check_session(task->deadline);
      } else {
        signature = sign_now(task->label, task->scheme, task->message, task->deadline);
      }
    } catch (...) {
      error = std::current_exception();
    }
    {
      std::lock_guard lock(task->mutex);
      task->signature = std::move(signature);
      task->error = error;
      task->done = true;
    }
    task->finished.notify_all();
  }
}

Bytes SessionPool::sign_now(const std::string& key_label, SignatureScheme scheme, std::span<const unsigned char> message,
                            Deadline deadline) {
  Bytes signature;
  run([&](Session& session, Entry& entry) {
    auto it = entry.private_keys.find(key_label);
    if (it == entry.private_keys.end()) {
      CK_OBJECT_HANDLE handle = CK_INVALID_HANDLE;
      try {
        handle = find_key_pair(session, key_label).private_key;
      } catch (const LookupError&) {
        // A key this pool has signed with does not vanish from a healthy
        // token: the token lost its objects (SoftHSM does when its directory
        // goes away). A fault, so the pool repairs and retries.
        std::lock_guard lock(labels_mutex_);
        if (signed_with_.count(key_label) != 0) {
          throw Error("C_FindObjects", CKR_KEY_HANDLE_INVALID,
                      "key '" + key_label + "' is missing from " + selector_.describe());
        }
        throw;
      }
      it = entry.private_keys.emplace(key_label, handle).first;
      std::lock_guard lock(labels_mutex_);
      signed_with_.insert(key_label);
    }
    const auto started = std::chrono::steady_clock::now();
    signature = token::sign(session, it->second, scheme, message);
    if (options_.on_sign) options_.on_sign(std::chrono::steady_clock::now() - started);
  }, deadline);
  return signature;
}

PoolStats SessionPool::stats() const {
  PoolStats s;
  s.total = entries_.size();
  {
    std::lock_guard lock(mutex_);
    s.busy = entries_.size() - free_.size();
  }
  s.healthy = open_sessions_.load();
  s.recoveries = recoveries_.load();
  if (options_.call_timeout.count() > 0) {
    const std::int64_t now = steady_ns();
    const std::int64_t bound = std::chrono::duration_cast<std::chrono::nanoseconds>(options_.call_timeout).count();
    for (const auto& e : entries_) {
      const std::int64_t since = e.busy_since.load();
      if (since != 0 && now - since > bound) ++s.stuck;
    }
  }
  s.outage = breaker_.open();
  return s;
}

}  // namespace hsmca::token
