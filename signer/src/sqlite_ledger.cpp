// The Ledger in an SQLite file: the domain operations. The file and its
// schema are ledger_schema.cpp, the group-commit writer ledger_writer.cpp and
// the RAII over SQLite's C API sqlite.cpp.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hsmca/signer/ledger.hpp"
#include "hsmca/signer/openssl.hpp"
#include "ledger_schema.hpp"
#include "ledger_writer.hpp"
#include "sqlite.hpp"
#include "sqlite_acme_store.hpp"

namespace hsmca::signer {
namespace {

namespace fs = std::filesystem;
using sqlite::fail;
using sqlite::prepare;
using sqlite::Query;
using sqlite::StatementPtr;

std::int64_t now_unix() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void check_lower_hex(const std::string& value, const char* name) {
  if (!is_lower_hex(value)) {
    throw std::invalid_argument(std::string("ledger: ") + name + " must be lowercase hex, got \"" + value + "\"");
  }
}

void check_record(const IssuanceRecord& record) {
  check_lower_hex(record.issuer_id, "issuer_id");
  check_lower_hex(record.serial, "serial");
  if (record.tbs_sha256.size() != 64 || !is_lower_hex(record.tbs_sha256)) {
    throw std::invalid_argument("ledger: tbs_sha256 must be 64 lowercase hex digits, got \"" + record.tbs_sha256 +
                                "\"");
  }
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

CertificateStatus parse_status(const std::string& name) {
  for (auto s : {CertificateStatus::pending, CertificateStatus::issued, CertificateStatus::failed,
                 CertificateStatus::revoked}) {
    if (status_name(s) == name) return s;
  }
  throw LedgerError("ledger: unknown certificate status \"" + name + "\"");
}

// The column holds reason_name's spelling; only this code writes it.
RevocationReason parse_stored_reason(const std::string& name) {
  if (const auto reason = parse_revocation_reason(name)) return *reason;
  throw LedgerError("ledger: unknown revocation reason \"" + name + "\"");
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
  if (const std::string reason = q.text(16); !reason.empty()) e.revocation_reason = parse_stored_reason(reason);
  return e;
}

// The statements the writes run, prepared once on the writer's connection
// before the writer thread starts; used only inside LedgerWriter::submit.
struct WriteStatements {
  WriteStatements(sqlite3* db, const std::string& where) {
    const unsigned persistent = SQLITE_PREPARE_PERSISTENT;
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
  StatementPtr insert_pending, mark_issued, mark_failed, status_of, touch_probe;
  StatementPtr mark_revoked, revocation_of, bump_crl_number;
};

class SqliteLedger final : public Ledger {
 public:
  SqliteLedger(const fs::path& path, std::string where, sqlite::DatabasePtr write_db)
      : users_(open_users_lock(path, where)),
        where_(std::move(where)),
        statements_(write_db.get(), where_),
        writer_(std::move(write_db), where_),
        readers_(path, where_),
        acme_(make_sqlite_acme_store(writer_, readers_, where_)) {}

  std::int64_t record_pending(const IssuanceRecord& record) override;
  void record_issued(std::int64_t id, std::span<const unsigned char> der) override;
  void record_failed(std::int64_t id, const std::string& reason) override;
  bool record_renewal_issued(std::int64_t id, std::span<const unsigned char> der, const std::string& issuer_id,
                             const std::string& renewed_serial, std::int64_t revoked_at) override;
  std::int64_t fail_interrupted(std::int64_t started) override;
  RevokeOutcome revoke(const std::string& issuer_id, const std::string& serial, RevocationReason reason,
                       std::int64_t revoked_at) override;
  std::vector<LedgerEntry> revoked(const std::string& issuer_id) const override;
  RevocationVersion revocation_version(const std::string& issuer_id) const override;
  std::int64_t next_crl_number(const std::string& issuer_id) override;
  std::optional<LedgerEntry> find(const std::string& issuer_id, const std::string& serial) const override;
  std::vector<LedgerEntry> list(const std::string& issuer_id) const override;
  bool probe() override;
  LedgerStats stats() const override { return writer_.stats(); }
  AcmeStore& acme() override { return *acme_; }

 private:
  // Runs on the writer: explains why an UPDATE ... WHERE status = 'pending' changed nothing.
  [[noreturn]] void refuse_transition(sqlite3* db, std::int64_t id, const char* operation);
  // Every entry `sql` (a SELECT of kEntryColumns with `params` bound) returns.
  std::vector<LedgerEntry> read_entries(const std::string& sql, std::initializer_list<std::string_view> params,
                                        const char* operation) const;

  // PATH.users, held shared by every process that has the ledger open (flock
  // LOCK_SH): an exclusive hold means nobody else is in the middle of an issuance.
  struct UsersLock {
    int fd = -1;
    ~UsersLock() {
      if (fd >= 0) ::close(fd);  // releases the lock
    }
  };
  static UsersLock open_users_lock(const fs::path& path, const std::string& where);
  UsersLock users_;
  std::string where_;  // "ledger PATH", the start of every error message
  // Declared before the writer, which uses them: they are finalized only
  // after its thread has stopped.
  WriteStatements statements_;
  LedgerWriter writer_;
  mutable sqlite::ReaderPool readers_;
  std::unique_ptr<AcmeStore> acme_;  // uses the writer and the readers: declared after them
};

void SqliteLedger::refuse_transition(sqlite3* db, std::int64_t id, const char* operation) {
  Query q(db, statements_.status_of.get());
  q.bind(id);
  if (!q.step(where_, operation)) throw LedgerError(where_ + ": " + operation + ": no entry " + std::to_string(id));
  throw LedgerError(where_ + ": " + operation + ": entry " + std::to_string(id) + " is " + q.text(0) +
                    ", not pending");
}

std::vector<LedgerEntry> SqliteLedger::read_entries(const std::string& sql,
                                                    std::initializer_list<std::string_view> params,
                                                    const char* operation) const {
  sqlite::ReaderPool::Lease db(readers_);
  StatementPtr stmt = prepare(db.get(), where_, sql);
  Query q(db.get(), stmt.get());
  for (const auto param : params) q.bind(param);
  std::vector<LedgerEntry> entries;
  while (q.step(where_, operation)) entries.push_back(read_entry(q));
  return entries;
}

std::int64_t SqliteLedger::record_pending(const IssuanceRecord& record) {
  check_record(record);
  const std::string sans = join_sans(record.sans);
  return writer_.submit([&](sqlite3* db) {
    Query q(db, statements_.insert_pending.get());
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
      throw DuplicateSerial(where_ + ": record_pending: serial " + record.serial + " is already recorded for issuer " +
                            record.issuer_id + " (" + sqlite3_errmsg(db) + ")");
    }
    if (rc != SQLITE_DONE) fail(db, where_ + ": record_pending");
    return sqlite3_last_insert_rowid(db);
  });
}

void SqliteLedger::record_issued(std::int64_t id, std::span<const unsigned char> der) {
  if (der.empty()) throw std::invalid_argument("record_issued: the certificate DER is empty");
  writer_.submit([&](sqlite3* db) -> std::int64_t {
    {
      Query q(db, statements_.mark_issued.get());
      q.bind_blob(der).bind(now_unix()).bind(id);
      q.step(where_, "record_issued");
    }
    if (sqlite3_changes(db) == 0) refuse_transition(db, id, "record_issued");
    return id;
  });
}

bool SqliteLedger::record_renewal_issued(std::int64_t id, std::span<const unsigned char> der,
                                         const std::string& issuer_id, const std::string& renewed_serial,
                                         std::int64_t revoked_at) {
  if (der.empty()) throw std::invalid_argument("record_renewal_issued: empty certificate");
  check_lower_hex(issuer_id, "issuer_id");
  check_lower_hex(renewed_serial, "renewed_serial");
  // One job, one savepoint: both rows change or neither does.
  return writer_.submit([&](sqlite3* db) -> std::int64_t {
           {
             Query q(db, statements_.mark_revoked.get());
             q.bind(revoked_at).bind(reason_name(RevocationReason::superseded)).bind(issuer_id).bind(renewed_serial);
             q.step(where_, "record_renewal_issued");
           }
           if (sqlite3_changes(db) == 0) return 0;
           {
             Query q(db, statements_.mark_issued.get());
             q.bind_blob(der).bind(now_unix()).bind(id);
             q.step(where_, "record_renewal_issued");
           }
           if (sqlite3_changes(db) == 0) refuse_transition(db, id, "record_renewal_issued");
           return 1;
         }) == 1;
}

void SqliteLedger::record_failed(std::int64_t id, const std::string& reason) {
  // Called while handling a failure: an empty reason is recorded, not refused.
  const std::string stored = reason.empty() ? "(no reason given)" : reason;
  writer_.submit([&](sqlite3* db) -> std::int64_t {
    {
      Query q(db, statements_.mark_failed.get());
      q.bind(stored).bind(id);
      q.step(where_, "record_failed");
    }
    if (sqlite3_changes(db) == 0) refuse_transition(db, id, "record_failed");
    return id;
  });
}

SqliteLedger::UsersLock SqliteLedger::open_users_lock(const fs::path& path, const std::string& where) {
  const std::string file = path.string() + ".users";
  UsersLock lock;
  lock.fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock.fd < 0 || ::flock(lock.fd, LOCK_SH) != 0) {
    throw LedgerError(where + ": cannot open or lock " + file + ": " + std::strerror(errno));
  }
  return lock;
}

std::int64_t SqliteLedger::fail_interrupted(std::int64_t started) {
  // Only while no other process has the ledger open: a pending entry of a
  // process that still runs (an appliance beside `hsmca sign`) is in flight,
  // not interrupted. Otherwise the next start with the ledger to itself does it.
  if (::flock(users_.fd, LOCK_EX | LOCK_NB) != 0) {
    ::flock(users_.fd, LOCK_SH);  // a failed conversion may have dropped the shared hold
    return 0;
  }
  struct Shared {
    int fd;
    ~Shared() { ::flock(fd, LOCK_SH); }
  } back_to_shared{users_.fd};
  return writer_.submit([&](sqlite3* db) -> std::int64_t {
    // Once per process start: not worth a persistent statement.
    const auto stmt = prepare(db, where_,
                              "UPDATE certificates SET status = 'failed', failure = ? "
                              "WHERE status = 'pending' AND created_at <= ?");
    {
      Query q(db, stmt.get());
      q.bind(kInterrupted).bind(started);
      q.step(where_, "fail_interrupted");
    }
    return sqlite3_changes(db);
  });
}

RevokeOutcome SqliteLedger::revoke(const std::string& issuer_id, const std::string& serial, RevocationReason reason,
                                   std::int64_t revoked_at) {
  check_lower_hex(issuer_id, "issuer_id");
  check_lower_hex(serial, "serial");
  // Written on the writer thread while this one waits in submit; read only
  // once the transaction has committed.
  RevokeOutcome outcome;
  writer_.submit([&](sqlite3* db) -> std::int64_t {
    {
      Query q(db, statements_.mark_revoked.get());
      q.bind(revoked_at).bind(reason_name(reason)).bind(issuer_id).bind(serial);
      q.step(where_, "revoke");
    }
    if (sqlite3_changes(db) == 1) {
      outcome = {RevokeOutcome::Result::revoked, revoked_at, reason, CertificateStatus::revoked};
      return 0;
    }
    Query q(db, statements_.revocation_of.get());
    q.bind(issuer_id).bind(serial);
    if (!q.step(where_, "revoke")) {
      outcome = {RevokeOutcome::Result::not_found, 0, {}, CertificateStatus::pending};
      return 0;
    }
    const CertificateStatus status = parse_status(q.text(0));
    if (status == CertificateStatus::revoked) {
      outcome = {RevokeOutcome::Result::already_revoked, q.integer(1), parse_stored_reason(q.text(2)), status};
    } else {
      outcome = {RevokeOutcome::Result::not_issued, 0, {}, status};
    }
    return 0;
  });
  return outcome;
}

std::vector<LedgerEntry> SqliteLedger::revoked(const std::string& issuer_id) const {
  return read_entries(std::string("SELECT ") + kEntryColumns +
                          " FROM certificates WHERE issuer_id = ? AND status = 'revoked' ORDER BY id",
                      {issuer_id}, "revoked");
}

RevocationVersion SqliteLedger::revocation_version(const std::string& issuer_id) const {
  sqlite::ReaderPool::Lease db(readers_);
  StatementPtr stmt = prepare(db.get(), where_,
                              "SELECT count(*), coalesce(max(revoked_at), 0) FROM certificates "
                              "WHERE issuer_id = ? AND status = 'revoked'");
  Query q(db.get(), stmt.get());
  q.bind(issuer_id);
  if (!q.step(where_, "revocation_version")) return {};
  return {q.integer(0), q.integer(1)};
}

std::int64_t SqliteLedger::next_crl_number(const std::string& issuer_id) {
  check_lower_hex(issuer_id, "issuer_id");
  return writer_.submit([&](sqlite3* db) -> std::int64_t {
    Query q(db, statements_.bump_crl_number.get());
    q.bind(issuer_id);
    if (!q.step(where_, "next_crl_number")) throw LedgerError(where_ + ": next_crl_number: no number returned");
    const std::int64_t number = q.integer(0);
    // RETURNING hands the row out before the statement finishes; step to the end.
    while (q.step(where_, "next_crl_number")) {
    }
    return number;
  });
}

std::optional<LedgerEntry> SqliteLedger::find(const std::string& issuer_id, const std::string& serial) const {
  auto entries = read_entries(std::string("SELECT ") + kEntryColumns +
                                  " FROM certificates WHERE issuer_id = ? AND serial = ?",
                              {issuer_id, serial}, "find");
  // UNIQUE (issuer_id, serial): one row at most.
  if (entries.empty()) return std::nullopt;
  return std::move(entries.front());
}

std::vector<LedgerEntry> SqliteLedger::list(const std::string& issuer_id) const {
  const std::string columns = std::string("SELECT ") + kEntryColumns + " FROM certificates";
  if (issuer_id.empty()) return read_entries(columns + " ORDER BY id", {}, "list");
  return read_entries(columns + " WHERE issuer_id = ? ORDER BY id", {issuer_id}, "list");
}

bool SqliteLedger::probe() {
  try {
    writer_.submit([&](sqlite3* db) -> std::int64_t {
      {
        Query q(db, statements_.touch_probe.get());
        q.bind(now_unix());
        q.step(where_, "probe");
      }
      if (sqlite3_changes(db) != 1) throw LedgerError(where_ + ": probe: the probe row is missing");
      return 0;
    });
    return true;
  } catch (const LedgerError&) {
    return false;
  }
}

}  // namespace

std::unique_ptr<Ledger> open_sqlite_ledger(const fs::path& path) {
  std::string where = "ledger " + path.string();
  sqlite::DatabasePtr write_db = ledger_schema::open_writer_connection(path, where);
  return std::make_unique<SqliteLedger>(path, std::move(where), std::move(write_db));
}

}  // namespace hsmca::signer
