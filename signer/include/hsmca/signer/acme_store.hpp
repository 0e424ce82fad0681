#pragma once
// ACME's state (RFC 8555 7.1): accounts, orders, authorizations, challenges
// and the External Account Binding keys, kept beside the certificates in the
// ledger so that a second ledger implementation carries them too. Every
// write is durable on return, as for certificates; a state change happens
// only from the state the caller expects (compare and set), so two requests
// racing for one order cannot both move it.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hsmca::signer {

enum class AcmeAccountStatus { valid, deactivated };
enum class AcmeOrderStatus { pending, ready, processing, valid, invalid };
enum class AcmeAuthzStatus { pending, valid, invalid, deactivated, expired };
enum class AcmeChallengeStatus { pending, processing, valid, invalid };
enum class AcmeIdentifierType { dns, ip };
enum class AcmeChallengeType { http01, dns01, tls_alpn01 };

// The RFC's spellings ("valid", "http-01", "dns"), stored as such.
std::string_view acme_name(AcmeAccountStatus s) noexcept;
std::string_view acme_name(AcmeOrderStatus s) noexcept;
std::string_view acme_name(AcmeAuthzStatus s) noexcept;
std::string_view acme_name(AcmeChallengeStatus s) noexcept;
std::string_view acme_name(AcmeIdentifierType t) noexcept;
std::string_view acme_name(AcmeChallengeType t) noexcept;
std::optional<AcmeIdentifierType> parse_acme_identifier_type(std::string_view name) noexcept;
std::optional<AcmeChallengeType> parse_acme_challenge_type(std::string_view name) noexcept;

struct AcmeIdentifier {
  AcmeIdentifierType type = AcmeIdentifierType::dns;
  std::string value;  // canonical: a DNS name lowercase ("*.x" for a wildcard order), an IP as inet_ntop prints it
  bool operator==(const AcmeIdentifier&) const = default;
};

struct AcmeAccount {
  std::string id;
  std::string thumbprint;  // RFC 7638 of the account key: one account per key
  std::string jwk;         // the key's canonical JSON
  AcmeAccountStatus status = AcmeAccountStatus::valid;
  std::vector<std::string> contact{};
  std::string eab_kid{};  // the External Account Binding key it was created with; empty without
  std::int64_t created_at = 0;
};

struct AcmeChallenge {
  std::string id;
  std::string authz_id;
  AcmeChallengeType type = AcmeChallengeType::http01;
  std::string token;
  AcmeChallengeStatus status = AcmeChallengeStatus::pending;
  std::optional<std::int64_t> validated{};  // when the validation finished (ACME shows it once valid)
  std::string error{};  // a problem document (JSON) when invalid
};

struct AcmeAuthorization {
  std::string id;
  std::string account_id;
  AcmeIdentifier identifier;  // without "*." for a wildcard (RFC 8555 7.1.4)
  bool wildcard = false;
  AcmeAuthzStatus status = AcmeAuthzStatus::pending;
  std::int64_t expires = 0;
  std::vector<AcmeChallenge> challenges{};
};

struct AcmeOrder {
  std::string id;
  std::string account_id;
  AcmeOrderStatus status = AcmeOrderStatus::pending;
  std::vector<AcmeIdentifier> identifiers{};
  std::string profile;
  std::int64_t expires = 0;
  std::optional<std::int64_t> not_before{}, not_after{};
  std::string error{};               // a problem document (JSON) when invalid
  std::string certificate_serial{};  // lowercase hex once valid
  std::int64_t created_at = 0;
  std::vector<std::string> authorization_ids{};
  std::string replaces{};  // RFC 9773 5: the certID of the certificate this order replaces; empty: none
};

struct AcmeEabKey {
  std::string kid;
  std::string label;
  std::vector<unsigned char> hmac_key{};  // filled only by AcmeStore::eab_key
  std::int64_t created_at = 0;
  std::optional<std::int64_t> revoked_at{};
  std::string account_id{};  // the account it bound, once used
};

// What finish_challenge came to, for the order(s) waiting on the authorization.
struct AcmeChallengeOutcome {
  bool applied = false;  // false: the challenge was no longer processing (nothing changed)
};

class AcmeStore {
 public:
  virtual ~AcmeStore() = default;

  // Accounts. create_account returns the account stored under the key's
  // thumbprint: the new one, or the one another request created first.
  // std::invalid_argument when the EAB kid is unknown, revoked or already bound.
  virtual AcmeAccount create_account(const AcmeAccount& account) = 0;
  virtual std::optional<AcmeAccount> account(const std::string& id) const = 0;
  virtual std::optional<AcmeAccount> account_by_thumbprint(const std::string& thumbprint) const = 0;
  virtual void update_contact(const std::string& id, const std::vector<std::string>& contact) = 0;
  virtual void deactivate_account(const std::string& id) = 0;
  // Compare and set: the account's key becomes the new one only while it is
  // still `old_thumbprint` (a key change checked against a key rotated away
  // meanwhile changes nothing). false (nothing changed) then, or when another
  // account holds the new key.
  virtual bool change_key(const std::string& id, const std::string& old_thumbprint, const std::string& thumbprint,
                          const std::string& jwk) = 0;

  // An order with its authorizations (new ones are created with their
  // challenges; `reused` ones, valid authorizations of the same account, are
  // only linked), in one transaction. Orders past their expiry that are
  // pending, ready or invalid are pruned first (never a processing one, whose
  // certificate may be being signed), with the authorizations no order needs.
  // The transaction checks, before it writes, that the account created fewer
  // than `orders_per_hour` orders in the hour before `now` and that no other
  // order replaces order.replaces (replaced()): concurrent newOrders of one
  // account cannot both pass either rule. A refused order writes nothing.
  enum class Creation { created, over_hourly_limit, already_replaced };
  virtual Creation create_order(const AcmeOrder& order, const std::vector<AcmeAuthorization>& fresh,
                                std::int64_t now, int orders_per_hour) = 0;
  virtual std::optional<AcmeOrder> order(const std::string& id) const = 0;
  // The account's orders that are not invalid at `now` (RFC 8555 7.1.2.1:
  // neither failed nor expired unfinished), oldest first: at most `limit` of
  // them, after skipping `offset`.
  virtual std::vector<std::string> order_ids(const std::string& account_id, std::int64_t now, std::size_t offset,
                                             std::size_t limit) const = 0;
  virtual std::optional<AcmeOrder> order_for_certificate(const std::string& serial) const = 0;
  // RFC 9773 5: whether an order replaces the certificate `cert_id` names:
  // one that is valid, or still on its way there (not invalid, unexpired).
  virtual bool replaced(const std::string& cert_id, std::int64_t now) const = 0;
  virtual std::optional<AcmeAuthorization> authorization(const std::string& id) const = 0;
  // A valid, unexpired authorization of the account for the identifier (reuse, RFC 8555 7.1.4).
  virtual std::optional<AcmeAuthorization> reusable_authorization(const std::string& account_id,
                                                                  const AcmeIdentifier& identifier, bool wildcard,
                                                                  std::int64_t now) const = 0;
  virtual std::optional<AcmeChallenge> challenge(const std::string& id) const = 0;

  // pending -> processing for the challenge, if its authorization is pending
  // and unexpired; false otherwise (nothing changed).
  virtual bool start_challenge(const std::string& challenge_id, std::int64_t now) = 0;
  // processing -> valid or invalid (with `error`), and the authorization
  // with it; every pending order on that authorization becomes ready (all its
  // authorizations valid) or invalid (with `error`). One transaction.
  virtual AcmeChallengeOutcome finish_challenge(const std::string& challenge_id, bool valid,
                                                const std::string& error, std::int64_t now) = 0;
  // ready -> processing, while the order and every authorization it stands
  // on are unexpired at `now` (RFC 8555 7.1.4: a reused authorization is no
  // proof past its expiry); false otherwise, and nothing changes.
  virtual bool begin_finalize(const std::string& order_id, std::int64_t now) = 0;
  // processing -> ready: the finalize never got to sign (the token was
  // unavailable), so the client may finalize again.
  virtual void reopen_order(const std::string& order_id) = 0;
  // processing -> valid with the certificate's serial, or -> invalid with a problem.
  virtual void finish_order(const std::string& order_id, const std::string& serial) = 0;
  virtual void fail_order(const std::string& order_id, const std::string& error) = 0;

  // Rate limits: what the account did since `since` (unix seconds).
  virtual std::vector<std::int64_t> order_times(const std::string& account_id, std::int64_t since) const = 0;
  virtual std::vector<std::int64_t> failed_validation_times(const std::string& account_id,
                                                            std::int64_t since) const = 0;

  // External Account Binding keys (RFC 8555 7.3.4).
  virtual void add_eab_key(const AcmeEabKey& key) = 0;
  virtual std::vector<AcmeEabKey> eab_keys() const = 0;  // without their HMAC keys
  // The key with its HMAC key, when it exists and is not revoked.
  virtual std::optional<AcmeEabKey> eab_key(const std::string& kid) const = 0;
  // false when no such kid; revoking twice changes nothing.
  virtual bool revoke_eab_key(const std::string& kid, std::int64_t now) = 0;

 protected:
  AcmeStore() = default;
};

// 128 random bits as 32 lowercase hex digits: ids and challenge tokens' entropy.
std::string random_acme_id();

}  // namespace hsmca::signer
