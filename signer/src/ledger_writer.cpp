#include "ledger_writer.hpp"

#include <exception>
#include <optional>
#include <utility>

namespace hsmca::signer {

using sqlite::Query;

LedgerWriter::LedgerWriter(sqlite::DatabasePtr db, std::string where)
    : db_(std::move(db)), where_(std::move(where)) {
  sqlite3* raw = db_.get();
  const unsigned persistent = SQLITE_PREPARE_PERSISTENT;
  begin_ = sqlite::prepare(raw, where_, "BEGIN IMMEDIATE", persistent);
  commit_ = sqlite::prepare(raw, where_, "COMMIT", persistent);
  rollback_ = sqlite::prepare(raw, where_, "ROLLBACK", persistent);
  savepoint_ = sqlite::prepare(raw, where_, "SAVEPOINT request", persistent);
  release_ = sqlite::prepare(raw, where_, "RELEASE request", persistent);
  rollback_to_ = sqlite::prepare(raw, where_, "ROLLBACK TO request", persistent);
  thread_ = std::thread([this] { run(); });
}

LedgerWriter::~LedgerWriter() {
  try {  // lock and join throw only std::system_error, on a broken runtime
    {
      std::lock_guard lock(queue_mutex_);
      stopping_ = true;
    }
    queue_cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  } catch (...) {  // NOLINT(bugprone-empty-catch): a destructor must not throw
  }
}

// Only inside a catch block: the exception in flight, as an outcome.
LedgerWriter::Outcome LedgerWriter::outcome_of_current_exception() {
  try {
    throw;
  } catch (const DuplicateSerial& e) {
    return {Outcome::Kind::duplicate_serial, 0, e.what()};
  } catch (const std::exception& e) {
    return {Outcome::Kind::ledger_error, 0, e.what()};
  } catch (...) {
    return {Outcome::Kind::ledger_error, 0, "unknown error"};
  }
}

void LedgerWriter::run() noexcept {
  std::vector<Request> batch;
  for (;;) {
    {
      std::unique_lock lock(queue_mutex_);
      queue_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything queued is written
      batch.swap(queue_);
    }
    write_batch(batch);
    batch.clear();
  }
}

void LedgerWriter::run_control(sqlite3_stmt* stmt, const char* operation) {
  Query q(db_.get(), stmt);
  if (q.step_code() != SQLITE_DONE) sqlite::fail(db_.get(), where_ + ": " + operation);
}

void LedgerWriter::write_batch(std::vector<Request>& batch) noexcept {
  sqlite3* db = db_.get();
  requests_ += batch.size();
  std::vector<Outcome> outcomes(batch.size());
  // Set when the transaction as a whole is gone: every request that did not
  // fail on its own fails with it.
  std::optional<Outcome> lost;
  try {
    run_control(begin_.get(), "BEGIN IMMEDIATE");
  } catch (...) {
    lost = outcome_of_current_exception();
  }
  for (std::size_t i = 0; !lost && i < batch.size(); ++i) {
    try {
      run_control(savepoint_.get(), "SAVEPOINT");
      outcomes[i].value = batch[i].apply(db);
      run_control(release_.get(), "RELEASE");
    } catch (...) {
      outcomes[i] = outcome_of_current_exception();
      // Most errors undo one statement; a few (I/O error, disk full, out of
      // memory) roll back the whole transaction, taking the requests before
      // this one with it ("Response To Errors Within A Transaction").
      if (sqlite3_get_autocommit(db) != 0) {
        lost = outcomes[i];
        break;
      }
      try {
        run_control(rollback_to_.get(), "ROLLBACK TO");
        run_control(release_.get(), "RELEASE");
      } catch (...) {
        lost = outcome_of_current_exception();
      }
    }
  }
  if (!lost) {
    try {
      run_control(commit_.get(), "COMMIT");
      ++commits_;
    } catch (...) {
      lost = outcome_of_current_exception();
    }
  }
  if (lost && sqlite3_get_autocommit(db) == 0) {
    Query q(db, rollback_.get());
    q.step_code();
  }
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const bool failed_alone = outcomes[i].kind != Outcome::Kind::ok;
    batch[i].done.set_value(lost && !failed_alone ? *lost : std::move(outcomes[i]));
  }
}

std::int64_t LedgerWriter::submit(Apply apply) {
  Request request{std::move(apply), {}};
  std::future<Outcome> result = request.done.get_future();
  {
    std::lock_guard lock(queue_mutex_);
    if (stopping_) throw LedgerError(where_ + " is closing");
    queue_.push_back(std::move(request));
  }
  queue_cv_.notify_one();
  Outcome outcome = result.get();
  switch (outcome.kind) {
    case Outcome::Kind::ok:
      return outcome.value;
    case Outcome::Kind::duplicate_serial:
      throw DuplicateSerial(outcome.message);
    case Outcome::Kind::ledger_error:
      break;
  }
  throw LedgerError(outcome.message);
}

}  // namespace hsmca::signer
