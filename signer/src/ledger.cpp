#include "hsmca/signer/ledger.hpp"

#include "hsmca/signer/revocation.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <future>
#include <iterator>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

namespace hsmca::signer {
namespace {

namespace fs = std::filesystem;

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
// PRAGMA application_id: "HSCA". Keeps the ledger from adopting, and writing
// into, some other program's SQLite file given by mistake.
constexpr int kApplicationId = 0x48534341;
// Idle read connections kept open; more are opened under load and closed after.
constexpr std::size_t kMaxIdleReaders = 4;

[[noreturn]] void fail(sqlite3* db, std::string_view operation) {
  throw LedgerError(std::string(operation) + ": " + sqlite3_errmsg(db));
}

// SQLITE_STATIC without its C-style cast: SQLite uses the bound bytes in place,
// which stay valid until the statement is reset (see Query).
constexpr sqlite3_destructor_type kBindInPlace = nullptr;

// The schema, one step per version, applied in order inside one transaction.
// Append, never edit: a released step is what existing files have already run.
// Revocation needs no new columns (revoked_at and revocation_reason are in
// version 1, NULL until then); version 2 adds each issuer's last CRL number.
struct Migration {
  int version;
  const char* sql;
};
constexpr Migration kMigrations[] = {
    {1, R"sql(
CREATE TABLE certificates (
  id                INTEGER PRIMARY KEY,
  issuer_id         TEXT NOT NULL CHECK (issuer_id <> '' AND issuer_id NOT GLOB '*[^0-9a-f]*'),
  serial            TEXT NOT NULL CHECK (serial <> '' AND serial NOT GLOB '*[^0-9a-f]*'),
  subject           TEXT NOT NULL,
  sans              TEXT NOT NULL,  -- one per line: 'DNS:a.example' || char(10) || 'IP:10.0.0.1'
  tbs_sha256        TEXT NOT NULL CHECK (length(tbs_sha256) = 64 AND tbs_sha256 NOT GLOB '*[^0-9a-f]*'),
  profile           TEXT NOT NULL,
  requester         TEXT NOT NULL,
  not_before        INTEGER NOT NULL,  -- unix seconds
  not_after         INTEGER NOT NULL,
  status            TEXT NOT NULL CHECK (status IN ('pending', 'issued', 'failed', 'revoked')),
  created_at        INTEGER NOT NULL,
  issued_at         INTEGER,
  der               BLOB,
  failure           TEXT,
  revoked_at        INTEGER,
  revocation_reason TEXT,
  UNIQUE (issuer_id, serial),
  CHECK ((status IN ('issued', 'revoked')) = (der IS NOT NULL AND issued_at IS NOT NULL)),
  CHECK ((status = 'failed') = (failure IS NOT NULL)),
  CHECK ((status = 'revoked') = (revoked_at IS NOT NULL))
) STRICT;

-- One row that Ledger::probe rewrites, so a health check exercises a real
-- durable write without touching the certificates.
CREATE TABLE probe (
  id        INTEGER PRIMARY KEY CHECK (id = 1),
  probed_at INTEGER NOT NULL
) STRICT;
INSERT INTO probe (id, probed_at) VALUES (1, 0);
)sql"},
    {2, R"sql(
-- RFC 5280 5.2.3: crlNumber increases with every CRL an issuer signs.
CREATE TABLE crl_numbers (
  issuer_id   TEXT PRIMARY KEY CHECK (issuer_id <> '' AND issuer_id NOT GLOB '*[^0-9a-f]*'),
  last_number INTEGER NOT NULL CHECK (last_number >= 1)
) STRICT;

-- What a CRL lists, without reading every issued certificate.
CREATE INDEX certificates_revoked ON certificates (issuer_id, id) WHERE status = 'revoked';
)sql"},
};
static_assert(std::size(kMigrations) == Ledger::kSchemaVersion,
              "one migration per schema version, the last one producing kSchemaVersion");

std::int64_t now_unix() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Errors name `where` ("ledger /var/lib/hsmca/ledger.db") and the statement.
StatementPtr prepare(sqlite3* db, std::string_view where, std::string_view sql, unsigned flags = 0) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), flags, &raw, nullptr) !=
      SQLITE_OK) {
    fail(db, std::string(where) + ": " + std::string(sql));
  }
  return StatementPtr(raw);
}

void exec(sqlite3* db, const char* sql, const std::string& operation) {
  if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) fail(db, operation);
}

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

  Query& bind(std::string_view text) {
    // A null pointer would bind NULL; "" binds the empty string.
    const char* data = text.data() != nullptr ? text.data() : "";
    check_bind(sqlite3_bind_text64(stmt_, next_++, data, text.size(), kBindInPlace, SQLITE_UTF8));
    return *this;
  }
  Query& bind(std::int64_t value) {
    check_bind(sqlite3_bind_int64(stmt_, next_++, value));
    return *this;
  }
  Query& bind_blob(std::span<const unsigned char> blob) {
    check_bind(sqlite3_bind_blob64(stmt_, next_++, blob.data(), blob.size(), kBindInPlace));
    return *this;
  }

  // sqlite3_step's result code, for callers that tell errors apart.
  int step_code() { return sqlite3_step(stmt_); }
  // True for a row, false when done; otherwise LedgerError "where: operation: reason".
  bool step(std::string_view where, std::string_view operation) {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail(db_, std::string(where) + ": " + std::string(operation));
  }

  std::int64_t integer(int col) const { return sqlite3_column_int64(stmt_, col); }
  std::optional<std::int64_t> optional_integer(int col) const {
    if (sqlite3_column_type(stmt_, col) == SQLITE_NULL) return std::nullopt;
    return integer(col);
  }
  std::string text(int col) const {
    const unsigned char* p = sqlite3_column_text(stmt_, col);
    const int n = sqlite3_column_bytes(stmt_, col);
    if (p == nullptr) return {};
    return std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
  }
  std::vector<unsigned char> blob(int col) const {
    const auto* p = static_cast<const unsigned char*>(sqlite3_column_blob(stmt_, col));
    const int n = sqlite3_column_bytes(stmt_, col);
    if (p == nullptr) return {};
    return std::vector<unsigned char>(p, p + n);
  }

 private:
  void check_bind(int rc) const {
    if (rc != SQLITE_OK) fail(db_, "binding parameter " + std::to_string(next_ - 1));
  }
  sqlite3* db_;
  sqlite3_stmt* stmt_;
  int next_ = 1;
};

// The first column of the first row, as an integer ("PRAGMA synchronous"); errors name `where`.
std::int64_t query_integer(sqlite3* db, const char* sql, const std::string& where) {
  StatementPtr stmt = prepare(db, where, sql);
  Query q(db, stmt.get());
  return q.step(where, sql) ? q.integer(0) : 0;
}

// The record of what was issued is no other user's to read or change. SQLite
// creates a new database 0644 (less the umask) and gives its -wal, -shm and
// -journal files the database file's mode, so a new ledger starts as an empty
// file made 0600 here; an existing file keeps the mode its operator gave it.
void create_private_file(const fs::path& path) {
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  // EEXIST: the ledger is there already. Any other error SQLite reports below, naming the file.
  if (fd >= 0) close(fd);
}

DatabasePtr open_connection(const fs::path& path, int flags) {
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

// SANs are stored one per line: none of them can be empty or hold a newline,
// so the encoding round-trips.
std::string join_sans(const std::vector<std::string>& sans) {
  std::string joined;
  for (const auto& san : sans) {
    if (san.empty() || san.find('\n') != std::string::npos) {
      throw std::invalid_argument("ledger: a SAN may be neither empty nor multi-line: \"" + san + "\"");
    }
    if (!joined.empty()) joined += '\n';
    joined += san;
  }
  return joined;
}

std::vector<std::string> split_sans(const std::string& joined) {
  std::vector<std::string> sans;
  if (joined.empty()) return sans;
  std::size_t start = 0;
  for (;;) {
    const auto end = joined.find('\n', start);
    sans.push_back(joined.substr(start, end - start));
    if (end == std::string::npos) return sans;
    start = end + 1;
  }
}

void check_record(const IssuanceRecord& record) {
  if (!is_lower_hex(record.issuer_id)) {
    throw std::invalid_argument("ledger: issuer_id must be lowercase hex, got \"" + record.issuer_id + "\"");
  }
  if (!is_lower_hex(record.serial)) {
    throw std::invalid_argument("ledger: serial must be lowercase hex, got \"" + record.serial + "\"");
  }
  if (record.tbs_sha256.size() != 64 || !is_lower_hex(record.tbs_sha256)) {
    throw std::invalid_argument("ledger: tbs_sha256 must be 64 lowercase hex digits, got \"" +
                                record.tbs_sha256 + "\"");
  }
}

CertificateStatus parse_status(const std::string& name) {
  for (auto s : {CertificateStatus::pending, CertificateStatus::issued, CertificateStatus::failed,
                 CertificateStatus::revoked}) {
    if (status_name(s) == name) return s;
  }
  throw LedgerError("ledger: unknown certificate status \"" + name + "\"");
}

constexpr const char* kEntryColumns =
    "id, issuer_id, serial, subject, sans, tbs_sha256, profile, requester, not_before, not_after, "
    "status, created_at, issued_at, der, failure, revoked_at, revocation_reason";

LedgerEntry read_entry(const Query& q) {
  LedgerEntry e;
  e.id = q.integer(0);
  e.record.issuer_id = q.text(1);
  e.record.serial = q.text(2);
  e.record.subject = q.text(3);
  e.record.sans = split_sans(q.text(4));
  e.record.tbs_sha256 = q.text(5);
  e.record.profile = q.text(6);
  e.record.requester = q.text(7);
  e.record.not_before = q.integer(8);
  e.record.not_after = q.integer(9);
  e.status = parse_status(q.text(10));
  e.created_at = q.integer(11);
  e.issued_at = q.optional_integer(12);
  e.der = q.blob(13);
  e.failure = q.text(14);
  e.revoked_at = q.optional_integer(15);
  e.revocation_reason = q.text(16);
  return e;
}

// Refuses a file that is not an hsmca ledger, or one whose schema is newer
// than this code; returns the schema version (0 for a new, empty file).
std::int64_t check_ledger_file(sqlite3* db, const std::string& where) {
  // One statement, one snapshot: read one by one, a version of 0 and the
  // tables another process's migration just committed would look like a
  // foreign file.
  StatementPtr stmt = prepare(db, where,
                              "SELECT (SELECT user_version FROM pragma_user_version), "
                              "(SELECT application_id FROM pragma_application_id), "
                              "(SELECT count(*) FROM sqlite_schema)");
  Query q(db, stmt.get());
  if (!q.step(where, "reading the schema version")) {
    throw LedgerError(where + ": reading the schema version returned nothing");
  }
  const auto version = q.integer(0);
  const auto application_id = q.integer(1);
  const auto objects = q.integer(2);
  const bool ours = application_id == kApplicationId || (version == 0 && application_id == 0);
  if (!ours) {
    throw LedgerError(where + " is not an hsmca ledger (application_id " +
                      std::to_string(application_id) + ")");
  }
  if (version == 0 && objects != 0) {
    throw LedgerError(where + " is not an hsmca ledger: it has tables but no ledger schema");
  }
  if (version > Ledger::kSchemaVersion) {
    throw LedgerError(where + " has schema version " + std::to_string(version) + ", newer than the " +
                      std::to_string(Ledger::kSchemaVersion) + " this program knows; use a newer hsmca");
  }
  return version;
}

// Switches the file to WAL and returns the journal mode it has afterwards.
// The switch needs the file to itself for a moment and SQLite does not wait
// for that (it skips the busy handler where waiting could deadlock), so a
// process opening the same new file at the same moment makes it fail with
// SQLITE_BUSY. Only a file not yet in WAL mode gets here more than once, so a
// short retry within the busy timeout is enough.
std::string enable_wal(sqlite3* db, const std::string& where) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kBusyTimeoutMs);
  for (;;) {
    StatementPtr stmt = prepare(db, where, "PRAGMA journal_mode = WAL");
    Query q(db, stmt.get());
    const int rc = q.step_code();
    if (rc == SQLITE_ROW) return q.text(0);
    if ((rc & 0xff) != SQLITE_BUSY || std::chrono::steady_clock::now() > deadline) {
      fail(db, where + ": PRAGMA journal_mode = WAL");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// Brings the schema to kSchemaVersion in one BEGIN IMMEDIATE transaction, so
// two processes opening a fresh file at once migrate it once between them.
void migrate(sqlite3* db, const std::string& where) {
  exec(db, "BEGIN IMMEDIATE", "migrating " + where + ": BEGIN IMMEDIATE");
  try {
    const auto version = check_ledger_file(db, where);  // again: another process may have migrated
    for (const auto& m : kMigrations) {
      if (m.version <= version) continue;
      exec(db, m.sql, "migrating " + where + " to schema version " + std::to_string(m.version));
    }
    if (version < Ledger::kSchemaVersion) {
      // PRAGMAs take no parameters; both values are our own integers.
      const std::string set = "PRAGMA user_version = " + std::to_string(Ledger::kSchemaVersion) +
                              "; PRAGMA application_id = " + std::to_string(kApplicationId);
      exec(db, set.c_str(), "migrating " + where + ": recording the schema version");
    }
    exec(db, "COMMIT", "migrating " + where + ": COMMIT");
  } catch (...) {
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

// What a write came to, carried back to the caller's thread, which throws
// from it: an exception object is never shared between threads.
struct WriteOutcome {
  enum class Kind { ok, ledger_error, duplicate_serial };
  Kind kind = Kind::ok;
  std::int64_t value = 0;
  std::string message{};
};

// Only inside a catch block: the exception in flight, as an outcome.
WriteOutcome outcome_of_current_exception() {
  try {
    throw;
  } catch (const DuplicateSerial& e) {
    return {WriteOutcome::Kind::duplicate_serial, 0, e.what()};
  } catch (const std::exception& e) {
    return {WriteOutcome::Kind::ledger_error, 0, e.what()};
  } catch (...) {
    return {WriteOutcome::Kind::ledger_error, 0, "unknown error"};
  }
}

// A write waiting for the writer thread. `apply` runs there, inside the
// batch's transaction; the promise is kept only after the COMMIT.
struct WriteRequest {
  std::function<std::int64_t()> apply;
  std::promise<WriteOutcome> done;
};

}  // namespace

LedgerError::LedgerError(const std::string& what) : std::runtime_error(what) {}

std::string_view status_name(CertificateStatus status) {
  switch (status) {
    case CertificateStatus::pending:
      return "pending";
    case CertificateStatus::issued:
      return "issued";
    case CertificateStatus::failed:
      return "failed";
    case CertificateStatus::revoked:
      return "revoked";
  }
  return "unknown";
}

struct Ledger::State {
  explicit State(fs::path p) : path(std::move(p)), where("ledger " + path.string()) {}

  // Lets the writer drain the queue, then stops it; the connections close as
  // the members go.
  ~State() {
    try {  // lock and join throw only std::system_error, on a broken runtime
      {
        std::lock_guard lock(queue_mutex);
        stopping = true;
      }
      queue_cv.notify_all();
      if (writer.joinable()) writer.join();
    } catch (...) {  // NOLINT(bugprone-empty-catch): a destructor must not throw
    }
  }
  // The writer thread holds `this`.
  State(const State&) = delete;
  State& operator=(const State&) = delete;

  fs::path path;
  std::string where;  // "ledger PATH", the start of every error message

  // The writer's connection and statements: touched only by open() before the
  // thread starts, then only by the writer thread. Declared after the
  // connection, the statements are finalized before it closes.
  DatabasePtr write_db;
  StatementPtr begin, commit, rollback, savepoint, release, rollback_to;
  StatementPtr insert_pending, mark_issued, mark_failed, status_of, touch_probe;
  StatementPtr mark_revoked, revocation_of, bump_crl_number;

  std::mutex queue_mutex;
  std::condition_variable queue_cv;
  std::vector<WriteRequest> queue;  // guarded by queue_mutex
  bool stopping = false;            // guarded by queue_mutex

  std::atomic<std::uint64_t> commits{0};
  std::atomic<std::uint64_t> requests{0};

  std::mutex readers_mutex;
  std::vector<DatabasePtr> idle_readers;  // guarded by readers_mutex

  std::thread writer;  // started last, joined first

  void prepare_writer_statements() {
    sqlite3* db = write_db.get();
    const unsigned persistent = SQLITE_PREPARE_PERSISTENT;
    begin = prepare(db, where, "BEGIN IMMEDIATE", persistent);
    commit = prepare(db, where, "COMMIT", persistent);
    rollback = prepare(db, where, "ROLLBACK", persistent);
    savepoint = prepare(db, where, "SAVEPOINT request", persistent);
    release = prepare(db, where, "RELEASE request", persistent);
    rollback_to = prepare(db, where, "ROLLBACK TO request", persistent);
    insert_pending = prepare(db, where,
                             "INSERT INTO certificates (issuer_id, serial, subject, sans, tbs_sha256, "
                             "profile, requester, not_before, not_after, status, created_at) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)",
                             persistent);
    mark_issued = prepare(db, where,
                          "UPDATE certificates SET status = 'issued', der = ?, issued_at = ? "
                          "WHERE id = ? AND status = 'pending'",
                          persistent);
    mark_failed = prepare(db, where,
                          "UPDATE certificates SET status = 'failed', failure = ? "
                          "WHERE id = ? AND status = 'pending'",
                          persistent);
    status_of = prepare(db, where, "SELECT status FROM certificates WHERE id = ?", persistent);
    touch_probe = prepare(db, where, "UPDATE probe SET probed_at = ? WHERE id = 1", persistent);
    mark_revoked = prepare(db, where,
                           "UPDATE certificates SET status = 'revoked', revoked_at = ?, revocation_reason = ? "
                           "WHERE issuer_id = ? AND serial = ? AND status = 'issued'",
                           persistent);
    revocation_of = prepare(db, where,
                            "SELECT status, revoked_at, revocation_reason FROM certificates "
                            "WHERE issuer_id = ? AND serial = ?",
                            persistent);
    bump_crl_number = prepare(db, where,
                              "INSERT INTO crl_numbers (issuer_id, last_number) VALUES (?, 1) "
                              "ON CONFLICT (issuer_id) DO UPDATE SET last_number = last_number + 1 "
                              "RETURNING last_number",
                              persistent);
  }

  // --- writer thread ---

  void run_writer() noexcept {
    std::vector<WriteRequest> batch;
    for (;;) {
      {
        std::unique_lock lock(queue_mutex);
        queue_cv.wait(lock, [&] { return stopping || !queue.empty(); });
        if (queue.empty()) return;  // stopping, and everything queued is written
        batch.swap(queue);
      }
      write_batch(batch);
      batch.clear();
    }
  }

  void run_control(sqlite3_stmt* stmt, const char* operation) {
    Query q(write_db.get(), stmt);
    if (q.step_code() != SQLITE_DONE) fail(write_db.get(), where + ": " + operation);
  }

  // Group commit: every request queued so far in one transaction and one
  // fsync. Each request runs in its own savepoint, so one that fails (a
  // duplicate serial) is undone alone and the others still commit.
  void write_batch(std::vector<WriteRequest>& batch) noexcept {
    sqlite3* db = write_db.get();
    requests += batch.size();
    std::vector<WriteOutcome> outcomes(batch.size());
    // Set when the transaction as a whole is gone: every request that did not
    // fail on its own fails with it.
    std::optional<WriteOutcome> lost;
    try {
      run_control(begin.get(), "BEGIN IMMEDIATE");
    } catch (...) {
      lost = outcome_of_current_exception();
    }
    for (std::size_t i = 0; !lost && i < batch.size(); ++i) {
      try {
        run_control(savepoint.get(), "SAVEPOINT");
        outcomes[i].value = batch[i].apply();
        run_control(release.get(), "RELEASE");
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
          run_control(rollback_to.get(), "ROLLBACK TO");
          run_control(release.get(), "RELEASE");
        } catch (...) {
          lost = outcome_of_current_exception();
        }
      }
    }
    if (!lost) {
      try {
        run_control(commit.get(), "COMMIT");
        ++commits;
      } catch (...) {
        lost = outcome_of_current_exception();
      }
    }
    if (lost && sqlite3_get_autocommit(db) == 0) {
      Query q(db, rollback.get());
      q.step_code();
    }
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const bool failed_alone = outcomes[i].kind != WriteOutcome::Kind::ok;
      batch[i].done.set_value(lost && !failed_alone ? *lost : std::move(outcomes[i]));
    }
  }

  // Queues `apply` for the writer and waits until its transaction committed
  // (or failed). `apply` may refer to the caller's locals: the caller waits.
  std::int64_t submit(std::function<std::int64_t()> apply) {
    WriteRequest request{std::move(apply), {}};
    std::future<WriteOutcome> result = request.done.get_future();
    {
      std::lock_guard lock(queue_mutex);
      if (stopping) throw LedgerError(where + " is closing");
      queue.push_back(std::move(request));
    }
    queue_cv.notify_one();
    WriteOutcome outcome = result.get();
    switch (outcome.kind) {
      case WriteOutcome::Kind::ok:
        return outcome.value;
      case WriteOutcome::Kind::duplicate_serial:
        throw DuplicateSerial(outcome.message);
      case WriteOutcome::Kind::ledger_error:
        break;
    }
    throw LedgerError(outcome.message);
  }

  // Runs on the writer: explains why an UPDATE ... WHERE status = 'pending' changed nothing.
  [[noreturn]] void refuse_transition(std::int64_t id, const char* operation) {
    Query q(write_db.get(), status_of.get());
    q.bind(id);
    if (!q.step(where, operation)) {
      throw LedgerError(where + ": " + operation + ": no entry " + std::to_string(id));
    }
    throw LedgerError(where + ": " + operation + ": entry " + std::to_string(id) + " is " + q.text(0) +
                      ", not pending");
  }

  // --- readers ---

  // A read connection, returned to the pool when the lease goes. Readers see
  // the last commit (WAL): they never wait for the writer or other processes.
  class ReaderLease {
   public:
    explicit ReaderLease(State& state) : state_(state), db_(state.acquire_reader()) {}
    ~ReaderLease() { state_.release_reader(std::move(db_)); }
    // One lease, one return to the pool.
    ReaderLease(const ReaderLease&) = delete;
    ReaderLease& operator=(const ReaderLease&) = delete;
    sqlite3* get() const noexcept { return db_.get(); }

   private:
    State& state_;
    DatabasePtr db_;
  };

  DatabasePtr acquire_reader() {
    {
      std::lock_guard lock(readers_mutex);
      if (!idle_readers.empty()) {
        DatabasePtr db = std::move(idle_readers.back());
        idle_readers.pop_back();
        return db;
      }
    }
    // Read-write only so that it may update the WAL index (-shm); query_only
    // keeps it from writing the database.
    DatabasePtr db = open_connection(path, SQLITE_OPEN_READWRITE);
    exec(db.get(), "PRAGMA query_only = ON", where + ": opening a read connection");
    return db;
  }

  void release_reader(DatabasePtr db) noexcept {
    try {
      std::lock_guard lock(readers_mutex);
      if (idle_readers.size() < kMaxIdleReaders) idle_readers.push_back(std::move(db));
    } catch (...) {  // NOLINT(bugprone-empty-catch): the connection just closes
    }
  }
};

Ledger::Ledger(std::unique_ptr<State> state) : state_(std::move(state)) {}

Ledger::~Ledger() = default;

std::unique_ptr<Ledger> Ledger::open(const fs::path& path) {
  // SQLite would only say "unable to open database file".
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  std::error_code ec;
  const auto dir_status = fs::status(dir, ec);
  if (!fs::is_directory(dir_status)) {
    std::string why = "is not a directory";
    if (dir_status.type() == fs::file_type::not_found) {
      why = "does not exist (the ledger creates its file, not its directory)";
    } else if (ec) {
      why = "cannot be examined: " + ec.message();
    }
    throw LedgerError("opening ledger " + path.string() + ": directory " + dir.string() + " " + why);
  }

  auto state = std::make_unique<State>(path);
  create_private_file(path);
  state->write_db = open_connection(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  sqlite3* db = state->write_db.get();
  const std::string& where = state->where;
  // Before anything is written, not even the journal mode: a file given by
  // mistake is left as it was.
  check_ledger_file(db, where);

  // WAL: readers and the writer do not block each other, and a commit is one
  // append to the log. The mode is stored in the file, so every process that
  // opens it later uses it too.
  const std::string mode = enable_wal(db, where);
  if (mode != "wal") {
    throw LedgerError(where + " cannot use write-ahead logging (journal_mode stays \"" + mode +
                      "\"); is it on a network filesystem?");
  }
  // FULL: in WAL mode, NORMAL syncs only at checkpoints, so a commit could be
  // lost with the power; FULL syncs the log at every commit. Per connection,
  // so read back rather than trusted.
  exec(db, "PRAGMA synchronous = FULL", where + ": PRAGMA synchronous");
  if (query_integer(db, "PRAGMA synchronous", where) != 2) {
    throw LedgerError(where + ": SQLite refused PRAGMA synchronous = FULL");
  }
  migrate(db, where);
  state->prepare_writer_statements();
  state->writer = std::thread([s = state.get()] { s->run_writer(); });
  return std::unique_ptr<Ledger>(new Ledger(std::move(state)));
}

std::int64_t Ledger::record_pending(const IssuanceRecord& record) {
  check_record(record);
  const std::string sans = join_sans(record.sans);
  State& s = *state_;
  return s.submit([&] {
    sqlite3* db = s.write_db.get();
    Query q(db, s.insert_pending.get());
    q.bind(record.issuer_id)
        .bind(record.serial)
        .bind(record.subject)
        .bind(sans)
        .bind(record.tbs_sha256)
        .bind(record.profile)
        .bind(record.requester)
        .bind(record.not_before)
        .bind(record.not_after)
        .bind(now_unix());
    const int rc = q.step_code();
    // The only UNIQUE constraint on the table is (issuer_id, serial).
    if (rc == SQLITE_CONSTRAINT_UNIQUE) {
      throw DuplicateSerial(s.where + ": record_pending: serial " + record.serial +
                            " is already recorded for issuer " + record.issuer_id + " (" +
                            sqlite3_errmsg(db) + ")");
    }
    if (rc != SQLITE_DONE) fail(db, s.where + ": record_pending");
    return sqlite3_last_insert_rowid(db);
  });
}

void Ledger::record_issued(std::int64_t id, std::span<const unsigned char> der) {
  if (der.empty()) throw std::invalid_argument("record_issued: the certificate DER is empty");
  State& s = *state_;
  s.submit([&]() -> std::int64_t {
    sqlite3* db = s.write_db.get();
    {
      Query q(db, s.mark_issued.get());
      q.bind_blob(der).bind(now_unix()).bind(id);
      q.step(s.where, "record_issued");
    }
    if (sqlite3_changes(db) == 0) s.refuse_transition(id, "record_issued");
    return id;
  });
}

void Ledger::record_failed(std::int64_t id, const std::string& reason) {
  // Called while handling a failure: an empty reason is recorded, not refused.
  const std::string stored = reason.empty() ? "(no reason given)" : reason;
  State& s = *state_;
  s.submit([&]() -> std::int64_t {
    sqlite3* db = s.write_db.get();
    {
      Query q(db, s.mark_failed.get());
      q.bind(stored).bind(id);
      q.step(s.where, "record_failed");
    }
    if (sqlite3_changes(db) == 0) s.refuse_transition(id, "record_failed");
    return id;
  });
}

RevokeOutcome Ledger::revoke(const std::string& issuer_id, const std::string& serial, const std::string& reason,
                             std::int64_t revoked_at) {
  if (!is_lower_hex(issuer_id)) {
    throw std::invalid_argument("ledger: issuer_id must be lowercase hex, got \"" + issuer_id + "\"");
  }
  if (!is_lower_hex(serial)) throw std::invalid_argument("ledger: serial must be lowercase hex, got \"" + serial + "\"");
  if (!parse_revocation_reason(reason)) {
    throw std::invalid_argument("ledger: unknown revocation reason \"" + reason + "\" (reasons: " +
                                revocation_reason_names() + ")");
  }
  State& s = *state_;
  // Written on the writer thread while this one waits in submit; read only
  // once the transaction has committed.
  RevokeOutcome outcome;
  s.submit([&]() -> std::int64_t {
    sqlite3* db = s.write_db.get();
    {
      Query q(db, s.mark_revoked.get());
      q.bind(revoked_at).bind(reason).bind(issuer_id).bind(serial);
      q.step(s.where, "revoke");
    }
    if (sqlite3_changes(db) == 1) {
      outcome = {RevokeOutcome::Result::revoked, revoked_at, reason, CertificateStatus::revoked};
      return 0;
    }
    Query q(db, s.revocation_of.get());
    q.bind(issuer_id).bind(serial);
    if (!q.step(s.where, "revoke")) {
      outcome = {RevokeOutcome::Result::not_found, 0, {}, CertificateStatus::pending};
      return 0;
    }
    const CertificateStatus status = parse_status(q.text(0));
    if (status == CertificateStatus::revoked) {
      outcome = {RevokeOutcome::Result::already_revoked, q.integer(1), q.text(2), status};
    } else {
      outcome = {RevokeOutcome::Result::not_issued, 0, {}, status};
    }
    return 0;
  });
  return outcome;
}

std::vector<LedgerEntry> Ledger::revoked(const std::string& issuer_id) const {
  State::ReaderLease db(*state_);
  const std::string sql = std::string("SELECT ") + kEntryColumns +
                          " FROM certificates WHERE issuer_id = ? AND status = 'revoked' ORDER BY id";
  StatementPtr stmt = prepare(db.get(), state_->where, sql);
  Query q(db.get(), stmt.get());
  q.bind(issuer_id);
  std::vector<LedgerEntry> entries;
  while (q.step(state_->where, "revoked")) entries.push_back(read_entry(q));
  return entries;
}

RevocationVersion Ledger::revocation_version(const std::string& issuer_id) const {
  State::ReaderLease db(*state_);
  StatementPtr stmt = prepare(db.get(), state_->where,
                              "SELECT count(*), coalesce(max(revoked_at), 0) FROM certificates "
                              "WHERE issuer_id = ? AND status = 'revoked'");
  Query q(db.get(), stmt.get());
  q.bind(issuer_id);
  if (!q.step(state_->where, "revocation_version")) return {};
  return {q.integer(0), q.integer(1)};
}

std::int64_t Ledger::next_crl_number(const std::string& issuer_id) {
  if (!is_lower_hex(issuer_id)) {
    throw std::invalid_argument("ledger: issuer_id must be lowercase hex, got \"" + issuer_id + "\"");
  }
  State& s = *state_;
  return s.submit([&]() -> std::int64_t {
    Query q(s.write_db.get(), s.bump_crl_number.get());
    q.bind(issuer_id);
    if (!q.step(s.where, "next_crl_number")) throw LedgerError(s.where + ": next_crl_number: no number returned");
    const std::int64_t number = q.integer(0);
    // RETURNING hands the row out before the statement finishes; step to the end.
    while (q.step(s.where, "next_crl_number")) {
    }
    return number;
  });
}

std::optional<LedgerEntry> Ledger::find(const std::string& issuer_id, const std::string& serial) const {
  State::ReaderLease db(*state_);
  const std::string sql =
      std::string("SELECT ") + kEntryColumns + " FROM certificates WHERE issuer_id = ? AND serial = ?";
  StatementPtr stmt = prepare(db.get(), state_->where, sql);
  Query q(db.get(), stmt.get());
  q.bind(issuer_id).bind(serial);
  if (!q.step(state_->where, "find")) return std::nullopt;
  return read_entry(q);
}

std::vector<LedgerEntry> Ledger::list(const std::string& issuer_id) const {
  State::ReaderLease db(*state_);
  const std::string sql = std::string("SELECT ") + kEntryColumns + " FROM certificates" +
                          (issuer_id.empty() ? "" : " WHERE issuer_id = ?") + " ORDER BY id";
  StatementPtr stmt = prepare(db.get(), state_->where, sql);
  Query q(db.get(), stmt.get());
  if (!issuer_id.empty()) q.bind(issuer_id);
  std::vector<LedgerEntry> entries;
  while (q.step(state_->where, "list")) entries.push_back(read_entry(q));
  return entries;
}

bool Ledger::probe() {
  State& s = *state_;
  try {
    s.submit([&]() -> std::int64_t {
      sqlite3* db = s.write_db.get();
      {
        Query q(db, s.touch_probe.get());
        q.bind(now_unix());
        q.step(s.where, "probe");
      }
      if (sqlite3_changes(db) != 1) throw LedgerError(s.where + ": probe: the probe row is missing");
      return 0;
    });
    return true;
  } catch (const LedgerError&) {
    return false;
  }
}

int Ledger::schema_version() const {
  State::ReaderLease db(*state_);
  return static_cast<int>(query_integer(db.get(), "PRAGMA user_version", state_->where));
}

LedgerStats Ledger::stats() const {
  return LedgerStats{state_->commits.load(), state_->requests.load()};
}

}  // namespace hsmca::signer
