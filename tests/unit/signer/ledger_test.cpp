#include "hsmca/signer/ledger.hpp"
#include "hsmca/signer/clock.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "hsmca/signer/revocation_reason.hpp"
#include "ledger_schema.hpp"
#include "softhsm_env.hpp"

namespace hsmca::signer {
namespace {

using test::TempDir;

constexpr const char* kIssuerA = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678";
constexpr const char* kIssuerB = "0badc0ffee0badc0ffee0badc0ffee0badc0ffee";
const std::string kTbsHash(64, 'e');

IssuanceRecord record_for(const std::string& issuer, const std::string& serial) {
  return IssuanceRecord{
      .issuer_id = issuer,
      .serial = serial,
      .subject = "CN=www.example.com,O=Example,C=DE",
      .sans = {"DNS:www.example.com", "DNS:example.com", "IP:10.0.0.1"},
      .tbs_sha256 = kTbsHash,
      .profile = "tls-server",
      .requester = "alice",
      .not_before = 1735689600,  // 2025-01-01T00:00:00Z
      .not_after = 1767225600,   // 2026-01-01T00:00:00Z
  };
}

// Not a certificate; the ledger stores the bytes it is given.
std::vector<unsigned char> fake_der(const std::string& tag) {
  const std::string bytes = std::string("\x30\x82\x01\x00", 4) + tag;
  return std::vector<unsigned char>(bytes.begin(), bytes.end());
}

std::string serial_hex(unsigned n) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04x", n);
  return buf;
}

// A connection of our own, as another process (the CLI, the appliance) would have.
struct RawConnection {
  explicit RawConnection(const std::filesystem::path& path) {
    if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) throw std::runtime_error(sqlite3_errmsg(db));
    sqlite3_busy_timeout(db, 5000);
  }
  ~RawConnection() { sqlite3_close(db); }
  // The destructor closes the handle; a copy would close it twice.
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  void exec(const std::string& sql) {
    char* err = nullptr;
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      std::string message = err != nullptr ? err : "?";
      sqlite3_free(err);
      throw std::runtime_error(sql + ": " + message);
    }
  }
  std::string text(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      throw std::runtime_error(sql + ": " + sqlite3_errmsg(db));
    }
    std::string out;
    if (sqlite3_step(stmt) == SQLITE_ROW) {
      out = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    sqlite3_finalize(stmt);
    return out;
  }

  sqlite3* db = nullptr;
};

// PRAGMA user_version: the schema version the file carries.
int schema_version_of(const std::filesystem::path& path) {
  RawConnection raw(path);
  return std::stoi(raw.text("PRAGMA user_version"));
}

class LedgerTest : public ::testing::Test {
 protected:
  std::filesystem::path db_path() const { return dir_ / "ledger.db"; }
  TempDir dir_;
};

TEST(LedgerStatusTest, NamesEveryStatusAsTheLedgerStoresIt) {
  EXPECT_EQ(status_name(CertificateStatus::pending), "pending");
  EXPECT_EQ(status_name(CertificateStatus::issued), "issued");
  EXPECT_EQ(status_name(CertificateStatus::failed), "failed");
  EXPECT_EQ(status_name(CertificateStatus::revoked), "revoked");
}

TEST_F(LedgerTest, RecordsAPendingIssuanceAndThenItsCertificateWithEveryField) {
  auto ledger = open_sqlite_ledger(db_path());
  const IssuanceRecord record = record_for(kIssuerA, "7f01");
  const auto before = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const std::int64_t id = ledger->record_pending(record);

  auto pending = ledger->find(kIssuerA, "7f01");
  ASSERT_TRUE(pending);
  EXPECT_EQ(pending->id, id);
  EXPECT_EQ(pending->status, CertificateStatus::pending);
  EXPECT_TRUE(pending->der.empty());
  EXPECT_FALSE(pending->issued_at);
  EXPECT_GE(pending->created_at, before);

  const auto der = fake_der("certificate 7f01");
  ledger->record_issued(id, der);

  auto issued = ledger->find(kIssuerA, "7f01");
  ASSERT_TRUE(issued);
  EXPECT_EQ(issued->id, id);
  EXPECT_EQ(issued->record.issuer_id, record.issuer_id);
  EXPECT_EQ(issued->record.serial, record.serial);
  EXPECT_EQ(issued->record.subject, record.subject);
  EXPECT_EQ(issued->record.sans, record.sans);
  EXPECT_EQ(issued->record.tbs_sha256, record.tbs_sha256);
  EXPECT_EQ(issued->record.profile, record.profile);
  EXPECT_EQ(issued->record.requester, record.requester);
  EXPECT_EQ(issued->record.not_before, record.not_before);
  EXPECT_EQ(issued->record.not_after, record.not_after);
  EXPECT_EQ(issued->status, CertificateStatus::issued);
  EXPECT_EQ(issued->created_at, pending->created_at);
  ASSERT_TRUE(issued->issued_at);
  EXPECT_GE(*issued->issued_at, issued->created_at);
  EXPECT_EQ(issued->der, der);
  EXPECT_TRUE(issued->failure.empty());
  EXPECT_FALSE(issued->revoked_at);
  EXPECT_FALSE(issued->revocation_reason);
}

TEST_F(LedgerTest, KeepsARecordWithoutSansAsHavingNone) {
  auto ledger = open_sqlite_ledger(db_path());
  IssuanceRecord record = record_for(kIssuerA, "01");
  record.sans.clear();
  ledger->record_pending(record);
  EXPECT_TRUE(ledger->find(kIssuerA, "01")->record.sans.empty());
}

TEST_F(LedgerTest, RefusesADuplicateSerialForTheSameIssuerAndRecordsNothing) {
  auto ledger = open_sqlite_ledger(db_path());
  const std::int64_t first = ledger->record_pending(record_for(kIssuerA, "0abc"));
  IssuanceRecord again = record_for(kIssuerA, "0abc");
  again.requester = "mallory";
  EXPECT_THROW(ledger->record_pending(again), DuplicateSerial);
  try {
    ledger->record_pending(again);
  } catch (const DuplicateSerial& e) {
    EXPECT_NE(std::string(e.what()).find("0abc"), std::string::npos) << e.what();
  }

  const auto all = ledger->list("");
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].id, first);
  EXPECT_EQ(all[0].record.requester, "alice");
  // The ledger still writes after the refusal.
  EXPECT_NO_THROW(ledger->record_issued(first, fake_der("0abc")));
}

TEST_F(LedgerTest, DuplicateSerialIsALedgerError) {
  auto ledger = open_sqlite_ledger(db_path());
  ledger->record_pending(record_for(kIssuerA, "01"));
  EXPECT_THROW(ledger->record_pending(record_for(kIssuerA, "01")), LedgerError);
}

TEST_F(LedgerTest, AcceptsTheSameSerialUnderAnotherIssuer) {
  auto ledger = open_sqlite_ledger(db_path());
  const auto a = ledger->record_pending(record_for(kIssuerA, "0abc"));
  const auto b = ledger->record_pending(record_for(kIssuerB, "0abc"));
  EXPECT_NE(a, b);
  EXPECT_EQ(ledger->find(kIssuerA, "0abc")->id, a);
  EXPECT_EQ(ledger->find(kIssuerB, "0abc")->id, b);
}

TEST_F(LedgerTest, RefusesToMarkAnEntryIssuedUnlessItIsPending) {
  auto ledger = open_sqlite_ledger(db_path());
  const auto issued = ledger->record_pending(record_for(kIssuerA, "01"));
  ledger->record_issued(issued, fake_der("first"));
  EXPECT_THROW(ledger->record_issued(issued, fake_der("second")), LedgerError);
  EXPECT_EQ(ledger->find(kIssuerA, "01")->der, fake_der("first"));

  const auto failed = ledger->record_pending(record_for(kIssuerA, "02"));
  ledger->record_failed(failed, "token unavailable");
  EXPECT_THROW(ledger->record_issued(failed, fake_der("late")), LedgerError);
  EXPECT_EQ(ledger->find(kIssuerA, "02")->status, CertificateStatus::failed);

  try {
    ledger->record_issued(4242, fake_der("nobody"));
    ADD_FAILURE() << "an unknown id was accepted";
  } catch (const LedgerError& e) {
    EXPECT_NE(std::string(e.what()).find("4242"), std::string::npos) << e.what();
  }
}

TEST_F(LedgerTest, RecordsAFailedSigningWithItsReasonAndNoCertificate) {
  auto ledger = open_sqlite_ledger(db_path());
  const auto id = ledger->record_pending(record_for(kIssuerA, "0f"));
  ledger->record_failed(id, "C_Sign: CKR_DEVICE_ERROR");

  const auto entry = ledger->find(kIssuerA, "0f");
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->status, CertificateStatus::failed);
  EXPECT_EQ(entry->failure, "C_Sign: CKR_DEVICE_ERROR");
  EXPECT_TRUE(entry->der.empty());
  EXPECT_FALSE(entry->issued_at);
  // A failed serial stays taken: it may have reached the token.
  EXPECT_THROW(ledger->record_pending(record_for(kIssuerA, "0f")), DuplicateSerial);
  EXPECT_THROW(ledger->record_failed(id, "again"), LedgerError);
}

TEST_F(LedgerTest, EntriesACrashLeftPendingBecomeFailedInterruptedAndNothingElseChanges) {
  auto ledger = open_sqlite_ledger(db_path());
  const auto left = ledger->record_pending(record_for(kIssuerA, "0a"));
  const auto done = ledger->record_pending(record_for(kIssuerA, "0b"));
  ledger->record_issued(done, std::vector<unsigned char>{0x30, 0x00});
  const auto refused = ledger->record_pending(record_for(kIssuerA, "0c"));
  ledger->record_failed(refused, "C_Sign: CKR_DEVICE_ERROR");
  const auto now = unix_seconds(std::chrono::system_clock::now());

  EXPECT_EQ(ledger->fail_interrupted(now - 60), 0) << "an entry younger than the cutoff may be in flight";
  // A restart in the very second of the crash: created_at == started counts.
  EXPECT_EQ(ledger->fail_interrupted(ledger->find(kIssuerA, "0a")->created_at), 1);
  const auto entry = ledger->find(kIssuerA, "0a");
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->status, CertificateStatus::failed);
  EXPECT_EQ(entry->failure, kInterrupted);
  EXPECT_EQ(ledger->find(kIssuerA, "0b")->status, CertificateStatus::issued);
  EXPECT_EQ(ledger->find(kIssuerA, "0c")->failure, "C_Sign: CKR_DEVICE_ERROR");
  // The process that wrote the pending entry, if it still ran, could not now call it issued.
  EXPECT_THROW(ledger->record_issued(left, std::vector<unsigned char>{0x30, 0x00}), LedgerError);
  EXPECT_EQ(ledger->fail_interrupted(now + 1), 0) << "once is enough";
}

TEST_F(LedgerTest, PendingEntriesAreLeftAloneWhileAnotherProcessHasTheLedgerOpen) {
  auto ledger = open_sqlite_ledger(db_path());
  ledger->record_pending(record_for(kIssuerA, "0a"));
  const auto later = unix_seconds(std::chrono::system_clock::now()) + 1;
  {
    // Another opener (an appliance beside `hsmca sign`): its pending entry may be in flight.
    auto other = open_sqlite_ledger(db_path());
    EXPECT_EQ(ledger->fail_interrupted(later), 0);
    EXPECT_EQ(other->fail_interrupted(later), 0);
    EXPECT_EQ(ledger->find(kIssuerA, "0a")->status, CertificateStatus::pending);
  }
  EXPECT_EQ(ledger->fail_interrupted(later), 1) << "alone with the ledger again";
}

TEST_F(LedgerTest, ARenewalRevokesTheRenewedCertificateAndOnlyOneRenewalOfItIsIssued) {
  auto ledger = open_sqlite_ledger(db_path());
  const std::vector<unsigned char> der{0x30, 0x00};
  ledger->record_issued(ledger->record_pending(record_for(kIssuerA, "01")), der);
  const auto first = ledger->record_pending(record_for(kIssuerA, "02"));
  const auto second = ledger->record_pending(record_for(kIssuerA, "03"));

  EXPECT_TRUE(ledger->record_renewal_issued(first, der, kIssuerA, "01", 1750000000));
  const auto old = ledger->find(kIssuerA, "01");
  EXPECT_EQ(old->status, CertificateStatus::revoked);
  EXPECT_EQ(old->revocation_reason, RevocationReason::superseded);
  EXPECT_EQ(old->revoked_at, 1750000000);
  EXPECT_EQ(ledger->find(kIssuerA, "02")->status, CertificateStatus::issued);

  // A second renewal of the same certificate (a stolen copy, a race): refused, nothing changes.
  EXPECT_FALSE(ledger->record_renewal_issued(second, der, kIssuerA, "01", 1750000100));
  EXPECT_EQ(ledger->find(kIssuerA, "03")->status, CertificateStatus::pending);
  EXPECT_EQ(ledger->find(kIssuerA, "01")->revoked_at, 1750000000);
  // Nor may a renewal revive or skip the check for a certificate of another issuer.
  EXPECT_FALSE(ledger->record_renewal_issued(second, der, kIssuerB, "02", 1750000100));
  EXPECT_EQ(ledger->find(kIssuerA, "03")->status, CertificateStatus::pending);
}

TEST_F(LedgerTest, ListsEntriesOldestFirstAndFiltersByIssuer) {
  auto ledger = open_sqlite_ledger(db_path());
  ledger->record_pending(record_for(kIssuerA, "03"));
  ledger->record_pending(record_for(kIssuerB, "01"));
  ledger->record_pending(record_for(kIssuerA, "01"));
  ledger->record_pending(record_for(kIssuerA, "02"));

  std::vector<std::string> a_serials;
  for (const auto& e : ledger->list(kIssuerA)) a_serials.push_back(e.record.serial);
  EXPECT_EQ(a_serials, (std::vector<std::string>{"03", "01", "02"}));

  const auto all = ledger->list("");
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[1].record.issuer_id, kIssuerB);
  for (std::size_t i = 1; i < all.size(); ++i) EXPECT_LT(all[i - 1].id, all[i].id);

  EXPECT_TRUE(ledger->list("ffff").empty());
  EXPECT_FALSE(ledger->find(kIssuerB, "02"));
}

TEST_F(LedgerTest, KeepsEverythingAcrossCloseAndReopen) {
  std::int64_t issued = 0;
  std::int64_t failed = 0;
  {
    auto ledger = open_sqlite_ledger(db_path());
    issued = ledger->record_pending(record_for(kIssuerA, "01"));
    ledger->record_issued(issued, fake_der("01"));
    failed = ledger->record_pending(record_for(kIssuerA, "02"));
    ledger->record_failed(failed, "refused by the token");
    ledger->record_pending(record_for(kIssuerB, "03"));
  }
  auto ledger = open_sqlite_ledger(db_path());
  const auto all = ledger->list("");
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].id, issued);
  EXPECT_EQ(all[0].status, CertificateStatus::issued);
  EXPECT_EQ(all[0].der, fake_der("01"));
  EXPECT_EQ(all[1].id, failed);
  EXPECT_EQ(all[1].failure, "refused by the token");
  EXPECT_EQ(all[2].status, CertificateStatus::pending);
  EXPECT_EQ(all[2].record.sans, record_for(kIssuerB, "03").sans);
  // Uniqueness holds across the reopen as well.
  EXPECT_THROW(ledger->record_pending(record_for(kIssuerA, "01")), DuplicateSerial);
  EXPECT_EQ(schema_version_of(db_path()), 4);
}

TEST_F(LedgerTest, CreatesTheFileAtSchemaVersionFour) {
  ASSERT_FALSE(std::filesystem::exists(db_path()));
  auto ledger = open_sqlite_ledger(db_path());
  EXPECT_TRUE(std::filesystem::exists(db_path()));
  EXPECT_EQ(schema_version_of(db_path()), 4);
  EXPECT_EQ(ledger_schema::kSchemaVersion, 4);
  RawConnection raw(db_path());
  EXPECT_EQ(raw.text("PRAGMA user_version"), "4");
  EXPECT_EQ(raw.text("SELECT count(*) FROM crl_numbers"), "0");
  EXPECT_EQ(raw.text("SELECT count(*) FROM acme_orders"), "0");
}

TEST_F(LedgerTest, MigratesAVersionOneDatabaseKeepingItsEntries) {
  // A version-1 file: what the current code creates, minus migration 2.
  {
    auto ledger = open_sqlite_ledger(db_path());
    const auto id = ledger->record_pending(record_for(kIssuerA, "01"));
    ledger->record_issued(id, fake_der("01"));
  }
  {
    RawConnection raw(db_path());
    raw.exec("DROP TABLE acme_challenges; DROP TABLE acme_order_authorizations; DROP TABLE acme_authorizations; "
             "DROP TABLE acme_orders; DROP TABLE acme_accounts; DROP TABLE acme_eab_keys; "
             "DROP INDEX certificates_revoked; DROP TABLE crl_numbers; PRAGMA user_version = 1");
    ASSERT_EQ(raw.text("SELECT count(*) FROM sqlite_schema WHERE name = 'crl_numbers'"), "0");
  }
  auto ledger = open_sqlite_ledger(db_path());
  EXPECT_EQ(schema_version_of(db_path()), 4);
  auto entry = ledger->find(kIssuerA, "01");
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->status, CertificateStatus::issued);
  EXPECT_EQ(entry->der, fake_der("01"));
  EXPECT_EQ(ledger->revoke(kIssuerA, "01", RevocationReason::superseded, 1767225600).result, RevokeOutcome::Result::revoked);
  EXPECT_EQ(ledger->next_crl_number(kIssuerA), 1);
  RawConnection raw(db_path());
  EXPECT_EQ(raw.text("PRAGMA user_version"), "4");
}

// Version 4 adds the certificate an ACME order replaces (RFC 9773): a version-3
// file's orders stay, replacing nothing.
TEST_F(LedgerTest, MigratesAVersionThreeDatabaseKeepingItsAcmeOrders) {
  {
    auto ledger = open_sqlite_ledger(db_path());
    auto& acme = ledger->acme();
    acme.create_account({"a1", "thumb", "{}", AcmeAccountStatus::valid, {}, "", 1});
    AcmeOrder order;
    order.id = "o1";
    order.account_id = "a1";
    order.identifiers = {{AcmeIdentifierType::dns, "www.example.test"}};
    order.profile = "web";
    order.expires = 4000000000;
    order.created_at = 1;
    EXPECT_EQ(acme.create_order(order, {}, 1, 300), AcmeStore::Creation::created);
  }
  {
    RawConnection raw(db_path());
    raw.exec("DROP INDEX acme_orders_replaces; ALTER TABLE acme_orders DROP COLUMN replaces; PRAGMA user_version = 3");
  }
  auto ledger = open_sqlite_ledger(db_path());
  EXPECT_EQ(schema_version_of(db_path()), 4);
  auto order = ledger->acme().order("o1");
  ASSERT_TRUE(order);
  EXPECT_EQ(order->identifiers.front().value, "www.example.test");
  EXPECT_TRUE(order->replaces.empty());
  EXPECT_FALSE(ledger->acme().replaced("anything", 0));
}

// newOrder's two per-account rules, checked again inside the write so that
// two concurrent orders cannot both pass: a refused order writes nothing.
TEST_F(LedgerTest, CreatesAnAcmeOrderOnlyWithinTheHourlyLimitAndReplacesACertificateOnce) {
  auto ledger = open_sqlite_ledger(db_path());
  auto& acme = ledger->acme();
  acme.create_account({"a1", "thumb", "{}", AcmeAccountStatus::valid, {}, "", 1});
  const std::int64_t now = 1767225600;
  int made = 0;
  const auto order_at = [&](std::int64_t created_at, const std::string& replaces = "") {
    AcmeOrder order;
    order.id = "o" + std::to_string(++made);
    order.account_id = "a1";
    order.identifiers = {{AcmeIdentifierType::dns, "www.example.test"}};
    order.profile = "web";
    order.replaces = replaces;
    order.created_at = created_at;
    order.expires = created_at + 86400;
    return order;
  };
  EXPECT_EQ(acme.create_order(order_at(now - 3601), {}, now - 3601, 2), AcmeStore::Creation::created);
  EXPECT_EQ(acme.create_order(order_at(now - 60), {}, now - 60, 2), AcmeStore::Creation::created);
  EXPECT_EQ(acme.create_order(order_at(now), {}, now, 2), AcmeStore::Creation::created)
      << "the first order is more than an hour old";
  EXPECT_EQ(acme.create_order(order_at(now), {}, now, 2), AcmeStore::Creation::over_hourly_limit);
  EXPECT_FALSE(acme.order("o4")) << "a refused order was written";

  EXPECT_EQ(acme.create_order(order_at(now, "AQ.Ag"), {}, now, 10), AcmeStore::Creation::created);
  EXPECT_EQ(acme.create_order(order_at(now, "AQ.Ag"), {}, now, 10), AcmeStore::Creation::already_replaced);
  EXPECT_FALSE(acme.order("o6")) << "a refused replacement was written";
  EXPECT_EQ(acme.order_ids("a1", now, 0, 100).size(), 4u);
  // Once the replacing order expired unfinished, the certificate may be replaced again.
  const std::int64_t later = now + 86400;
  EXPECT_EQ(acme.create_order(order_at(later, "AQ.Ag"), {}, later, 10), AcmeStore::Creation::created);
}

// Finalize starts only while the order and every authorization it stands on
// are unexpired, whatever the order's own expiry says (an order written by an
// older version could outlive a reused authorization).
TEST_F(LedgerTest, BeginsFinalizingAnAcmeOrderOnlyWhileItsAuthorizationsAreUnexpired) {
  auto ledger = open_sqlite_ledger(db_path());
  auto& acme = ledger->acme();
  acme.create_account({"a1", "thumb", "{}", AcmeAccountStatus::valid, {}, "", 1});
  const std::int64_t t = 1767225600;
  AcmeAuthorization authz;
  authz.id = "z1";
  authz.account_id = "a1";
  authz.identifier = {AcmeIdentifierType::dns, "www.example.test"};
  authz.expires = t + 100;
  authz.challenges = {{"c1", "z1", AcmeChallengeType::http01, "token"}};
  const auto order_on_authz = [&](const std::string& id) {
    AcmeOrder order;
    order.id = id;
    order.account_id = "a1";
    order.identifiers = {authz.identifier};
    order.profile = "web";
    order.authorization_ids = {"z1"};
    order.created_at = t;
    order.expires = t + 1000;  // outlives its authorization
    return order;
  };
  ASSERT_EQ(acme.create_order(order_on_authz("o1"), {authz}, t, 10), AcmeStore::Creation::created);
  ASSERT_EQ(acme.create_order(order_on_authz("o2"), {}, t, 10), AcmeStore::Creation::created);
  EXPECT_FALSE(acme.begin_finalize("o1", t)) << "the authorization is still pending";
  ASSERT_TRUE(acme.start_challenge("c1", t));
  ASSERT_TRUE(acme.finish_challenge("c1", true, "", t).applied);
  EXPECT_EQ(acme.order("o1")->status, AcmeOrderStatus::ready);
  EXPECT_FALSE(acme.begin_finalize("o1", t + 100)) << "the authorization expired";
  EXPECT_EQ(acme.order("o1")->status, AcmeOrderStatus::ready);
  EXPECT_TRUE(acme.begin_finalize("o2", t + 99));
  EXPECT_EQ(acme.order("o2")->status, AcmeOrderStatus::processing);
  EXPECT_FALSE(acme.begin_finalize("o2", t + 99)) << "finalized already";
  // Past their expiry, the ready order is pruned; the processing one stays for its certificate.
  AcmeOrder later = order_on_authz("o3");
  later.authorization_ids.clear();
  ASSERT_EQ(acme.create_order(later, {}, t + 2000, 10), AcmeStore::Creation::created);
  EXPECT_FALSE(acme.order("o1"));
  ASSERT_TRUE(acme.order("o2"));
  acme.finish_order("o2", "0a");
  EXPECT_EQ(acme.order("o2")->status, AcmeOrderStatus::valid);
}

// RFC 8555 7.3.5 key rollover as compare and set: a change checked against a
// key that was rotated away meanwhile changes nothing.
TEST_F(LedgerTest, ChangesAnAcmeAccountKeyOnlyFromTheKeyItStillHas) {
  auto ledger = open_sqlite_ledger(db_path());
  auto& acme = ledger->acme();
  acme.create_account({"a1", "old", "{\"k\":1}", AcmeAccountStatus::valid, {}, "", 1});
  acme.create_account({"a2", "taken", "{\"k\":2}", AcmeAccountStatus::valid, {}, "", 1});
  EXPECT_FALSE(acme.change_key("a1", "stale", "new", "{\"k\":3}"));
  EXPECT_FALSE(acme.change_key("a1", "old", "taken", "{\"k\":2}")) << "another account's key";
  EXPECT_EQ(acme.account("a1")->thumbprint, "old");
  EXPECT_TRUE(acme.change_key("a1", "old", "new", "{\"k\":3}"));
  EXPECT_EQ(acme.account("a1")->thumbprint, "new");
  EXPECT_FALSE(acme.change_key("a1", "old", "newer", "{\"k\":4}")) << "the old key is gone";
}

TEST_F(LedgerTest, RevokesAnIssuedCertificateDurablyWithTimeAndReason) {
  {
    auto ledger = open_sqlite_ledger(db_path());
    const auto id = ledger->record_pending(record_for(kIssuerA, "7f01"));
    ledger->record_issued(id, fake_der("7f01"));
    const auto outcome = ledger->revoke(kIssuerA, "7f01", RevocationReason::key_compromise, 1750000000);
    EXPECT_EQ(outcome.result, RevokeOutcome::Result::revoked);
    EXPECT_EQ(outcome.revoked_at, 1750000000);
    EXPECT_EQ(outcome.reason, RevocationReason::key_compromise);
  }
  auto ledger = open_sqlite_ledger(db_path());
  auto entry = ledger->find(kIssuerA, "7f01");
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->status, CertificateStatus::revoked);
  EXPECT_EQ(entry->revoked_at, 1750000000);
  EXPECT_EQ(entry->revocation_reason, RevocationReason::key_compromise);
  EXPECT_EQ(entry->der, fake_der("7f01"));  // the certificate stays
  EXPECT_TRUE(entry->issued_at);
}

TEST_F(LedgerTest, RevokingAgainChangesNothingAndReportsTheFirstRevocation) {
  auto ledger = open_sqlite_ledger(db_path());
  const auto id = ledger->record_pending(record_for(kIssuerA, "01"));
  ledger->record_issued(id, fake_der("01"));
  ASSERT_EQ(ledger->revoke(kIssuerA, "01", RevocationReason::superseded, 1750000000).result, RevokeOutcome::Result::revoked);
  const auto again = ledger->revoke(kIssuerA, "01", RevocationReason::key_compromise, 1760000000);
  EXPECT_EQ(again.result, RevokeOutcome::Result::already_revoked);
  EXPECT_EQ(again.revoked_at, 1750000000);
  EXPECT_EQ(again.reason, RevocationReason::superseded);
  auto entry = ledger->find(kIssuerA, "01");
  EXPECT_EQ(entry->revoked_at, 1750000000);
  EXPECT_EQ(entry->revocation_reason, RevocationReason::superseded);
}

TEST_F(LedgerTest, RefusesToRevokeAnUnknownSerialOrOneThatWasNeverIssued) {
  auto ledger = open_sqlite_ledger(db_path());
  ledger->record_pending(record_for(kIssuerA, "01"));
  const auto failed = ledger->record_pending(record_for(kIssuerA, "02"));
  ledger->record_failed(failed, "token said no");
  const auto issued = ledger->record_pending(record_for(kIssuerB, "03"));
  ledger->record_issued(issued, fake_der("03"));

  EXPECT_EQ(ledger->revoke(kIssuerA, "99", RevocationReason::unspecified, 1).result, RevokeOutcome::Result::not_found);
  // Another issuer's serial is not this issuer's.
  EXPECT_EQ(ledger->revoke(kIssuerA, "03", RevocationReason::unspecified, 1).result, RevokeOutcome::Result::not_found);
  const auto pending = ledger->revoke(kIssuerA, "01", RevocationReason::unspecified, 1);
  EXPECT_EQ(pending.result, RevokeOutcome::Result::not_issued);
  EXPECT_EQ(pending.status, CertificateStatus::pending);
  const auto failed_outcome = ledger->revoke(kIssuerA, "02", RevocationReason::unspecified, 1);
  EXPECT_EQ(failed_outcome.result, RevokeOutcome::Result::not_issued);
  EXPECT_EQ(failed_outcome.status, CertificateStatus::failed);
  EXPECT_EQ(ledger->find(kIssuerA, "01")->status, CertificateStatus::pending);
  EXPECT_EQ(ledger->find(kIssuerA, "02")->status, CertificateStatus::failed);
  EXPECT_EQ(ledger->find(kIssuerB, "03")->status, CertificateStatus::issued);
}

TEST_F(LedgerTest, RefusesToRevokeAMalformedSerialOrIssuer) {
  auto ledger = open_sqlite_ledger(db_path());
  const auto id = ledger->record_pending(record_for(kIssuerA, "01"));
  ledger->record_issued(id, fake_der("01"));
  // Unknown reasons ("lostIt", "KeyCompromise") cannot reach the ledger any
  // more: RevocationReasonTest covers parse_revocation_reason refusing them.
  EXPECT_THROW(ledger->revoke(kIssuerA, "0X1", RevocationReason::key_compromise, 1), std::invalid_argument);
  EXPECT_THROW(ledger->revoke(kIssuerA, "", RevocationReason::key_compromise, 1), std::invalid_argument);
  EXPECT_THROW(ledger->revoke("A1B2", "01", RevocationReason::key_compromise, 1), std::invalid_argument);
  EXPECT_EQ(ledger->find(kIssuerA, "01")->status, CertificateStatus::issued);
}

TEST_F(LedgerTest, StoresEveryReasonByItsRfc5280NameAndReadsItBack) {
  auto ledger = open_sqlite_ledger(db_path());
  const std::vector<std::pair<RevocationReason, std::string>> reasons = {
      {RevocationReason::unspecified, "unspecified"},
      {RevocationReason::key_compromise, "keyCompromise"},
      {RevocationReason::ca_compromise, "cACompromise"},
      {RevocationReason::affiliation_changed, "affiliationChanged"},
      {RevocationReason::superseded, "superseded"},
      {RevocationReason::cessation_of_operation, "cessationOfOperation"},
      {RevocationReason::privilege_withdrawn, "privilegeWithdrawn"},
  };
  RawConnection raw(db_path());
  for (std::size_t i = 0; i < reasons.size(); ++i) {
    const auto& [reason, name] = reasons[i];
    SCOPED_TRACE(name);
    const std::string serial = serial_hex(static_cast<unsigned>(i + 1));
    ledger->record_issued(ledger->record_pending(record_for(kIssuerA, serial)), fake_der(serial));
    EXPECT_EQ(ledger->revoke(kIssuerA, serial, reason, 100).reason, reason);
    EXPECT_EQ(raw.text("SELECT revocation_reason FROM certificates WHERE serial = '" + serial + "'"), name);
    EXPECT_EQ(ledger->find(kIssuerA, serial)->revocation_reason, reason);
    EXPECT_EQ(ledger->revoke(kIssuerA, serial, RevocationReason::superseded, 200).reason, reason);
  }
}

TEST_F(LedgerTest, AStoredReasonItDoesNotKnowIsALedgerError) {
  auto ledger = open_sqlite_ledger(db_path());
  ledger->record_issued(ledger->record_pending(record_for(kIssuerA, "01")), fake_der("01"));
  ledger->revoke(kIssuerA, "01", RevocationReason::key_compromise, 100);
  RawConnection raw(db_path());
  raw.exec("UPDATE certificates SET revocation_reason = 'certificateHold' WHERE serial = '01'");
  EXPECT_THROW(ledger->find(kIssuerA, "01"), LedgerError);
  EXPECT_THROW(ledger->revoked(kIssuerA), LedgerError);
  EXPECT_THROW(ledger->revoke(kIssuerA, "01", RevocationReason::superseded, 200), LedgerError);
}

TEST_F(LedgerTest, ListsTheRevokedCertificatesOfOneIssuer) {
  auto ledger = open_sqlite_ledger(db_path());
  for (const auto& [issuer, serial] : std::vector<std::pair<std::string, std::string>>{
           {kIssuerA, "01"}, {kIssuerA, "02"}, {kIssuerA, "03"}, {kIssuerB, "04"}}) {
    ledger->record_issued(ledger->record_pending(record_for(issuer, serial)), fake_der(serial));
  }
  ledger->revoke(kIssuerA, "03", RevocationReason::superseded, 30);
  ledger->revoke(kIssuerA, "01", RevocationReason::key_compromise, 10);
  ledger->revoke(kIssuerB, "04", RevocationReason::key_compromise, 40);
  const auto revoked = ledger->revoked(kIssuerA);
  ASSERT_EQ(revoked.size(), 2u);
  EXPECT_EQ(revoked[0].record.serial, "01");
  EXPECT_EQ(revoked[0].revocation_reason, RevocationReason::key_compromise);
  EXPECT_EQ(revoked[0].revoked_at, 10);
  EXPECT_EQ(revoked[1].record.serial, "03");
  EXPECT_TRUE(ledger->revoked("00ff").empty());
}

TEST_F(LedgerTest, RevocationVersionChangesWithEveryRevocationOfItsIssuerOnly) {
  auto ledger = open_sqlite_ledger(db_path());
  for (const auto& [issuer, serial] : std::vector<std::pair<std::string, std::string>>{
           {kIssuerA, "01"}, {kIssuerA, "02"}, {kIssuerB, "04"}}) {
    ledger->record_issued(ledger->record_pending(record_for(issuer, serial)), fake_der(serial));
  }
  const RevocationVersion none = ledger->revocation_version(kIssuerA);
  EXPECT_EQ(none, (RevocationVersion{0, 0}));
  ledger->revoke(kIssuerA, "01", RevocationReason::key_compromise, 50);
  const RevocationVersion one = ledger->revocation_version(kIssuerA);
  EXPECT_EQ(one, (RevocationVersion{1, 50}));
  // Same second, another certificate: the count still tells them apart.
  ledger->revoke(kIssuerA, "02", RevocationReason::superseded, 50);
  EXPECT_EQ(ledger->revocation_version(kIssuerA), (RevocationVersion{2, 50}));
  // Revoking again changes nothing, and another issuer's revocations are not this one's.
  ledger->revoke(kIssuerA, "01", RevocationReason::superseded, 60);
  ledger->revoke(kIssuerB, "04", RevocationReason::key_compromise, 70);
  EXPECT_EQ(ledger->revocation_version(kIssuerA), (RevocationVersion{2, 50}));
  // Another process's revocation (a second connection to the file) shows.
  auto other = open_sqlite_ledger(db_path());
  other->record_issued(other->record_pending(record_for(kIssuerA, "05")), fake_der("05"));
  other->revoke(kIssuerA, "05", RevocationReason::unspecified, 80);
  EXPECT_EQ(ledger->revocation_version(kIssuerA), (RevocationVersion{3, 80}));
}

TEST_F(LedgerTest, CrlNumbersStartAtOneAndIncreaseAcrossReopenPerIssuer) {
  {
    auto ledger = open_sqlite_ledger(db_path());
    EXPECT_EQ(ledger->next_crl_number(kIssuerA), 1);
    EXPECT_EQ(ledger->next_crl_number(kIssuerA), 2);
    EXPECT_EQ(ledger->next_crl_number(kIssuerB), 1);
  }
  auto ledger = open_sqlite_ledger(db_path());
  EXPECT_EQ(ledger->next_crl_number(kIssuerA), 3);
  // Another process on the same file draws from the same sequence.
  auto other = open_sqlite_ledger(db_path());
  EXPECT_EQ(other->next_crl_number(kIssuerA), 4);
  EXPECT_EQ(ledger->next_crl_number(kIssuerB), 2);
  EXPECT_THROW(ledger->next_crl_number("not hex"), std::invalid_argument);
}

TEST_F(LedgerTest, ConcurrentCrlNumbersAreAllDistinct) {
  auto ledger = open_sqlite_ledger(db_path());
  constexpr int kThreads = 8;
  constexpr int kEach = 20;
  std::vector<std::vector<std::int64_t>> drawn(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) drawn[t].push_back(ledger->next_crl_number(kIssuerA));
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::int64_t> all;
  for (const auto& d : drawn) {
    EXPECT_TRUE(std::is_sorted(d.begin(), d.end()));
    all.insert(d.begin(), d.end());
  }
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kThreads * kEach));
  EXPECT_EQ(*all.begin(), 1);
  EXPECT_EQ(*all.rbegin(), kThreads * kEach);
}

TEST_F(LedgerTest, RefusesADatabaseWithANewerSchemaAndLeavesItAlone) {
  open_sqlite_ledger(db_path())->record_pending(record_for(kIssuerA, "01"));
  {
    RawConnection raw(db_path());
    raw.exec("PRAGMA user_version = 5");
  }
  try {
    open_sqlite_ledger(db_path());
    FAIL() << "a newer schema was accepted";
  } catch (const LedgerError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("schema version 5"), std::string::npos) << what;
    EXPECT_NE(what.find("newer"), std::string::npos) << what;
  }
  RawConnection raw(db_path());
  EXPECT_EQ(raw.text("PRAGMA user_version"), "5");
  EXPECT_EQ(raw.text("SELECT count(*) FROM certificates"), "1");
}

TEST_F(LedgerTest, RefusesAnSqliteFileThatIsNotALedgerWithoutTouchingIt) {
  {
    RawConnection raw(db_path());
    raw.exec("CREATE TABLE accounts (name TEXT)");
  }
  EXPECT_THROW(open_sqlite_ledger(db_path()), LedgerError);
  RawConnection raw(db_path());
  EXPECT_EQ(raw.text("PRAGMA journal_mode"), "delete");
  EXPECT_EQ(raw.text("SELECT count(*) FROM sqlite_schema"), "1");
}

TEST_F(LedgerTest, RefusesAFileThatIsNotAnSqliteDatabase) {
  test::write_file(db_path(), std::string(4096, 'x'));
  try {
    open_sqlite_ledger(db_path());
    FAIL() << "a non-database file was accepted";
  } catch (const LedgerError& e) {
    EXPECT_NE(std::string(e.what()).find(db_path().string()), std::string::npos) << e.what();
  }
}

TEST_F(LedgerTest, ReportsAMissingDirectoryClearly) {
  const auto path = dir_ / "no-such-dir" / "ledger.db";
  try {
    open_sqlite_ledger(path);
    FAIL() << "a missing directory was accepted";
  } catch (const LedgerError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find((dir_ / "no-such-dir").string()), std::string::npos) << what;
    EXPECT_NE(what.find("does not exist"), std::string::npos) << what;
  }
  EXPECT_FALSE(std::filesystem::exists(dir_ / "no-such-dir"));
}

TEST_F(LedgerTest, UsesWriteAheadLoggingInTheFileItself) {
  auto ledger = open_sqlite_ledger(db_path());
  RawConnection raw(db_path());
  // journal_mode=WAL is stored in the file: any connection sees it.
  EXPECT_EQ(raw.text("PRAGMA journal_mode"), "wal");
}

TEST_F(LedgerTest, CreatesItsFileAndItsWalAndShmFilesReadableByTheOwnerOnly) {
  const mode_t saved = umask(022);  // the usual umask, which leaves new files readable by all
  {
    auto ledger = open_sqlite_ledger(db_path());
    ledger->record_pending(record_for(kIssuerA, "01"));
    for (const char* suffix : {"", "-wal", "-shm"}) {
      const std::filesystem::path file = db_path().string() + suffix;
      struct stat st {};
      EXPECT_EQ(stat(file.c_str(), &st), 0) << file;
      EXPECT_EQ(st.st_mode & 0777, 0600u) << file;
    }
  }
  umask(saved);
}

TEST_F(LedgerTest, RejectsMalformedRecordsBeforeWritingAnything) {
  auto ledger = open_sqlite_ledger(db_path());
  IssuanceRecord upper = record_for(kIssuerA, "0ABC");
  EXPECT_THROW(ledger->record_pending(upper), std::invalid_argument);
  IssuanceRecord bad_issuer = record_for("", "01");
  EXPECT_THROW(ledger->record_pending(bad_issuer), std::invalid_argument);
  IssuanceRecord bad_hash = record_for(kIssuerA, "01");
  bad_hash.tbs_sha256 = "abcd";
  EXPECT_THROW(ledger->record_pending(bad_hash), std::invalid_argument);
  IssuanceRecord bad_san = record_for(kIssuerA, "01");
  bad_san.sans.push_back("DNS:a.example\nDNS:b.example");
  EXPECT_THROW(ledger->record_pending(bad_san), std::invalid_argument);
  IssuanceRecord empty_san = record_for(kIssuerA, "01");
  empty_san.sans.push_back("");
  EXPECT_THROW(ledger->record_pending(empty_san), std::invalid_argument);
  EXPECT_TRUE(ledger->list("").empty());
  EXPECT_EQ(ledger->stats().requests, 0u);

  const auto id = ledger->record_pending(record_for(kIssuerA, "01"));
  EXPECT_THROW(ledger->record_issued(id, {}), std::invalid_argument);
}

TEST_F(LedgerTest, ProbeMakesADurableWriteWithoutChangingEntries) {
  auto ledger = open_sqlite_ledger(db_path());
  ledger->record_pending(record_for(kIssuerA, "01"));
  const auto before = ledger->stats();
  EXPECT_TRUE(ledger->probe());
  const auto after = ledger->stats();
  EXPECT_EQ(after.requests, before.requests + 1);
  EXPECT_EQ(after.commits, before.commits + 1);
  EXPECT_EQ(ledger->list("").size(), 1u);
}

TEST_F(LedgerTest, ReadsDoNotWaitForAnotherProcessesWriteTransaction) {
  auto ledger = open_sqlite_ledger(db_path());
  ledger->record_pending(record_for(kIssuerA, "01"));
  RawConnection other(db_path());
  other.exec("BEGIN IMMEDIATE");
  other.exec("UPDATE probe SET probed_at = 1");

  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(ledger->list("").size(), 1u);
  EXPECT_TRUE(ledger->find(kIssuerA, "01"));
  EXPECT_EQ(ledger->revocation_version(kIssuerA), (RevocationVersion{0, 0}));
  EXPECT_EQ(schema_version_of(db_path()), 4);
  // Well under the busy timeout (5 s) the reads would otherwise wait out.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  other.exec("ROLLBACK");
}

TEST_F(LedgerTest, WritesWaitForAnotherProcessesWriteTransactionInsteadOfFailing) {
  auto ledger = open_sqlite_ledger(db_path());
  RawConnection other(db_path());
  other.exec("BEGIN IMMEDIATE");
  other.exec("UPDATE probe SET probed_at = 1");
  std::thread finisher([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    other.exec("COMMIT");
  });
  const auto id = ledger->record_pending(record_for(kIssuerA, "01"));
  finisher.join();
  EXPECT_EQ(ledger->find(kIssuerA, "01")->id, id);
}

TEST_F(LedgerTest, TwoLedgersOnOneFileShareSerialsAndEntries) {
  auto appliance = open_sqlite_ledger(db_path());
  auto cli = open_sqlite_ledger(db_path());
  const auto id = appliance->record_pending(record_for(kIssuerA, "01"));
  EXPECT_THROW(cli->record_pending(record_for(kIssuerA, "01")), DuplicateSerial);
  cli->record_failed(id, "cancelled by the operator");
  EXPECT_EQ(appliance->find(kIssuerA, "01")->status, CertificateStatus::failed);
}

TEST_F(LedgerTest, OpensOneNewFileFromSeveralPlacesAtOnce) {
  constexpr int kOpeners = 4;
  std::vector<std::unique_ptr<Ledger>> ledgers(kOpeners);
  std::vector<std::string> errors(kOpeners);
  std::vector<std::thread> threads;
  for (int i = 0; i < kOpeners; ++i) {
    threads.emplace_back([&, i] {
      try {
        ledgers[i] = open_sqlite_ledger(db_path());
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int i = 0; i < kOpeners; ++i) {
    ASSERT_TRUE(ledgers[i]) << errors[i];
    EXPECT_EQ(schema_version_of(db_path()), 4);
  }
  ledgers[0]->record_pending(record_for(kIssuerA, "01"));
  EXPECT_TRUE(ledgers[kOpeners - 1]->find(kIssuerA, "01"));
}

// The group-commit property: many issuers share commits instead of each paying
// its own fsync. Counted, not timed: fewer commits than half the requests.
TEST_F(LedgerTest, ConcurrentIssuersShareCommits) {
  constexpr unsigned kThreads = 8;
  constexpr unsigned kPerThread = 500;
  auto ledger = open_sqlite_ledger(db_path());
  std::atomic<unsigned> errors{0};
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (unsigned i = 0; i < kPerThread; ++i) {
        try {
          const std::string serial = serial_hex(t * kPerThread + i);
          const auto id = ledger->record_pending(record_for(kIssuerA, serial));
          ledger->record_issued(id, fake_der(serial));
        } catch (const std::exception& e) {
          ++errors;
          ADD_FAILURE() << e.what();
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0u);

  const auto entries = ledger->list(kIssuerA);
  ASSERT_EQ(entries.size(), kThreads * kPerThread);
  std::set<std::string> serials;
  for (const auto& e : entries) {
    EXPECT_EQ(e.status, CertificateStatus::issued);
    EXPECT_EQ(e.der, fake_der(e.record.serial));
    serials.insert(e.record.serial);
  }
  EXPECT_EQ(serials.size(), kThreads * kPerThread);

  const LedgerStats stats = ledger->stats();
  EXPECT_EQ(stats.requests, 2u * kThreads * kPerThread);
  EXPECT_LT(stats.commits, stats.requests / 2);
}

// A failing request in a shared commit fails alone: the others in its batch commit.
TEST_F(LedgerTest, ConcurrentDuplicateSerialsFailOnlyThemselves) {
  constexpr unsigned kThreads = 8;
  constexpr unsigned kSerials = 200;
  auto ledger = open_sqlite_ledger(db_path());
  std::atomic<unsigned> recorded{0};
  std::atomic<unsigned> duplicates{0};
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (unsigned i = 0; i < kSerials; ++i) {
        try {
          ledger->record_pending(record_for(kIssuerA, serial_hex(i)));
          ++recorded;
        } catch (const DuplicateSerial&) {
          ++duplicates;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(recorded.load(), kSerials);
  EXPECT_EQ(duplicates.load(), (kThreads - 1) * kSerials);
  EXPECT_EQ(ledger->list("").size(), kSerials);
  EXPECT_LT(ledger->stats().commits, ledger->stats().requests);
}

// Durable on return means durable without a clean close: a process killed right
// after record_pending returned leaves its pending row for the next one to find.
TEST(LedgerDeathTest, APendingEntrySurvivesTheProcessBeingKilled) {
  TempDir dir;
  const auto path = dir / "ledger.db";
  EXPECT_EXIT(
      {
        auto ledger = open_sqlite_ledger(path);
        ledger->record_pending(record_for(kIssuerA, "dead"));
        std::raise(SIGKILL);
      },
      ::testing::KilledBySignal(SIGKILL), "");
  auto ledger = open_sqlite_ledger(path);
  const auto entry = ledger->find(kIssuerA, "dead");
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->status, CertificateStatus::pending);
}

}  // namespace
}  // namespace hsmca::signer
