#pragma once
// The SQLite ledger's single writer: one thread, one connection, group commit.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "hsmca/signer/ledger.hpp"
#include "sqlite.hpp"

namespace hsmca::signer {

// Runs every write on one thread and commits everything queued meanwhile in
// one transaction (group commit): one fsync is shared by every write waiting
// for it. Each write runs in its own savepoint, so one that fails (a duplicate
// serial) is undone alone and the others still commit.
class LedgerWriter {
 public:
  // A write, run on the writer thread inside the batch's transaction with the
  // writer's connection. Its result is what submit returns; what it throws,
  // submit throws (DuplicateSerial as such, anything else as LedgerError).
  using Apply = std::function<std::int64_t(sqlite3* db)>;

  // Takes the connection (schema ready, see ledger_schema.hpp) and starts the
  // thread; from then on only `apply` touches the connection and any statement
  // prepared on it. `where` ("ledger PATH") begins every error message.
  LedgerWriter(sqlite::DatabasePtr db, std::string where);
  // Lets the thread write everything queued, then stops it. Never throws.
  ~LedgerWriter();
  // The thread holds `this`.
  LedgerWriter(const LedgerWriter&) = delete;
  LedgerWriter& operator=(const LedgerWriter&) = delete;

  // Queues `apply` and waits until its transaction committed (or failed):
  // durable on return. `apply` may refer to the caller's locals.
  std::int64_t submit(Apply apply);

  LedgerStats stats() const noexcept { return {commits_.load(), requests_.load()}; }

 private:
  // What a write came to, carried back to the caller's thread, which throws
  // from it: an exception object is never shared between threads.
  struct Outcome {
    enum class Kind { ok, ledger_error, duplicate_serial };
    Kind kind = Kind::ok;
    std::int64_t value = 0;
    std::string message{};
  };
  struct Request {
    Apply apply;
    std::promise<Outcome> done;  // kept only after the COMMIT
  };

  static Outcome outcome_of_current_exception();
  void run() noexcept;
  void write_batch(std::vector<Request>& batch) noexcept;
  void run_control(sqlite3_stmt* stmt, const char* operation);

  // Declared before the statements, so they are finalized before it closes.
  sqlite::DatabasePtr db_;
  std::string where_;
  sqlite::StatementPtr begin_, commit_, rollback_, savepoint_, release_, rollback_to_;

  std::mutex queue_mutex_;
  std::condition_variable queue_cv_;
  std::vector<Request> queue_;  // guarded by queue_mutex_
  bool stopping_ = false;       // guarded by queue_mutex_

  std::atomic<std::uint64_t> commits_{0};
  std::atomic<std::uint64_t> requests_{0};

  std::thread thread_;  // started last, joined first
};

}  // namespace hsmca::signer
