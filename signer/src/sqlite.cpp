#include "sqlite.hpp"

#include <utility>

#include "hsmca/signer/ledger.hpp"

namespace hsmca::signer::sqlite {
namespace {

// SQLITE_STATIC without its C-style cast: SQLite uses the bound bytes in place,
// which stay valid until the statement is reset (see Query).
constexpr sqlite3_destructor_type kBindInPlace = nullptr;

// Idle read connections kept open; more are opened under load and closed after.
constexpr std::size_t kMaxIdleReaders = 4;

}  // namespace

void fail(sqlite3* db, std::string_view operation) {
  throw LedgerError(std::string(operation) + ": " + sqlite3_errmsg(db));
}

StatementPtr prepare(sqlite3* db, std::string_view where, std::string_view sql, unsigned flags) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), flags, &raw, nullptr) != SQLITE_OK) {
    fail(db, std::string(where) + ": " + std::string(sql));
  }
  return StatementPtr(raw);
}

void exec(sqlite3* db, const char* sql, const std::string& operation) {
  if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) fail(db, operation);
}

Query& Query::bind(std::string_view text) {
  // A null pointer would bind NULL; "" binds the empty string.
  const char* data = text.data() != nullptr ? text.data() : "";
  check_bind(sqlite3_bind_text64(stmt_, next_++, data, text.size(), kBindInPlace, SQLITE_UTF8));
  return *this;
}

Query& Query::bind(std::int64_t value) {
  check_bind(sqlite3_bind_int64(stmt_, next_++, value));
  return *this;
}

Query& Query::bind_blob(std::span<const unsigned char> blob) {
  check_bind(sqlite3_bind_blob64(stmt_, next_++, blob.data(), blob.size(), kBindInPlace));
  return *this;
}

bool Query::step(std::string_view where, std::string_view operation) {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  fail(db_, std::string(where) + ": " + std::string(operation));
}

std::optional<std::int64_t> Query::optional_integer(int col) const {
  if (sqlite3_column_type(stmt_, col) == SQLITE_NULL) return std::nullopt;
  return integer(col);
}

std::string Query::text(int col) const {
  const unsigned char* p = sqlite3_column_text(stmt_, col);
  const int n = sqlite3_column_bytes(stmt_, col);
  if (p == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
}

std::vector<unsigned char> Query::blob(int col) const {
  const auto* p = static_cast<const unsigned char*>(sqlite3_column_blob(stmt_, col));
  const int n = sqlite3_column_bytes(stmt_, col);
  if (p == nullptr) return {};
  return std::vector<unsigned char>(p, p + n);
}

void Query::check_bind(int rc) const {
  if (rc != SQLITE_OK) fail(db_, "binding parameter " + std::to_string(next_ - 1));
}

std::int64_t query_integer(sqlite3* db, const char* sql, const std::string& where) {
  StatementPtr stmt = prepare(db, where, sql);
  Query q(db, stmt.get());
  return q.step(where, sql) ? q.integer(0) : 0;
}

DatabasePtr open_connection(const std::filesystem::path& path, int flags) {
  sqlite3* raw = nullptr;
  // NOMUTEX: every connection is used by one thread at a time (the writer, or
  // whoever leased a reader), so SQLite's own per-connection lock is redundant.
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  DatabasePtr db(raw);  // even a failed open returns a handle holding the error
  const std::string operation = "opening ledger " + path.string();
  if (!db) throw LedgerError(operation + ": out of memory");
  if (rc != SQLITE_OK) fail(db.get(), operation);
  sqlite3_extended_result_codes(db.get(), 1);
  sqlite3_busy_timeout(db.get(), kBusyTimeoutMs);
  // No SQL, however written, may corrupt the file (writable_schema and the like).
  sqlite3_db_config(db.get(), SQLITE_DBCONFIG_DEFENSIVE, 1, static_cast<int*>(nullptr));
  exec(db.get(), "PRAGMA foreign_keys = ON", operation + ": enabling foreign keys");
  return db;
}

ReaderPool::ReaderPool(std::filesystem::path path, std::string where)
    : path_(std::move(path)), where_(std::move(where)) {}

DatabasePtr ReaderPool::acquire() {
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      DatabasePtr db = std::move(idle_.back());
      idle_.pop_back();
      return db;
    }
  }
  // Read-write only so that it may update the WAL index (-shm); query_only
  // keeps it from writing the database.
  DatabasePtr db = open_connection(path_, SQLITE_OPEN_READWRITE);
  exec(db.get(), "PRAGMA query_only = ON", where_ + ": opening a read connection");
  return db;
}

void ReaderPool::release(DatabasePtr db) noexcept {
  try {
    std::lock_guard lock(mutex_);
    if (idle_.size() < kMaxIdleReaders) idle_.push_back(std::move(db));
  } catch (...) {  // NOLINT(bugprone-empty-catch): the connection just closes
  }
}

}  // namespace hsmca::signer::sqlite
