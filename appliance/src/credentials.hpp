#pragma once
// Who a request comes from, and whether the credential it relies on still
// counts: a client certificate of this CA only while the ledger has it issued
// and unrevoked, another CA's only while its CRL (auth.client_crls) says so.
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "exchange.hpp"
#include "hsmca/appliance/auth.hpp"
#include "hsmca/appliance/client_crls.hpp"
#include "hsmca/appliance/password_file.hpp"
#include "hsmca/appliance/rate_limit.hpp"
#include "hsmca/appliance/revocation_watcher.hpp"
#include "hsmca/signer/certificate_authority.hpp"
#include "hsmca/signer/clock.hpp"

namespace hsmca::appliance {

class Credentials final : public CredentialCheck {
 public:
  Credentials(const ApplianceConfig& config, const Authorizer& authorizer, signer::CertificateAuthority& ca,
              RevocationWatcher& revocations, const signer::Clock& clock);

  // The identity the request claims: a bearer token, else a client
  // certificate that chained to auth.client_ca. Kind none otherwise.
  Identity identify(const RequestContext& ctx) const;
  // Why a client certificate the request relies on no longer counts (revoked,
  // or claiming to be this CA's without being in its ledger); empty when it
  // counts. Cached per certificate while the revocation version stands.
  std::string shut_out(const RequestContext& ctx, const Identity& identity) override;
  bool takes_passwords() const override { return !passwords_.empty(); }

  // HTTP Basic (RFC 7617) as the request carries it.
  struct Password {
    std::string user;
    std::string password;
    ~Password();  // wipes the password
  };
  // nullopt when the request has no Basic credentials; a Password with an
  // empty user when they do not decode.
  static std::optional<Password> basic(const RequestContext& ctx);
  // 0, having taken one attempt from the address's allowance of failures;
  // otherwise the seconds it must wait. Every check_password needs one.
  std::int64_t begin_password(const RequestContext& ctx);
  // Checks the password (slow by design: on a worker). A success gives the
  // attempt back; a failure gives an identity of kind none.
  Identity check_password(const RequestContext& ctx, const Password& password);
  // The attempt taken was never checked (no worker could take it).
  void abandon_password(const RequestContext& ctx);

 private:
  const Authorizer& authorizer_;
  signer::CertificateAuthority& ca_;
  RevocationWatcher& revocations_;
  const signer::Clock& clock_;
  ClientCrls client_crls_;  // appliance.auth.client_crls: other client CAs' revocations
  PasswordFile passwords_;  // appliance.auth.htpasswd
  FailureLimiter failures_;

  // fingerprint -> why it no longer counts ("" when it does), valid at
  // version_ and client_crls_'s generation crls_.
  std::mutex mutex_;
  signer::RevocationVersion version_;                  // guarded by mutex_
  std::uint64_t crls_ = 0;                             // guarded by mutex_
  std::unordered_map<std::string, std::string> seen_;  // guarded by mutex_
};

}  // namespace hsmca::appliance
