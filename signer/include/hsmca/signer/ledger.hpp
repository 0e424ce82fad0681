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

#include "hsmca/signer/acme_store.hpp"
#include "hsmca/signer/revocation_reason.hpp"

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

// The failure recorded for an entry a crash left pending (Ledger::fail_interrupted).
inline constexpr std::string_view kInterrupted = "interrupted";

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
  std::optional<RevocationReason> revocation_reason{};  // set when revoked
};

// The ledger could not be opened, read or written. The message names the
// operation and carries the database's own explanation (sqlite3_errmsg).
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
  RevocationReason reason = RevocationReason::unspecified;  // revoked, already_revoked: the reason recorded
  CertificateStatus status = CertificateStatus::pending;    // not_issued: which
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

// The record of every certificate the CA has signed or tried to sign, shared
// by every process of the CA (the CLI, the appliance) that has it open.
//
// Protocol: record_pending before the token signs, then record_issued with the
// certificate or record_failed with the reason. Every write returns only once
// it is durable, so a crash may leave a pending row but never an issued
// certificate the ledger lacks.
//
// All members may be called from any thread. Implementations: the SQLite file
// of open_sqlite_ledger below; another store is another implementation in a
// file of its own.
class Ledger {
 public:
  virtual ~Ledger() = default;
  // An implementation holds connections and threads that stay where they are.
  Ledger(const Ledger&) = delete;
  Ledger& operator=(const Ledger&) = delete;

  // Durable on return; the id names the entry for the calls below.
  // std::invalid_argument for malformed hex ids or SANs, DuplicateSerial when
  // the issuer already has the serial (nothing is recorded then).
  virtual std::int64_t record_pending(const IssuanceRecord& record) = 0;
  // pending -> issued, storing the certificate (std::invalid_argument when
  // empty). LedgerError when the entry does not exist or is not pending.
  virtual void record_issued(std::int64_t id, std::span<const unsigned char> der) = 0;
  // record_issued, and in the same transaction the certificate it renews
  // (`renewed_serial` of `issuer_id`) issued -> revoked, reason superseded,
  // at `revoked_at`: a certificate is renewed once, and the old one stops
  // counting when the new one exists. false, changing nothing, when that
  // certificate is no longer issued (renewed or revoked meanwhile).
  virtual bool record_renewal_issued(std::int64_t id, std::span<const unsigned char> der, const std::string& issuer_id,
                                     const std::string& renewed_serial, std::int64_t revoked_at) = 0;
  // pending -> failed. LedgerError when the entry does not exist or is not pending.
  virtual void record_failed(std::int64_t id, const std::string& reason) = 0;
  // Every pending entry created at or before `started` (unix seconds, the
  // calling process's start) -> failed, reason kInterrupted: what a crash
  // between pending and issued left behind, including in the very second of
  // a quick restart. Safe at a process's start, before it records anything:
  // a certificate is handed out only after its entry says issued, so a
  // pending entry's certificate never reached anyone. Only while no other
  // process has the ledger open (their pending entries are in flight): 0
  // then, and the next start that has the ledger to itself does it. Returns
  // how many; durable on return.
  virtual std::int64_t fail_interrupted(std::int64_t started) = 0;

  // issued -> revoked for `reason` at `revoked_at` (unix seconds); the reason
  // is stored by its RFC 5280 name (reason_name). std::invalid_argument for
  // an issuer id or serial that is not lowercase hex. Durable on return, like
  // every write.
  virtual RevokeOutcome revoke(const std::string& issuer_id, const std::string& serial, RevocationReason reason,
                               std::int64_t revoked_at) = 0;
  // The issuer's revoked certificates, oldest entry first: what its CRL lists.
  virtual std::vector<LedgerEntry> revoked(const std::string& issuer_id) const = 0;
  // Cheap (one indexed SELECT): what a CRL cache compares to tell whether any
  // process revoked something since it signed.
  virtual RevocationVersion revocation_version(const std::string& issuer_id) const = 0;
  // The issuer's next CRL number (RFC 5280 5.2.3): 1 first, then one more on
  // every call, durable on return, shared by every process on the ledger. A
  // number taken for a CRL that was then not signed is simply skipped.
  virtual std::int64_t next_crl_number(const std::string& issuer_id) = 0;

  virtual std::optional<LedgerEntry> find(const std::string& issuer_id, const std::string& serial) const = 0;
  // Oldest first; every issuer's entries when `issuer_id` is empty.
  virtual std::vector<LedgerEntry> list(const std::string& issuer_id) const = 0;

  // Whether a durable write goes through right now (for health checks);
  // changes nothing the ledger reports.
  virtual bool probe() = 0;
  virtual LedgerStats stats() const = 0;

  // ACME's accounts, orders, authorizations and EAB keys, in the same store
  // and durable the same way.
  virtual AcmeStore& acme() = 0;

 protected:
  Ledger() = default;
};

// The ledger in the SQLite file at `path`, which other processes may have
// open at the same time. Creates the file (not its directory, mode 0600) when
// it is absent and brings its schema up to date. LedgerError when the
// directory does not exist, the file is not an hsmca ledger, or its schema is
// newer than this code.
//
// Writes from all threads go through one writer thread that commits
// everything queued in one transaction (group commit): one fsync is shared by
// every issuance waiting for it. Reads use their own connections and do not
// wait for the writer. The returned ledger lets the writer finish everything
// queued before it closes the file.
std::unique_ptr<Ledger> open_sqlite_ledger(const std::filesystem::path& path);

}  // namespace hsmca::signer
