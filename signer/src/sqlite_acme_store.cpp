// ACME's accounts, orders, authorizations, challenges and EAB keys in the
// ledger's SQLite file (schema version 3, ledger_schema.cpp). Every write goes
// through the group-commit writer (durable on return); a state change is an
// UPDATE ... WHERE status = <expected>, so racing requests move a row once.
#include "sqlite_acme_store.hpp"

#include <openssl/rand.h>

#include <stdexcept>
#include <type_traits>
#include <utility>

#include "hsmca/signer/openssl.hpp"
#include "hsmca/token/enum_names.hpp"

namespace hsmca::signer {

namespace {

// The spellings RFC 8555 uses, which the ledger stores: one table per enum.
constexpr token::EnumNames<AcmeAccountStatus, 2> kAccountStatus{
    {{{AcmeAccountStatus::valid, "valid"}, {AcmeAccountStatus::deactivated, "deactivated"}}}};
constexpr token::EnumNames<AcmeOrderStatus, 5> kOrderStatus{{{{AcmeOrderStatus::pending, "pending"},
                                                              {AcmeOrderStatus::ready, "ready"},
                                                              {AcmeOrderStatus::processing, "processing"},
                                                              {AcmeOrderStatus::valid, "valid"},
                                                              {AcmeOrderStatus::invalid, "invalid"}}}};
constexpr token::EnumNames<AcmeAuthzStatus, 5> kAuthzStatus{{{{AcmeAuthzStatus::pending, "pending"},
                                                              {AcmeAuthzStatus::valid, "valid"},
                                                              {AcmeAuthzStatus::invalid, "invalid"},
                                                              {AcmeAuthzStatus::deactivated, "deactivated"},
                                                              {AcmeAuthzStatus::expired, "expired"}}}};
constexpr token::EnumNames<AcmeChallengeStatus, 4> kChallengeStatus{{{{AcmeChallengeStatus::pending, "pending"},
                                                                      {AcmeChallengeStatus::processing, "processing"},
                                                                      {AcmeChallengeStatus::valid, "valid"},
                                                                      {AcmeChallengeStatus::invalid, "invalid"}}}};
constexpr token::EnumNames<AcmeIdentifierType, 2> kIdentifierType{
    {{{AcmeIdentifierType::dns, "dns"}, {AcmeIdentifierType::ip, "ip"}}}};
constexpr token::EnumNames<AcmeChallengeType, 3> kChallengeType{{{{AcmeChallengeType::http01, "http-01"},
                                                                  {AcmeChallengeType::dns01, "dns-01"},
                                                                  {AcmeChallengeType::tls_alpn01, "tls-alpn-01"}}}};

}  // namespace

std::string_view acme_name(AcmeAccountStatus s) noexcept { return kAccountStatus.name(s); }
std::string_view acme_name(AcmeOrderStatus s) noexcept { return kOrderStatus.name(s); }
std::string_view acme_name(AcmeAuthzStatus s) noexcept { return kAuthzStatus.name(s); }
std::string_view acme_name(AcmeChallengeStatus s) noexcept { return kChallengeStatus.name(s); }
std::string_view acme_name(AcmeIdentifierType t) noexcept { return kIdentifierType.name(t); }
std::string_view acme_name(AcmeChallengeType t) noexcept { return kChallengeType.name(t); }
std::optional<AcmeIdentifierType> parse_acme_identifier_type(std::string_view name) noexcept {
  return kIdentifierType.parse(name);
}
std::optional<AcmeChallengeType> parse_acme_challenge_type(std::string_view name) noexcept {
  return kChallengeType.parse(name);
}

std::string random_acme_id() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    drain_openssl_errors();
    throw std::runtime_error("RAND_bytes failed");
  }
  return to_hex(bytes);
}

namespace {

using sqlite::prepare;
using sqlite::Query;
using sqlite::StatementPtr;

// A status or type as the ledger stores it; anything else means the file was not written by hsmca.
template <typename Enum, std::size_t N>
Enum parse_stored(const std::string& text, const token::EnumNames<Enum, N>& names, const char* what) {
  if (auto e = names.parse(text)) return *e;
  throw LedgerError(std::string("ledger: unknown ACME ") + what + " \"" + text + "\"");
}

AcmeOrderStatus order_status(const std::string& t) { return parse_stored(t, kOrderStatus, "order status"); }
AcmeAuthzStatus authz_status(const std::string& t) { return parse_stored(t, kAuthzStatus, "authorization status"); }
AcmeChallengeStatus challenge_status(const std::string& t) {
  return parse_stored(t, kChallengeStatus, "challenge status");
}

// Lines: values hold no newline (URLs, identifiers checked by the caller).
std::string join_lines(const std::vector<std::string>& values) {
  std::string out;
  for (const auto& v : values) {
    if (v.find('\n') != std::string::npos) throw std::invalid_argument("ledger: an ACME value holds a newline");
    if (!out.empty()) out += '\n';
    out += v;
  }
  return out;
}
std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> out;
  if (text.empty()) return out;
  std::size_t start = 0;
  for (;;) {
    const auto end = text.find('\n', start);
    out.push_back(text.substr(start, end - start));
    if (end == std::string::npos) return out;
    start = end + 1;
  }
}
std::string join_identifiers(const std::vector<AcmeIdentifier>& ids) {
  std::vector<std::string> lines;
  for (const auto& id : ids) lines.push_back(std::string(acme_name(id.type)) + ":" + id.value);
  return join_lines(lines);
}
std::vector<AcmeIdentifier> split_identifiers(const std::string& text) {
  std::vector<AcmeIdentifier> out;
  for (const auto& line : split_lines(text)) {
    const auto colon = line.find(':');
    const auto type = parse_acme_identifier_type(line.substr(0, colon));
    if (colon == std::string::npos || !type) throw LedgerError("ledger: malformed ACME identifier \"" + line + "\"");
    out.push_back({*type, line.substr(colon + 1)});
  }
  return out;
}

constexpr const char* kAccountColumns = "id, thumbprint, jwk, status, contact, coalesce(eab_kid, ''), created_at";
constexpr const char* kOrderColumns =
    "id, account_id, status, identifiers, profile, expires, not_before, not_after, coalesce(error, ''), "
    "coalesce(certificate_serial, ''), created_at, coalesce(replaces, '')";
// RFC 9773 5: an order replaces a certificate once it is valid, or while it
// may still become valid (not invalid, unexpired). Binds the certID and now.
constexpr const char* kReplacedQuery =
    "SELECT 1 FROM acme_orders WHERE replaces = ? AND (status = 'valid' OR (status <> 'invalid' AND expires > ?)) "
    "LIMIT 1";
constexpr const char* kAuthzColumns = "id, account_id, type, value, wildcard, status, expires";
constexpr const char* kChallengeColumns = "id, authz_id, type, token, status, validated, coalesce(error, '')";

AcmeAccount read_account(const Query& q) {
  AcmeAccount a;
  a.id = q.text(0);
  a.thumbprint = q.text(1);
  a.jwk = q.text(2);
  a.status = parse_stored(q.text(3), kAccountStatus, "account status");
  a.contact = split_lines(q.text(4));
  a.eab_kid = q.text(5);
  a.created_at = q.integer(6);
  return a;
}
AcmeOrder read_order(const Query& q) {
  AcmeOrder o;
  o.id = q.text(0);
  o.account_id = q.text(1);
  o.status = order_status(q.text(2));
  o.identifiers = split_identifiers(q.text(3));
  o.profile = q.text(4);
  o.expires = q.integer(5);
  o.not_before = q.optional_integer(6);
  o.not_after = q.optional_integer(7);
  o.error = q.text(8);
  o.certificate_serial = q.text(9);
  o.created_at = q.integer(10);
  o.replaces = q.text(11);
  return o;
}
AcmeAuthorization read_authz(const Query& q) {
  AcmeAuthorization a;
  a.id = q.text(0);
  a.account_id = q.text(1);
  a.identifier = {parse_stored(q.text(2), kIdentifierType, "identifier type"), q.text(3)};
  a.wildcard = q.integer(4) != 0;
  a.status = authz_status(q.text(5));
  a.expires = q.integer(6);
  return a;
}
AcmeChallenge read_challenge(const Query& q) {
  AcmeChallenge c;
  c.id = q.text(0);
  c.authz_id = q.text(1);
  c.type = parse_stored(q.text(2), kChallengeType, "challenge type");
  c.token = q.text(3);
  c.status = challenge_status(q.text(4));
  c.validated = q.optional_integer(5);
  c.error = q.text(6);
  return c;
}

// One UPDATE/INSERT on the writer's connection; the number of rows it changed.
int run(sqlite3* db, const std::string& where, const char* sql, const std::function<void(Query&)>& bind,
        const char* operation) {
  StatementPtr stmt = prepare(db, where, sql);
  Query q(db, stmt.get());
  bind(q);
  while (q.step(where, operation)) {
  }
  return sqlite3_changes(db);
}

class SqliteAcmeStore final : public AcmeStore {
 public:
  SqliteAcmeStore(LedgerWriter& writer, sqlite::ReaderPool& readers, std::string where)
      : writer_(writer), readers_(readers), where_(std::move(where)) {}

  AcmeAccount create_account(const AcmeAccount& account) override {
    const std::string contact = join_lines(account.contact);
    // 0: created; 1: the key has an account already; 2: the EAB key is unusable.
    const auto result = writer_.submit([&](sqlite3* db) -> std::int64_t {
      {
        StatementPtr stmt = prepare(db, where_, "SELECT 1 FROM acme_accounts WHERE thumbprint = ?");
        Query q(db, stmt.get());
        q.bind(account.thumbprint);
        if (q.step(where_, "create_account")) return 1;
      }
      if (!account.eab_kid.empty()) {
        StatementPtr stmt = prepare(db, where_,
                                    "SELECT 1 FROM acme_eab_keys k WHERE kid = ? AND revoked_at IS NULL AND NOT "
                                    "EXISTS (SELECT 1 FROM acme_accounts a WHERE a.eab_kid = k.kid)");
        Query q(db, stmt.get());
        q.bind(account.eab_kid);
        if (!q.step(where_, "create_account")) return 2;
      }
      run(db, where_,
          "INSERT INTO acme_accounts (id, thumbprint, jwk, status, contact, eab_kid, created_at) "
          "VALUES (?, ?, ?, 'valid', ?, nullif(?, ''), ?)",
          [&](Query& q) {
            q.bind(account.id).bind(account.thumbprint).bind(account.jwk).bind(contact).bind(account.eab_kid).bind(
                account.created_at);
          },
          "create_account");
      return 0;
    });
    if (result == 2) {
      throw std::invalid_argument("the external account binding key " + account.eab_kid +
                                  " is unknown, revoked or already bound to an account");
    }
    auto stored = account_by_thumbprint(account.thumbprint);
    if (!stored) throw LedgerError(where_ + ": create_account: the account is not there after the write");
    return *stored;
  }

  std::optional<AcmeAccount> account(const std::string& id) const override {
    return read_one<AcmeAccount>(std::string("SELECT ") + kAccountColumns + " FROM acme_accounts WHERE id = ?", id,
                                 read_account);
  }
  std::optional<AcmeAccount> account_by_thumbprint(const std::string& thumbprint) const override {
    return read_one<AcmeAccount>(std::string("SELECT ") + kAccountColumns + " FROM acme_accounts WHERE thumbprint = ?",
                                 thumbprint, read_account);
  }
  void update_contact(const std::string& id, const std::vector<std::string>& contact) override {
    const std::string joined = join_lines(contact);
    writer_.submit([&](sqlite3* db) -> std::int64_t {
      return run(db, where_, "UPDATE acme_accounts SET contact = ? WHERE id = ? AND status = 'valid'",
                 [&](Query& q) { q.bind(joined).bind(id); }, "update_contact");
    });
  }
  void deactivate_account(const std::string& id) override {
    writer_.submit([&](sqlite3* db) -> std::int64_t {
      return run(db, where_, "UPDATE acme_accounts SET status = 'deactivated' WHERE id = ?",
                 [&](Query& q) { q.bind(id); }, "deactivate_account");
    });
  }
  bool change_key(const std::string& id, const std::string& old_thumbprint, const std::string& thumbprint,
                  const std::string& jwk) override {
    return writer_.submit([&](sqlite3* db) -> std::int64_t {
             {
               StatementPtr stmt = prepare(db, where_, "SELECT 1 FROM acme_accounts WHERE thumbprint = ?");
               Query q(db, stmt.get());
               q.bind(thumbprint);
               if (q.step(where_, "change_key")) return 0;
             }
             return run(db, where_,
                        "UPDATE acme_accounts SET thumbprint = ?, jwk = ? WHERE id = ? AND status = 'valid' "
                        "AND thumbprint = ?",
                        [&](Query& q) { q.bind(thumbprint).bind(jwk).bind(id).bind(old_thumbprint); }, "change_key");
           }) == 1;
  }

  Creation create_order(const AcmeOrder& order, const std::vector<AcmeAuthorization>& fresh, std::int64_t now,
                        int orders_per_hour) override {
    const std::string identifiers = join_identifiers(order.identifiers);
    return static_cast<Creation>(writer_.submit([&](sqlite3* db) -> std::int64_t {
      prune(db, now);
      // The checks newOrder made before, again where no other write can come between.
      {
        StatementPtr stmt = prepare(db, where_, "SELECT count(*) FROM acme_orders WHERE account_id = ? AND created_at >= ?");
        Query q(db, stmt.get());
        q.bind(order.account_id).bind(now - 3600);
        if (q.step(where_, "create_order") && q.integer(0) >= orders_per_hour) {
          return static_cast<std::int64_t>(Creation::over_hourly_limit);
        }
      }
      if (!order.replaces.empty()) {
        StatementPtr stmt = prepare(db, where_, kReplacedQuery);
        Query q(db, stmt.get());
        q.bind(order.replaces).bind(now);
        if (q.step(where_, "create_order")) return static_cast<std::int64_t>(Creation::already_replaced);
      }
      run(db, where_,
          "INSERT INTO acme_orders (id, account_id, status, identifiers, profile, expires, not_before, not_after, "
          "created_at, replaces) VALUES (?, ?, 'pending', ?, ?, ?, nullif(?, -1), nullif(?, -1), ?, nullif(?, ''))",
          [&](Query& q) {
            q.bind(order.id).bind(order.account_id).bind(identifiers).bind(order.profile).bind(order.expires);
            q.bind(order.not_before.value_or(-1)).bind(order.not_after.value_or(-1)).bind(order.created_at);
            q.bind(order.replaces);
          },
          "create_order");
      for (const auto& a : fresh) {
        run(db, where_,
            "INSERT INTO acme_authorizations (id, account_id, type, value, wildcard, status, expires) "
            "VALUES (?, ?, ?, ?, ?, 'pending', ?)",
            [&](Query& q) {
              q.bind(a.id).bind(a.account_id).bind(acme_name(a.identifier.type)).bind(a.identifier.value);
              q.bind(std::int64_t{a.wildcard ? 1 : 0}).bind(a.expires);
            },
            "create_order");
        for (const auto& c : a.challenges) {
          run(db, where_,
              "INSERT INTO acme_challenges (id, authz_id, type, token, status) VALUES (?, ?, ?, ?, 'pending')",
              [&](Query& q) { q.bind(c.id).bind(a.id).bind(acme_name(c.type)).bind(c.token); }, "create_order");
        }
      }
      std::int64_t position = 0;
      for (const auto& authz_id : order.authorization_ids) {
        run(db, where_, "INSERT INTO acme_order_authorizations (order_id, authz_id, position) VALUES (?, ?, ?)",
            [&](Query& q) { q.bind(order.id).bind(authz_id).bind(position++); }, "create_order");
      }
      // An order whose authorizations were all reused is ready at once.
      run(db, where_,
          "UPDATE acme_orders SET status = 'ready' WHERE id = ? AND NOT EXISTS (SELECT 1 FROM "
          "acme_order_authorizations oa JOIN acme_authorizations a ON a.id = oa.authz_id "
          "WHERE oa.order_id = ? AND a.status <> 'valid')",
          [&](Query& q) { q.bind(order.id).bind(order.id); }, "create_order");
      return static_cast<std::int64_t>(Creation::created);
    }));
  }

  std::optional<AcmeOrder> order(const std::string& id) const override {
    auto o = read_one<AcmeOrder>(std::string("SELECT ") + kOrderColumns + " FROM acme_orders WHERE id = ?", id,
                                 read_order);
    if (o) o->authorization_ids = strings("SELECT authz_id FROM acme_order_authorizations WHERE order_id = ? "
                                          "ORDER BY position", id);
    return o;
  }
  std::vector<std::string> order_ids(const std::string& account_id, std::int64_t now, std::size_t offset,
                                     std::size_t limit) const override {
    return rows(
        "SELECT id FROM acme_orders WHERE account_id = ? AND status <> 'invalid' AND NOT (status IN ('pending', "
        "'ready') AND expires <= ?) ORDER BY created_at, rowid LIMIT ? OFFSET ?",
        [&](Query& q) {
          q.bind(account_id).bind(now).bind(static_cast<std::int64_t>(limit)).bind(static_cast<std::int64_t>(offset));
        },
        [](const Query& q) { return q.text(0); });
  }
  std::optional<AcmeOrder> order_for_certificate(const std::string& serial) const override {
    auto o = read_one<AcmeOrder>(std::string("SELECT ") + kOrderColumns +
                                     " FROM acme_orders WHERE certificate_serial = ?",
                                 serial, read_order);
    if (o) o->authorization_ids = strings("SELECT authz_id FROM acme_order_authorizations WHERE order_id = ? "
                                          "ORDER BY position", o->id);
    return o;
  }
  bool replaced(const std::string& cert_id, std::int64_t now) const override {
    return !integers(kReplacedQuery, cert_id, now).empty();
  }
  std::optional<AcmeAuthorization> authorization(const std::string& id) const override {
    auto a = read_one<AcmeAuthorization>(std::string("SELECT ") + kAuthzColumns +
                                             " FROM acme_authorizations WHERE id = ?",
                                         id, read_authz);
    if (a) a->challenges = challenges_of(a->id);
    return a;
  }
  std::optional<AcmeAuthorization> reusable_authorization(const std::string& account_id,
                                                          const AcmeIdentifier& identifier, bool wildcard,
                                                          std::int64_t now) const override {
    sqlite::ReaderPool::Lease db(readers_);
    StatementPtr stmt = prepare(db.get(), where_,
                                std::string("SELECT ") + kAuthzColumns +
                                    " FROM acme_authorizations WHERE account_id = ? AND type = ? AND value = ? AND "
                                    "wildcard = ? AND status = 'valid' AND expires > ? ORDER BY expires DESC LIMIT 1");
    Query q(db.get(), stmt.get());
    q.bind(account_id).bind(acme_name(identifier.type)).bind(identifier.value);
    q.bind(std::int64_t{wildcard ? 1 : 0}).bind(now);
    if (!q.step(where_, "reusable_authorization")) return std::nullopt;
    auto a = read_authz(q);
    a.challenges = challenges_of(a.id);
    return a;
  }
  std::optional<AcmeChallenge> challenge(const std::string& id) const override {
    return read_one<AcmeChallenge>(std::string("SELECT ") + kChallengeColumns + " FROM acme_challenges WHERE id = ?",
                                   id, read_challenge);
  }

  bool start_challenge(const std::string& challenge_id, std::int64_t now) override {
    return writer_.submit([&](sqlite3* db) -> std::int64_t {
             return run(db, where_,
                        "UPDATE acme_challenges SET status = 'processing' WHERE id = ? AND status = 'pending' AND "
                        "EXISTS (SELECT 1 FROM acme_authorizations a WHERE a.id = acme_challenges.authz_id AND "
                        "a.status = 'pending' AND a.expires > ?) AND NOT EXISTS (SELECT 1 FROM acme_challenges c "
                        "WHERE c.authz_id = acme_challenges.authz_id AND c.status = 'processing')",
                        [&](Query& q) { q.bind(challenge_id).bind(now); }, "start_challenge");
           }) == 1;
  }

  AcmeChallengeOutcome finish_challenge(const std::string& challenge_id, bool valid, const std::string& error,
                                        std::int64_t now) override {
    const std::string status = valid ? "valid" : "invalid";
    const bool applied = writer_.submit([&](sqlite3* db) -> std::int64_t {
                           const int changed = run(
                               db, where_,
                               "UPDATE acme_challenges SET status = ?, validated = ?, error = nullif(?, '') "
                               "WHERE id = ? AND status = 'processing'",
                               [&](Query& q) { q.bind(status).bind(now).bind(error).bind(challenge_id); },
                               "finish_challenge");
                           if (changed == 0) return 0;
                           run(db, where_,
                               "UPDATE acme_authorizations SET status = ? WHERE status = 'pending' AND id = "
                               "(SELECT authz_id FROM acme_challenges WHERE id = ?)",
                               [&](Query& q) { q.bind(status).bind(challenge_id); }, "finish_challenge");
                           if (valid) {
                             run(db, where_,
                                 "UPDATE acme_orders SET status = 'ready' WHERE status = 'pending' AND id IN (SELECT "
                                 "oa.order_id FROM acme_order_authorizations oa JOIN acme_challenges c ON "
                                 "c.authz_id = oa.authz_id WHERE c.id = ?) AND NOT EXISTS (SELECT 1 FROM "
                                 "acme_order_authorizations oa JOIN acme_authorizations a ON a.id = oa.authz_id "
                                 "WHERE oa.order_id = acme_orders.id AND a.status <> 'valid')",
                                 [&](Query& q) { q.bind(challenge_id); }, "finish_challenge");
                           } else {
                             run(db, where_,
                                 "UPDATE acme_orders SET status = 'invalid', error = ? WHERE status = 'pending' AND "
                                 "id IN (SELECT oa.order_id FROM acme_order_authorizations oa JOIN acme_challenges c "
                                 "ON c.authz_id = oa.authz_id WHERE c.id = ?)",
                                 [&](Query& q) { q.bind(error).bind(challenge_id); }, "finish_challenge");
                           }
                           return 1;
                         }) == 1;
    return {applied};
  }

  bool begin_finalize(const std::string& order_id, std::int64_t now) override {
    return writer_.submit([&](sqlite3* db) -> std::int64_t {
             return run(db, where_,
                        "UPDATE acme_orders SET status = 'processing' WHERE id = ? AND status = 'ready' AND expires > ? "
                        "AND NOT EXISTS (SELECT 1 FROM acme_order_authorizations oa JOIN acme_authorizations a ON "
                        "a.id = oa.authz_id WHERE oa.order_id = ? AND (a.status <> 'valid' OR a.expires <= ?))",
                        [&](Query& q) { q.bind(order_id).bind(now).bind(order_id).bind(now); }, "begin_finalize");
           }) == 1;
  }
  void reopen_order(const std::string& order_id) override {
    writer_.submit([&](sqlite3* db) -> std::int64_t {
      return run(db, where_, "UPDATE acme_orders SET status = 'ready' WHERE id = ? AND status = 'processing'",
                 [&](Query& q) { q.bind(order_id); }, "reopen_order");
    });
  }
  void finish_order(const std::string& order_id, const std::string& serial) override {
    if (!is_lower_hex(serial)) throw std::invalid_argument("ledger: finish_order: serial must be lowercase hex");
    writer_.submit([&](sqlite3* db) -> std::int64_t {
      if (run(db, where_,
              "UPDATE acme_orders SET status = 'valid', certificate_serial = ? WHERE id = ? AND status = 'processing'",
              [&](Query& q) { q.bind(serial).bind(order_id); }, "finish_order") != 1) {
        throw LedgerError(where_ + ": finish_order: order " + order_id + " is not processing");
      }
      return 0;
    });
  }
  void fail_order(const std::string& order_id, const std::string& error) override {
    writer_.submit([&](sqlite3* db) -> std::int64_t {
      return run(db, where_,
                 "UPDATE acme_orders SET status = 'invalid', error = ? WHERE id = ? AND status = 'processing'",
                 [&](Query& q) { q.bind(error).bind(order_id); }, "fail_order");
    });
  }

  std::vector<std::int64_t> order_times(const std::string& account_id, std::int64_t since) const override {
    return integers("SELECT created_at FROM acme_orders WHERE account_id = ? AND created_at >= ? ORDER BY created_at",
                    account_id, since);
  }
  std::vector<std::int64_t> failed_validation_times(const std::string& account_id,
                                                    std::int64_t since) const override {
    return integers("SELECT c.validated FROM acme_challenges c JOIN acme_authorizations a ON a.id = c.authz_id "
                    "WHERE a.account_id = ? AND c.status = 'invalid' AND c.validated >= ? ORDER BY c.validated",
                    account_id, since);
  }

  void add_eab_key(const AcmeEabKey& key) override {
    writer_.submit([&](sqlite3* db) -> std::int64_t {
      return run(db, where_, "INSERT INTO acme_eab_keys (kid, label, hmac_key, created_at) VALUES (?, ?, ?, ?)",
                 [&](Query& q) { q.bind(key.kid).bind(key.label).bind_blob(key.hmac_key).bind(key.created_at); },
                 "add_eab_key");
    });
  }
  std::vector<AcmeEabKey> eab_keys() const override {
    sqlite::ReaderPool::Lease db(readers_);
    StatementPtr stmt = prepare(db.get(), where_,
                                "SELECT k.kid, k.label, k.created_at, k.revoked_at, coalesce(a.id, '') FROM "
                                "acme_eab_keys k LEFT JOIN acme_accounts a ON a.eab_kid = k.kid ORDER BY k.created_at, "
                                "k.rowid");
    Query q(db.get(), stmt.get());
    std::vector<AcmeEabKey> out;
    while (q.step(where_, "eab_keys")) {
      AcmeEabKey k;
      k.kid = q.text(0);
      k.label = q.text(1);
      k.created_at = q.integer(2);
      k.revoked_at = q.optional_integer(3);
      k.account_id = q.text(4);
      out.push_back(std::move(k));
    }
    return out;
  }
  std::optional<AcmeEabKey> eab_key(const std::string& kid) const override {
    sqlite::ReaderPool::Lease db(readers_);
    StatementPtr stmt = prepare(db.get(), where_,
                                "SELECT kid, label, hmac_key, created_at FROM acme_eab_keys WHERE kid = ? AND "
                                "revoked_at IS NULL");
    Query q(db.get(), stmt.get());
    q.bind(kid);
    if (!q.step(where_, "eab_key")) return std::nullopt;
    AcmeEabKey k;
    k.kid = q.text(0);
    k.label = q.text(1);
    k.hmac_key = q.blob(2);
    k.created_at = q.integer(3);
    return k;
  }
  bool revoke_eab_key(const std::string& kid, std::int64_t now) override {
    return writer_.submit([&](sqlite3* db) -> std::int64_t {
             {
               StatementPtr stmt = prepare(db, where_, "SELECT 1 FROM acme_eab_keys WHERE kid = ?");
               Query q(db, stmt.get());
               q.bind(kid);
               if (!q.step(where_, "revoke_eab_key")) return 0;
             }
             run(db, where_, "UPDATE acme_eab_keys SET revoked_at = ? WHERE kid = ? AND revoked_at IS NULL",
                 [&](Query& q) { q.bind(now).bind(kid); }, "revoke_eab_key");
             return 1;
           }) == 1;
  }

 private:
  // Orders past their expiry that never became valid, and the authorizations
  // (with their challenges) that no remaining order needs once expired.
  // Valid orders stay: they say which account ordered a certificate.
  void prune(sqlite3* db, std::int64_t now) {
    // Never a processing order: its certificate may be being signed, and
    // finish_order must find the order to link it.
    run(db, where_, "DELETE FROM acme_orders WHERE expires <= ? AND status IN ('pending', 'ready', 'invalid')",
        [&](Query& q) { q.bind(now); }, "prune");
    run(db, where_,
        "DELETE FROM acme_challenges WHERE authz_id IN (SELECT id FROM acme_authorizations a WHERE a.expires <= ? "
        "AND NOT EXISTS (SELECT 1 FROM acme_order_authorizations oa WHERE oa.authz_id = a.id))",
        [&](Query& q) { q.bind(now); }, "prune");
    run(db, where_,
        "DELETE FROM acme_authorizations WHERE expires <= ? AND NOT EXISTS (SELECT 1 FROM acme_order_authorizations "
        "oa WHERE oa.authz_id = acme_authorizations.id)",
        [&](Query& q) { q.bind(now); }, "prune");
  }

  template <typename T>
  std::optional<T> read_one(const std::string& sql, const std::string& key, T (*read)(const Query&)) const {
    sqlite::ReaderPool::Lease db(readers_);
    StatementPtr stmt = prepare(db.get(), where_, sql);
    Query q(db.get(), stmt.get());
    q.bind(key);
    if (!q.step(where_, "acme read")) return std::nullopt;
    return read(q);
  }
  // Every row `sql` gives on a reader, with its parameters bound by `bind`
  // and each row read by `read`.
  template <typename Bind, typename Read>
  std::vector<std::invoke_result_t<Read&, const Query&>> rows(const char* sql, Bind&& bind, Read&& read) const {
    sqlite::ReaderPool::Lease db(readers_);
    StatementPtr stmt = prepare(db.get(), where_, sql);
    Query q(db.get(), stmt.get());
    bind(q);
    std::vector<std::invoke_result_t<Read&, const Query&>> out;
    while (q.step(where_, "acme read")) out.push_back(read(q));
    return out;
  }
  std::vector<std::string> strings(const char* sql, const std::string& key) const {
    return rows(sql, [&](Query& q) { q.bind(key); }, [](const Query& q) { return q.text(0); });
  }
  std::vector<std::int64_t> integers(const char* sql, const std::string& key, std::int64_t since) const {
    return rows(sql, [&](Query& q) { q.bind(key).bind(since); }, [](const Query& q) { return q.integer(0); });
  }
  std::vector<AcmeChallenge> challenges_of(const std::string& authz_id) const {
    sqlite::ReaderPool::Lease db(readers_);
    StatementPtr stmt = prepare(db.get(), where_,
                                std::string("SELECT ") + kChallengeColumns +
                                    " FROM acme_challenges WHERE authz_id = ? ORDER BY rowid");
    Query q(db.get(), stmt.get());
    q.bind(authz_id);
    std::vector<AcmeChallenge> out;
    while (q.step(where_, "acme read")) out.push_back(read_challenge(q));
    return out;
  }

  LedgerWriter& writer_;
  sqlite::ReaderPool& readers_;
  std::string where_;
};

}  // namespace

std::unique_ptr<AcmeStore> make_sqlite_acme_store(LedgerWriter& writer, sqlite::ReaderPool& readers,
                                                  std::string where) {
  return std::make_unique<SqliteAcmeStore>(writer, readers, std::move(where));
}

}  // namespace hsmca::signer
