#include "key_report.hpp"

#include <openssl/pem.h>

#include <sstream>

#include "hsmca/signer/openssl.hpp"
#include "hsmca/signer/token_target.hpp"

namespace hsmca::cli {

using signer::key_uri;

std::string KeyReport::uri() const { return key_uri(token, key.label, key.id).str(); }

std::string KeyReport::spki_sha256() const { return signer::sha256_hex(key.spki_der); }

std::string KeyReport::public_key_pem() const {
  auto pkey = signer::public_key_from_spki(key.spki_der);
  signer::BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), pkey.get()) != 1) throw signer::OpenSslError("PEM_write_bio_PUBKEY");
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

nlohmann::ordered_json KeyReport::json() const {
  const auto& e = key.evidence;
  return {
      {"label", key.label},
      {"id", signer::to_hex(key.id)},
      {"type", key.type},
      {"uri", uri()},
      {"local", e.local},
      {"sensitive", e.sensitive},
      {"always_sensitive", e.always_sensitive},
      {"extractable", e.extractable},
      {"never_extractable", e.never_extractable},
      {"born_in_token", e.born_in_token()},
      {"spki_sha256", spki_sha256()},
      {"public_key_pem", public_key_pem()},
  };
}

std::string KeyReport::text() const {
  const auto& e = key.evidence;
  auto yes = [](bool b) { return b ? "true" : "false"; };
  std::ostringstream out;
  out << "label:             " << key.label << "\n"
      << "id:                " << signer::to_hex(key.id) << "\n"
      << "type:              " << key.type << "\n"
      << "uri:               " << uri() << "\n"
      << "local:             " << yes(e.local) << "\n"
      << "sensitive:         " << yes(e.sensitive) << "\n"
      << "always_sensitive:  " << yes(e.always_sensitive) << "\n"
      << "extractable:       " << yes(e.extractable) << "\n"
      << "never_extractable: " << yes(e.never_extractable) << "\n"
      << "spki_sha256:       " << spki_sha256() << "\n"
      << "verdict:           "
      << (e.born_in_token() ? "generated in the token and can never leave it"
                            : "NOT proven to be generated in the token and non-extractable")
      << "\n";
  return out.str();
}

nlohmann::ordered_json token_json(const token::TokenInfo& t) {
  return {{"label", t.label}, {"serial", t.serial}, {"model", t.model}, {"manufacturer", t.manufacturer}};
}

}  // namespace hsmca::cli
