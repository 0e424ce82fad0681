#include "hsmca/signer/signing_key.hpp"

#include <utility>

#include "hsmca/signer/certificate.hpp"
#include "hsmca/signer/outcome.hpp"
#include "hsmca/signer/strict_yaml.hpp"
#include "hsmca/token/error.hpp"
#include "hsmca/token/session_pool.hpp"
#include "scheme.hpp"

namespace hsmca::signer {

SigningKey::~SigningKey() = default;

TokenSigningKey::TokenSigningKey(token::SessionPool& pool, std::string key_label,
                                 token::SignatureScheme scheme, Bytes spki)
    : pool_(pool), label_(std::move(key_label)), scheme_(scheme), spki_(std::move(spki)),
      public_key_(public_key_from_spki(spki_)) {
  detail::require_scheme_fits(public_key_.get(), scheme_);
}

Bytes TokenSigningKey::sign(std::span<const unsigned char> message) const {
  try {
    return pool_.sign(label_, scheme_, message);
  } catch (const token::Outage& e) {
    throw TokenUnavailable(e.what(), e.retry_after());
  } catch (const token::Error& e) {
    throw TokenUnavailable(e.what());
  }
}

void TokenSigningKey::check_available() const {
  try {
    pool_.ensure_available();
  } catch (const token::Outage& e) {
    throw TokenUnavailable(e.what(), e.retry_after());
  } catch (const token::Error& e) {
    throw TokenUnavailable(e.what());
  }
}

CheckedTokenKey open_token_key(token::SessionPool& pool, const std::string& label, X509* certificate,
                               const std::filesystem::path& certificate_file,
                               std::optional<token::SignatureScheme> wanted, std::string_view what) {
  auto description =
      pool.with_session([&](token::Session& s) { return token::describe_key(s, token::find_key_pair(s, label)); });
  // The certificate first: the wrong key is the mistake, whatever its type.
  if (!spki_matches(certificate, description.spki_der)) {
    throw ConfigError(certificate_file.string() + " is not the certificate of " + std::string(what) + " key '" +
                      label + "' on token '" + pool.token().label + "'");
  }
  const auto type = token::key_type_of(description);
  if (!type) {
    throw ConfigError(std::string(what) + " key '" + label + "' is a " + description.type +
                      " key, which hsmca cannot sign with");
  }
  const token::SignatureScheme scheme = wanted.value_or(token::default_scheme(*type));
  if (!token::scheme_fits(scheme, *type)) {
    throw ConfigError(std::string(what) + ".signature_algorithm " + std::string(token::scheme_name(scheme)) +
                      " cannot be used with the " + description.type + " key '" + label + "'");
  }
  auto key = std::make_unique<TokenSigningKey>(pool, label, scheme, description.spki_der);
  return {std::move(key), std::move(description)};
}

}  // namespace hsmca::signer
