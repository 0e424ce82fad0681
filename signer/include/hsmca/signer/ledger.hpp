#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace hsmca::signer {

// What the CA is about to sign, recorded before the token is asked to sign it.
struct IssuanceRecord {
  std::string issuer_id;  // lowercase hex of the issuer's subject key identifier
  std::string serial;     // lowercase hex, as IssuedCertificate::serial_hex
  std::string subject;    // RFC 2253
  std::vector<std::string> sans{};  // "DNS:a.example", "IP:10.0.0.1"; none empty or multi-line
  std::string tbs_sha256;           // lowercase hex SHA-256 of the TBSCertificate DER
  std::string profile;
  std::string requester;
  std::int64_t not_before = 0;  // unix seconds
  std::int64_t not_after = 0;
};

enum class CertificateStatus { pending, issued, failed, revoked };

// "pending", "issued", "failed", "revoked": the spelling stored in the ledger.
std::string_view status_name(CertificateStatus status);

struct LedgerEntry {
  std::int64_t id = 0;
  IssuanceRecord record;
  CertificateStatus status = CertificateStatus::pending;
  std::int64_t created_at = 0;  // unix seconds
  std::optional<std::int64_t> issued_at{};
  std::vector<unsigned char> der{};  // the certificate; empty unless issued or revoked
  std::string failure{};             // why signing failed; empty unless failed
  std::optional<std::int64_t> revoked_at{};
  std::string revocation_reason{};
};

// The ledger could not be opened, read or written. The message names the
// operation and carries SQLite's own explanation (sqlite3_errmsg).
class LedgerError : public std::runtime_error {
 public:
  explicit LedgerError(const std::string& what);
};

// The issuer already has a certificate (of any status) with this serial.
class DuplicateSerial : public LedgerError {
 public:
  using LedgerError::LedgerError;
};

// What Ledger::revoke came to. Revoking is idempotent: a second revocation
// changes nothing and reports the first one's time and reason.
struct RevokeOutcome {
  enum class Result {
    revoked,          // issued -> revoked now
    already_revoked,  // nothing changed
    not_found,        // no certificate with this serial under this issuer
    not_issued,       // pending or failed: there is no certificate to revoke
  };
  Result result = Result::not_found;
  std::int64_t revoked_at = 0;  // revoked, already_revoked: when (unix seconds)
  std::string reason{};         // revoked, already_revoked: the reason recorded
  CertificateStatus status = CertificateStatus::pending;  // not_issued: which
};

// A cheap fingerprint of an issuer's revocations: revoking only ever adds a
// row (issued -> revoked, never back), so a CRL made when the fingerprint was
// this one lists every revocation as long as it stays this one.
struct RevocationVersion {
  std::int64_t revoked = 0;            // how many of the issuer's certificates are revoked
  std::int64_t latest_revoked_at = 0;  // the newest revocation time (unix seconds), 0 when none
  bool operator==(const RevocationVersion&) const = default;
};

struct LedgerStats {
  std::uint64_t commits = 0;   // durable transactions the writer committed
  std::uint64_t requests = 0;  // write requests it ran, whether they succeeded or not
};

// The record of every certificate the CA has signed or tried to sign, in an
// SQLite database that other processes (the CLI, the appliance) may have open
// at the same time.
//
// Protocol: record_pending before the token signs, then record_issued with the
// certificate or record_failed with the reason. Every write returns only once
// it is durable, so a crash may leave a pending row but never an issued
// certificate the ledger lacks. Writes from all threads go through one writer
// thread that commits everything queued in one transaction (group commit):
// one fsync is shared by every issuance waiting for it. Reads use their own
// connections and do not wait for the writer.
//
// All members may be called from any thread.
class Ledger {
 public:
  static constexpr int kSchemaVersion = 2;  // the newest schema this code knows

  // Opens the database at `path`, creating the file (not its directory) when it
  // is absent, and brings its schema up to kSchemaVersion. LedgerError when the
  // directory does not exist, the file is not an hsmca ledger, or its schema is
  // newer than this code.
  static std::unique_ptr<Ledger> open(const std::filesystem::path& path);

  // Lets the writer finish everything queued, then closes the database. Never throws.
  ~Ledger();
  // The writer thread holds the state; it must stay where it is and be stopped once.
  Ledger(const Ledger&) = delete;
  Ledger& operator=(const Ledger&) = delete;

  // Durable on return; the id names the entry for the calls below.
  // std::invalid_argument for malformed hex ids or SANs, DuplicateSerial when
  // the issuer already has the serial (nothing is recorded then).
  std::int64_t record_pending(const IssuanceRecord& record);
  // pending -> issued, storing the certificate (std::invalid_argument when
  // empty). LedgerError when the entry does not exist or is not pending.
  void record_issued(std::int64_t id, std::span<const unsigned char> der);
  // pending -> failed. LedgerError when the entry does not exist or is not pending.
  void record_failed(std::int64_t id, const std::string& reason);

  // issued -> revoked, with RFC 5280 reason `reason` by name ("keyCompromise",
  // see revocation.hpp; std::invalid_argument for any other) at `revoked_at`
  // (unix seconds). Durable on return, like every write.
  RevokeOutcome revoke(const std::string& issuer_id, const std::string& serial, const std::string& reason,
                       std::int64_t revoked_at);
  // The issuer's revoked certificates, oldest entry first: what its CRL lists.
  std::vector<LedgerEntry> revoked(const std::string& issuer_id) const;
  // One indexed SELECT: what a CRL cache compares to tell whether any process
  // revoked something since it signed.
  RevocationVersion revocation_version(const std::string& issuer_id) const;
  // The issuer's next CRL number (RFC 5280 5.2.3): 1 first, then one more on
  // every call, durable on return, shared by every process on the file. A
  // number taken for a CRL that was then not signed is simply skipped.
  std::int64_t next_crl_number(const std::string& issuer_id);

  std::optional<LedgerEntry> find(const std::string& issuer_id, const std::string& serial) const;
  // Oldest first; every issuer's entries when `issuer_id` is empty.
  std::vector<LedgerEntry> list(const std::string& issuer_id) const;

  // Whether a durable write goes through the writer right now (for health
  // checks); changes nothing the ledger reports.
  bool probe();
  // The schema version the database file carries.
  int schema_version() const;
  LedgerStats stats() const;

 private:
  struct State;
  explicit Ledger(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace hsmca::signer
