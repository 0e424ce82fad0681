#pragma once
// Thin RAII over SQLite's C API for the ledger: one owner per connection and
// statement, and errors as LedgerError carrying sqlite3_errmsg. Private to
// signer; no SQLite type reaches a public header.
#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hsmca::signer::sqlite {

struct CloseDatabase {
  // _v2: closes once the last statement is finalized, whatever the order.
  void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
struct FinalizeStatement {
  void operator()(sqlite3_stmt* stmt) const noexcept { sqlite3_finalize(stmt); }
};
using DatabasePtr = std::unique_ptr<sqlite3, CloseDatabase>;
using StatementPtr = std::unique_ptr<sqlite3_stmt, FinalizeStatement>;

// How long a connection waits for another process (the CLI, the appliance)
// that holds the write lock before giving up with SQLITE_BUSY. Their
// transactions are single batches of small rows, so seconds is generous.
constexpr int kBusyTimeoutMs = 5000;

// LedgerError "operation: sqlite3_errmsg(db)".
[[noreturn]] void fail(sqlite3* db, std::string_view operation);

// Errors name `where` ("ledger /var/lib/hsmca/ledger.db") and the statement.
StatementPtr prepare(sqlite3* db, std::string_view where, std::string_view sql, unsigned flags = 0);
void exec(sqlite3* db, const char* sql, const std::string& operation);

// One use of a prepared statement: binds parameters left to right and, when it
// goes, resets the statement so a reused one holds no read snapshot and no
// pointer into the caller's strings (which are bound without copying).
class Query {
 public:
  Query(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~Query() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  // Two uses of one statement at once would reset each other's.
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

  Query& bind(std::string_view text);
  Query& bind(std::int64_t value);
  Query& bind_blob(std::span<const unsigned char> blob);

  // sqlite3_step's result code, for callers that tell errors apart.
  int step_code() { return sqlite3_step(stmt_); }
  // True for a row, false when done; otherwise LedgerError "where: operation: reason".
  bool step(std::string_view where, std::string_view operation);

  std::int64_t integer(int col) const { return sqlite3_column_int64(stmt_, col); }
  std::optional<std::int64_t> optional_integer(int col) const;
  std::string text(int col) const;
  std::vector<unsigned char> blob(int col) const;

 private:
  void check_bind(int rc) const;
  sqlite3* db_;
  sqlite3_stmt* stmt_;
  int next_ = 1;
};

// The first column of the first row, as an integer ("PRAGMA synchronous"); errors name `where`.
std::int64_t query_integer(sqlite3* db, const char* sql, const std::string& where);

// A connection with the ledger's settings: extended result codes, the busy
// timeout, SQLITE_DBCONFIG_DEFENSIVE and foreign keys. `flags` as for
// sqlite3_open_v2; NOMUTEX is added, as a connection is used by one thread at a time.
DatabasePtr open_connection(const std::filesystem::path& path, int flags);

// Read connections to one file, kept open for the next read. Readers see the
// last commit (WAL): they never wait for the writer or for other processes.
class ReaderPool {
 public:
  ReaderPool(std::filesystem::path path, std::string where);

  // A read connection, returned to the pool when the lease goes.
  class Lease {
   public:
    explicit Lease(ReaderPool& pool) : pool_(pool), db_(pool.acquire()) {}
    ~Lease() { pool_.release(std::move(db_)); }
    // One lease, one return to the pool.
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    sqlite3* get() const noexcept { return db_.get(); }

   private:
    ReaderPool& pool_;
    DatabasePtr db_;
  };

 private:
  DatabasePtr acquire();
  void release(DatabasePtr db) noexcept;

  std::filesystem::path path_;
  std::string where_;
  std::mutex mutex_;
  std::vector<DatabasePtr> idle_;  // guarded by mutex_
};

}  // namespace hsmca::signer::sqlite
