#include "ledger_schema.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <iterator>
#include <thread>

#include "hsmca/signer/ledger.hpp"

namespace hsmca::signer::ledger_schema {
namespace {

namespace fs = std::filesystem;
using sqlite::exec;
using sqlite::fail;
using sqlite::prepare;
using sqlite::Query;
using sqlite::StatementPtr;

// PRAGMA application_id: "HSCA". Keeps the ledger from adopting, and writing
// into, some other program's SQLite file given by mistake.
constexpr int kApplicationId = 0x48534341;

// The schema, one step per version, applied in order inside one transaction.
// Append, never edit: a released step is what existing files have already run.
// Revocation needs no new columns (revoked_at and revocation_reason are in
// version 1, NULL until then); version 2 adds each issuer's last CRL number,
// version 3 ACME's state, version 4 the certificate an ACME order replaces.
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
    {3, R"sql(
-- ACME (RFC 8555 7.1): External Account Binding keys, accounts, orders,
-- authorizations and challenges. Ids are 32 lowercase hex digits.
CREATE TABLE acme_eab_keys (
  kid        TEXT PRIMARY KEY,
  label      TEXT NOT NULL,
  hmac_key   BLOB NOT NULL CHECK (length(hmac_key) >= 32),
  created_at INTEGER NOT NULL,
  revoked_at INTEGER
) STRICT;

CREATE TABLE acme_accounts (
  id         TEXT PRIMARY KEY,
  thumbprint TEXT NOT NULL UNIQUE,
  jwk        TEXT NOT NULL,
  status     TEXT NOT NULL CHECK (status IN ('valid', 'deactivated')),
  contact    TEXT NOT NULL,  -- one URL per line
  eab_kid    TEXT UNIQUE REFERENCES acme_eab_keys (kid),  -- one account per key
  created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE acme_orders (
  id                 TEXT PRIMARY KEY,
  account_id         TEXT NOT NULL REFERENCES acme_accounts (id),
  status             TEXT NOT NULL CHECK (status IN ('pending', 'ready', 'processing', 'valid', 'invalid')),
  identifiers        TEXT NOT NULL,  -- one per line: 'dns:a.example' || char(10) || 'ip:10.0.0.1'
  profile            TEXT NOT NULL,
  expires            INTEGER NOT NULL,
  not_before         INTEGER,
  not_after          INTEGER,
  error              TEXT,           -- problem document (JSON) when invalid
  certificate_serial TEXT CHECK (certificate_serial IS NULL OR certificate_serial NOT GLOB '*[^0-9a-f]*'),
  created_at         INTEGER NOT NULL,
  CHECK ((status = 'valid') = (certificate_serial IS NOT NULL))
) STRICT;
CREATE INDEX acme_orders_account ON acme_orders (account_id, created_at);
CREATE INDEX acme_orders_certificate ON acme_orders (certificate_serial) WHERE certificate_serial IS NOT NULL;

CREATE TABLE acme_authorizations (
  id         TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES acme_accounts (id),
  type       TEXT NOT NULL CHECK (type IN ('dns', 'ip')),
  value      TEXT NOT NULL,
  wildcard   INTEGER NOT NULL CHECK (wildcard IN (0, 1)),
  status     TEXT NOT NULL CHECK (status IN ('pending', 'valid', 'invalid', 'deactivated', 'expired')),
  expires    INTEGER NOT NULL
) STRICT;
CREATE INDEX acme_authorizations_reuse ON acme_authorizations (account_id, type, value, wildcard) WHERE status = 'valid';

-- An authorization may serve several orders of its account (reuse, RFC 8555 7.1.4).
CREATE TABLE acme_order_authorizations (
  order_id TEXT NOT NULL REFERENCES acme_orders (id) ON DELETE CASCADE,
  authz_id TEXT NOT NULL REFERENCES acme_authorizations (id),
  position INTEGER NOT NULL,
  PRIMARY KEY (order_id, authz_id)
) STRICT;
CREATE INDEX acme_order_authorizations_authz ON acme_order_authorizations (authz_id);

CREATE TABLE acme_challenges (
  id        TEXT PRIMARY KEY,
  authz_id  TEXT NOT NULL REFERENCES acme_authorizations (id) ON DELETE CASCADE,
  type      TEXT NOT NULL CHECK (type IN ('http-01', 'dns-01', 'tls-alpn-01')),
  token     TEXT NOT NULL,
  status    TEXT NOT NULL CHECK (status IN ('pending', 'processing', 'valid', 'invalid')),
  validated INTEGER,  -- when the validation finished, valid or not
  error     TEXT
) STRICT;
CREATE INDEX acme_challenges_authz ON acme_challenges (authz_id);
)sql"},
    {4, R"sql(
-- ACME Renewal Information (RFC 9773 5): the certificate an order replaces,
-- as its certID (base64url AKI "." base64url serial). A certificate counts as
-- replaced once an order naming it is valid.
ALTER TABLE acme_orders ADD COLUMN replaces TEXT;
CREATE INDEX acme_orders_replaces ON acme_orders (replaces) WHERE replaces IS NOT NULL;
)sql"},
};
static_assert(std::size(kMigrations) == kSchemaVersion,
              "one migration per schema version, the last one producing kSchemaVersion");

// The record of what was issued is no other user's to read or change. SQLite
// creates a new database 0644 (less the umask) and gives its -wal, -shm and
// -journal files the database file's mode, so a new ledger starts as an empty
// file made 0600 here; an existing file keeps the mode its operator gave it.
void create_private_file(const fs::path& path) {
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  // EEXIST: the ledger is there already. Any other error SQLite reports below, naming the file.
  if (fd >= 0) close(fd);
}

// SQLite would only say "unable to open database file".
void check_directory(const fs::path& path) {
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  std::error_code ec;
  const auto dir_status = fs::status(dir, ec);
  if (fs::is_directory(dir_status)) return;
  std::string why = "is not a directory";
  if (dir_status.type() == fs::file_type::not_found) {
    why = "does not exist (the ledger creates its file, not its directory)";
  } else if (ec) {
    why = "cannot be examined: " + ec.message();
  }
  throw LedgerError("opening ledger " + path.string() + ": directory " + dir.string() + " " + why);
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
    throw LedgerError(where + " is not an hsmca ledger (application_id " + std::to_string(application_id) + ")");
  }
  if (version == 0 && objects != 0) {
    throw LedgerError(where + " is not an hsmca ledger: it has tables but no ledger schema");
  }
  if (version > kSchemaVersion) {
    throw LedgerError(where + " has schema version " + std::to_string(version) + ", newer than the " +
                      std::to_string(kSchemaVersion) + " this program knows; use a newer hsmca");
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
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(sqlite::kBusyTimeoutMs);
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
    if (version < kSchemaVersion) {
      // PRAGMAs take no parameters; both values are our own integers.
      const std::string set = "PRAGMA user_version = " + std::to_string(kSchemaVersion) +
                              "; PRAGMA application_id = " + std::to_string(kApplicationId);
      exec(db, set.c_str(), "migrating " + where + ": recording the schema version");
    }
    exec(db, "COMMIT", "migrating " + where + ": COMMIT");
  } catch (...) {
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

}  // namespace

sqlite::DatabasePtr open_writer_connection(const fs::path& path, const std::string& where) {
  check_directory(path);
  create_private_file(path);
  sqlite::DatabasePtr owned = sqlite::open_connection(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  sqlite3* db = owned.get();
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
  if (sqlite::query_integer(db, "PRAGMA synchronous", where) != 2) {
    throw LedgerError(where + ": SQLite refused PRAGMA synchronous = FULL");
  }
  migrate(db, where);
  return owned;
}

}  // namespace hsmca::signer::ledger_schema
