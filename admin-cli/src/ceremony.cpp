#include <openssl/pem.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <sstream>

#include "ceremony_file.hpp"
#include "commands.hpp"
#include "hsmca/signer/certificate_authority.hpp"
#include "hsmca/signer/clock.hpp"
#include "hsmca/signer/crl_succession.hpp"
#include "hsmca/signer/leaf.hpp"
#include "hsmca/signer/ocsp.hpp"
#include "hsmca/signer/revocation.hpp"
#include "hsmca/signer/request.hpp"
#include "hsmca/signer/signing_key.hpp"
#include "key_report.hpp"
#include "hsmca/signer/strict_yaml.hpp"
#include "transcript.hpp"

namespace hsmca::cli {

using signer::ConfigError;
using signer::StrictMap;
namespace fs = std::filesystem;
namespace {

using X509StorePtr = std::unique_ptr<X509_STORE, signer::Free<X509_STORE_free>>;
using X509StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, signer::Free<X509_STORE_CTX_free>>;

std::string missing_evidence(const token::KeyEvidence& e) {
  std::string out;
  auto add = [&](bool bad, const char* what) {
    if (!bad) return;
    if (!out.empty()) out += ", ";
    out += what;
  };
  add(!e.local, "CKA_LOCAL is false");
  add(!e.sensitive, "CKA_SENSITIVE is false");
  add(!e.always_sensitive, "CKA_ALWAYS_SENSITIVE is false");
  add(!e.never_extractable, "CKA_NEVER_EXTRACTABLE is false");
  add(e.extractable, "CKA_EXTRACTABLE is true");
  return out;
}

// 0 when the kind is not known yet (a file that does not parse).
int planned_steps(std::optional<CeremonyKind> kind, bool writes_public_key, bool previous_crl) {
  if (!kind) return 0;
  switch (*kind) {
    case CeremonyKind::root:
    case CeremonyKind::csr: return 9;
    case CeremonyKind::intermediate:
    case CeremonyKind::ocsp_signer: return 11;
    case CeremonyKind::key: return writes_public_key ? 7 : 6;
    case CeremonyKind::crl: return previous_crl ? 9 : 8;
  }
  return 0;
}

// Whether two targets are one token reached the same way: the ceremony then
// logs in once (one PIN entry) and both keys share its sessions.
bool same_token(const TokenTarget& a, const TokenTarget& b) {
  return a.module == b.module && a.selector.label == b.selector.label && a.selector.serial == b.selector.serial &&
         a.pin_source == b.pin_source;
}

std::string read_whole_file(const fs::path& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(what + " " + path.string() + " cannot be read");
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

std::span<const unsigned char> bytes_of(const std::string& s) {
  return {reinterpret_cast<const unsigned char*>(s.data()), s.size()};
}

// What `openssl verify -x509_strict -partial_chain -CAfile anchor.pem cert.pem`
// checks, done in process. Partial chain: the anchor may be an issuing CA (the
// OCSP responder's issuer), trusted here because the ceremony file names it
// and its key in the token signed.
void verify_chain(X509* anchor, X509* cert) {
  X509StorePtr store(X509_STORE_new());
  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!store || !ctx || X509_STORE_add_cert(store.get(), anchor) != 1 ||
      X509_STORE_CTX_init(ctx.get(), store.get(), cert, nullptr) != 1) {
    throw signer::OpenSslError("cannot set up certificate verification");
  }
  X509_STORE_CTX_set_flags(ctx.get(),
                           X509_V_FLAG_X509_STRICT | X509_V_FLAG_CHECK_SS_SIGNATURE | X509_V_FLAG_PARTIAL_CHAIN);
  if (X509_verify_cert(ctx.get()) != 1) {
    throw std::runtime_error(std::string("the certificate does not verify up to its issuer: ") +
                             X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get())));
  }
}

nlohmann::ordered_json certificate_json(const std::filesystem::path& path, const signer::IssuedCertificate& cert,
                                        token::SignatureScheme scheme) {
  return {
      {"path", path.string()},
      {"sha256_fingerprint", cert.sha256_fingerprint()},
      {"serial", cert.serial_hex()},
      {"subject", cert.subject()},
      {"not_before", cert.not_before()},
      {"not_after", cert.not_after()},
      {"signature_algorithm", token::scheme_name(scheme)},
      {"pem", cert.pem()},
  };
}

nlohmann::ordered_json library_json(const token::Module& module) {
  CK_INFO info = module.info();
  auto text = [](const unsigned char* p, std::size_t n) {
    std::string s(reinterpret_cast<const char*>(p), n);
    s.erase(s.find_last_not_of(' ') + 1);
    return s;
  };
  return {{"path", module.path()},
          {"manufacturer", text(info.manufacturerID, sizeof info.manufacturerID)},
          {"description", text(info.libraryDescription, sizeof info.libraryDescription)},
          {"version", std::to_string(info.libraryVersion.major) + "." + std::to_string(info.libraryVersion.minor)}};
}

class Ceremony {
 public:
  explicit Ceremony(const fs::path& file) : file_(file), transcript_(file, 0) {}

  int run() {
    std::string error;
    try {
      steps();
      transcript_.finish(true);
    } catch (const std::exception& e) {
      error = e.what();
      clean_up();
      transcript_.finish(false, error);
    }
    bool recorded = write_transcript();
    if (!error.empty()) {
      std::cerr << "hsmca: ceremony failed: " << error
                << (recorded ? " (transcript: " + transcript_path_.string() + ")" : "") << "\n";
      return 1;
    }
    return recorded ? 0 : 1;
  }

 private:
  void steps() {
    const CeremonyOutline outline = peek_ceremony(file_);
    transcript_path_ = outline.transcript;
    transcript_.set_planned(planned_steps(outline.kind, outline.public_key, outline.previous_crl));
    transcript_.step("read and check the ceremony file " + file_.string(), [&] {
      spec_ = parse_ceremony(file_, std::chrono::system_clock::now());
      transcript_path_ = spec_.transcript_out;
      return "ceremony: " + std::string(ceremony_kind_name(spec_.kind));
    });
    transcript_.set_kind(std::string(ceremony_kind_name(spec_.kind)));
    transcript_.set_planned(planned_steps(spec_.kind, !spec_.public_key_out.empty(), spec_.crl && !spec_.crl->previous.empty()));

    transcript_.step("check that no output exists yet", [&] {
      for (const auto& out : spec_.outputs()) {
        std::error_code ec;
        if (out == spec_.transcript_out && fs::symlink_status(out, ec).type() != fs::file_type::not_found) {
          transcript_path_.clear();  // never overwrite a record, nor write one through a link
        }
        check_new_output(out, "a ceremony output");
        if (!fs::is_directory(fs::absolute(out).parent_path())) {
          throw ConfigError("the directory of " + out.string() + " does not exist");
        }
      }
      return std::string();
    });

    if (spec_.issuer) read_issuer_certificate();
    if (spec_.kind == CeremonyKind::crl) {
      crl_steps();
      return;
    }
    if (spec_.issuer) open_issuer_token();

    transcript_.step("open the token and log in", [&] {
      const bool shared = spec_.issuer && same_token(spec_.target, spec_.issuer->target);
      pool_ = shared ? issuer_pool_ : std::shared_ptr<token::SessionPool>(spec_.target.connect(true));
      auto token = token_json(pool_->token());
      token["library"] = library_json(pool_->module());
      transcript_["token"] = token;
      return "token '" + pool_->token().label + "' serial " + pool_->token().serial +
             (shared ? "; the issuer's token, logged in already" : "");
    });

    transcript_.step("check that the key label '" + spec_.key.label + "' is free", [&] {
      if (pool_->with_session([&](token::Session& s) { return token::key_label_exists(s, spec_.key.label); })) {
        throw ConfigError("a key labelled '" + spec_.key.label + "' already exists on the token");
      }
      return std::string();
    });

    transcript_.step("generate the " + std::string(token::key_type_name(spec_.key.type)) + " key pair '" +
                         spec_.key.label + "' in the token", [&] {
      key_ = pool_->with_session([&](token::Session& s) {
        return token::generate_key_pair(s, spec_.key.label, spec_.key.type);
      });
      return "CKA_ID " + signer::to_hex(key_->id);
    });

    transcript_.step("read back the key's evidence", [&] {
      KeyReport report{pool_->token(), pool_->with_session([&](token::Session& s) { return token::describe_key(s, *key_); })};
      description_ = report.key;
      transcript_["key"] = report.json();
      if (!report.key.evidence.born_in_token()) {
        throw std::runtime_error("the key is not proven to be generated in the token and non-extractable: " +
                                 missing_evidence(report.key.evidence));
      }
      return "local, sensitive, never extractable; spki sha256 " + report.spki_sha256();
    });

    if (spec_.kind == CeremonyKind::root) {
      root_steps();
    } else if (spec_.kind == CeremonyKind::intermediate) {
      intermediate_steps();
    } else if (spec_.kind == CeremonyKind::ocsp_signer) {
      ocsp_signer_steps();
    } else if (spec_.kind == CeremonyKind::csr) {
      csr_steps();
    } else if (!spec_.public_key_out.empty()) {
      transcript_.step("write the public key to " + spec_.public_key_out.string(), [&] {
        write_new_file(spec_.public_key_out, KeyReport{pool_->token(), description_}.public_key_pem());
        outputs_written_ = true;
        return std::string();
      });
    }
    key_kept_ = true;
  }

  void root_steps() {
    std::optional<signer::IssuedCertificate> cert;
    const auto& c = *spec_.certificate;
    transcript_.step("build the root certificate and sign it with the token key", [&] {
      signer::TokenSigningKey key(*pool_, spec_.key.label, c.scheme, description_.spki_der);
      cert.emplace(signer::issue_self_signed_ca(key, {c.subject, c.not_before, c.not_after}));
      return std::string(token::scheme_name(c.scheme)) + ", serial " + cert->serial_hex();
    });
    transcript_.step("verify the certificate with the token's public key", [&] {
      check_certifies_new_key(*cert, cert->x509());
      return std::string("signature valid, public key matches the token's");
    });
    write_certificate(*cert, certificate_json(spec_.certificate_out, *cert, c.scheme));
  }

  // The certificate is of the key the ceremony made, and chains to `anchor`.
  void check_certifies_new_key(const signer::IssuedCertificate& cert, X509* anchor) {
    if (!signer::spki_matches(cert.x509(), description_.spki_der)) {
      throw std::runtime_error("the certificate's public key is not the new token key's");
    }
    verify_chain(anchor, cert.x509());
  }

  // What a step that signed with the issuer's key reports.
  std::string signed_by_issuer_detail(const signer::IssuedCertificate& cert, bool clamped) const {
    std::string detail = std::string(token::scheme_name(issuer_key_->scheme())) + ", serial " + cert.serial_hex();
    if (clamped) detail += "; notAfter clamped to the issuer's (" + issuer_cert_->not_after() + ")";
    return detail;
  }

  // The certificate's transcript record, then the file, never overwriting one.
  void write_certificate(const signer::IssuedCertificate& cert, nlohmann::ordered_json record) {
    transcript_["certificate"] = std::move(record);
    transcript_.step("write the certificate to " + spec_.certificate_out.string(), [&] {
      write_new_file(spec_.certificate_out, cert.pem());
      outputs_written_ = true;
      return "sha256 fingerprint " + cert.sha256_fingerprint();
    });
  }

  // The issuer's key in its token (open_issuer_token found and checked it), as
  // what signs for the issuer certificate.
  template <typename Sign>
  auto sign_as_issuer(Sign&& sign) {
    signer::IssuerContext issuer;
    issuer.certificate = issuer_cert_->x509();
    issuer.key = issuer_key_.get();
    return sign(issuer);
  }

  // Before any key is made: the issuer's certificate and its key, checked
  // against each other, so a wrong root costs nothing.
  void read_issuer_certificate() {
    const auto& issuer = *spec_.issuer;
    transcript_.step("read the issuer certificate " + issuer.certificate.string(), [&] {
      auto certs = signer::read_certificates(issuer.certificate);
      issuer_cert_ = signer::IssuedCertificate::from_der(signer::to_der(certs.front().get()));
      if (X509_check_ca(issuer_cert_->x509()) == 0) {
        throw ConfigError(issuer.certificate.string() + " is not a CA certificate");
      }
      // RFC 5280 4.2.1.3: a CRL issuer's keyUsage, when present, asserts cRLSign.
      if (spec_.kind == CeremonyKind::crl && (X509_get_extension_flags(issuer_cert_->x509()) & EXFLAG_KUSAGE) != 0 &&
          (X509_get_key_usage(issuer_cert_->x509()) & KU_CRL_SIGN) == 0) {
        throw ConfigError(issuer.certificate.string() + " does not allow its key to sign CRLs (no cRLSign)");
      }
      transcript_["issuer"]["certificate"] = {{"path", issuer.certificate.string()},
                                              {"sha256_fingerprint", issuer_cert_->sha256_fingerprint()},
                                              {"subject", issuer_cert_->subject()},
                                              {"not_after", issuer_cert_->not_after()}};
      return issuer_cert_->subject();
    });
  }

  void open_issuer_token() {
    const auto& issuer = *spec_.issuer;
    transcript_.step("open the issuer's token, log in and check its key '" + issuer.key_label + "'", [&] {
      // Read-write when the new key is generated on the same token.
      const bool shared = spec_.kind != CeremonyKind::crl && same_token(spec_.target, issuer.target);
      issuer_pool_ = issuer.target.connect(shared);
      auto [key, d] = signer::open_token_key(*issuer_pool_, issuer.key_label, issuer_cert_->x509(),
                                             issuer.certificate, issuer.scheme, "issuer");
      issuer_key_ = std::move(key);
      auto token = token_json(issuer_pool_->token());
      token["library"] = library_json(issuer_pool_->module());
      transcript_["issuer"]["token"] = token;
      transcript_["issuer"]["key"] = KeyReport{issuer_pool_->token(), d}.json();
      return "token '" + issuer_pool_->token().label + "', " + d.type + " key matches the certificate";
    });
  }

  void intermediate_steps() {
    const auto& c = *spec_.certificate;
    std::optional<signer::SubordinateCertificate> sub;
    transcript_.step("build the intermediate certificate and sign it with the issuer's key", [&] {
      sub.emplace(sign_as_issuer([&](signer::IssuerContext issuer) {
        issuer.crl_url = spec_.issuer->crl_url;
        issuer.issuer_url = spec_.issuer->issuer_url;
        return signer::issue_subordinate_ca(issuer, description_.spki_der,
                                            {c.subject, c.not_before, c.not_after, c.path_length});
      }));
      return signed_by_issuer_detail(sub->certificate, sub->clamped);
    });
    const auto& cert = sub->certificate;
    transcript_.step("verify the certificate up to the issuer and against the new key", [&] {
      check_certifies_new_key(cert, issuer_cert_->x509());
      return std::string("chain valid, public key matches the token's");
    });
    auto record = certificate_json(spec_.certificate_out, cert, issuer_key_->scheme());
    record["path_length"] = c.path_length;
    record["not_after_clamped_to_issuer"] = sub->clamped;
    write_certificate(cert, std::move(record));
  }

  void ocsp_signer_steps() {
    const auto& c = *spec_.certificate;
    std::optional<signer::OcspResponderCertificate> responder;
    transcript_.step("build the OCSP responder certificate and sign it with the issuer's key", [&] {
      responder.emplace(sign_as_issuer([&](const signer::IssuerContext& issuer) {
        return signer::issue_ocsp_responder(issuer, description_.spki_der, {c.subject, c.not_before, c.not_after});
      }));
      return signed_by_issuer_detail(responder->certificate, responder->clamped);
    });
    const auto& cert = responder->certificate;
    transcript_.step("verify the certificate up to the issuer and as its delegated OCSP responder", [&] {
      check_certifies_new_key(cert, issuer_cert_->x509());
      // The check the responder itself makes when it is handed this certificate
      // (RFC 6960 4.2.2.2: issued directly by the CA, id-kp-OCSPSigning).
      signer::TokenSigningKey responder_key(*pool_, spec_.key.label, token::default_scheme(spec_.key.type),
                                            description_.spki_der);
      signer::IssuerContext issuer;
      issuer.certificate = issuer_cert_->x509();
      issuer.key = &responder_key;
      try {
        signer::OcspResponder check(issuer, responder_key, cert.x509());
      } catch (const std::invalid_argument& e) {
        throw std::runtime_error(std::string("the certificate is no delegated OCSP responder: ") + e.what());
      }
      return std::string("chain valid, id-kp-OCSPSigning and ocsp-nocheck, public key matches the token's");
    });
    auto record = certificate_json(spec_.certificate_out, cert, issuer_key_->scheme());
    record["extended_key_usage"] = nlohmann::ordered_json::array({"OCSPSigning"});
    record["ocsp_nocheck"] = true;
    record["not_after_clamped_to_issuer"] = responder->clamped;
    write_certificate(cert, std::move(record));
  }

  // The offline root's periodic duty: a CRL of the certificates it revoked,
  // signed by its key in its token. Everything that can be checked without
  // the token — the previous CRL, the certificates to revoke — is checked
  // before the token is opened.
  void crl_steps() {
    const auto& c = *spec_.crl;
    X509* issuer = issuer_cert_->x509();
    std::optional<signer::CrlContents> previous;
    if (!c.previous.empty()) {
      transcript_.step("read the previous CRL " + c.previous.string(), [&] {
        const std::string bytes = read_whole_file(c.previous, "crl.previous");
        try {
          previous.emplace(signer::read_crl(bytes_of(bytes), issuer));
        } catch (const std::invalid_argument& e) {
          throw ConfigError("crl.previous " + c.previous.string() + ": " + e.what() +
                            "; give the last CRL signed by " + issuer_cert_->subject());
        }
        // Serials as crl.revoked spells them, so the two lists compare.
        for (auto& e : previous->entries) e.serial_hex = canonical_serial(e.serial_hex);
        if (auto problem = signer::crl_succession_problem(*previous, c.previous.string(), c.number,
                                                          signer::unix_seconds(c.this_update), std::nullopt)) {
          throw ConfigError(*problem);
        }
        transcript_["previous_crl"] = {{"path", c.previous.string()},
                                       {"sha256", signer::sha256_hex(previous->der)},
                                       {"number", previous->number},
                                       {"this_update", signer::rfc3339(previous->this_update)},
                                       {"revoked", previous->entries.size()}};
        return "CRL number " + std::to_string(previous->number) + " of " + signer::rfc3339(previous->this_update) +
               ", " + std::to_string(previous->entries.size()) + " revoked; " + std::to_string(c.number) +
               " follows it";
      });
    }

    std::vector<signer::RevokedEntry> entries;
    auto entry_records = nlohmann::ordered_json::array();
    transcript_.step("check the certificates to revoke", [&] {
      for (std::size_t i = 0; i < c.revoked.size(); ++i) {
        const auto& e = c.revoked[i];
        const std::string where = "crl.revoked[" + std::to_string(i) + "]";
        std::string serial = e.serial_hex;
        nlohmann::ordered_json record;
        if (!e.certificate.empty()) {
          const auto cert = signer::IssuedCertificate::from_der(
              signer::to_der(signer::read_certificates(e.certificate).front().get()));
          if (cert.der() == issuer_cert_->der()) {
            throw ConfigError(where + ".certificate " + e.certificate.string() +
                              " is the issuer's own certificate, which its CRL cannot revoke");
          }
          if (X509_check_issued(issuer, cert.x509()) != X509_V_OK ||
              X509_verify(cert.x509(), X509_get0_pubkey(issuer)) != 1) {
            signer::drain_openssl_errors();
            throw ConfigError(where + ".certificate " + e.certificate.string() + " (" + cert.subject() +
                              ") is not issued by " + issuer_cert_->subject() +
                              "; a CRL lists only its issuer's certificates");
          }
          serial = canonical_serial(cert.serial_hex());
          record["serial"] = serial;
          record["certificate"] = {{"path", e.certificate.string()},
                                   {"subject", cert.subject()},
                                   {"sha256_fingerprint", cert.sha256_fingerprint()}};
        } else {
          record["serial"] = serial;
        }
        if (std::ranges::any_of(entries, [&](const auto& other) { return other.serial_hex == serial; })) {
          throw ConfigError(where + ": serial " + serial + " is listed twice");
        }
        const auto revoked_at = signer::unix_seconds(e.revoked_at);
        record["revoked_at"] = signer::rfc3339(revoked_at);
        record["reason"] = std::string(signer::reason_name(e.reason));
        entries.push_back({serial, revoked_at, e.reason});
        entry_records.push_back(std::move(record));
      }
      if (previous) {
        if (auto problem = signer::crl_succession_problem(*previous, c.previous.string(), c.number,
                                                          signer::unix_seconds(c.this_update),
                                                          std::span<const signer::RevokedEntry>(entries))) {
          throw ConfigError(*problem);
        }
      }
      if (entries.empty()) return std::string("none: this CRL revokes nothing");
      std::string detail;
      for (const auto& e : entries) {
        detail += (detail.empty() ? "" : ", ") + e.serial_hex + " (" + std::string(signer::reason_name(e.reason)) + ")";
      }
      return detail;
    });

    open_issuer_token();

    std::optional<signer::IssuedCrl> crl;
    transcript_.step("build the CRL and sign it with the issuer's key", [&] {
      crl.emplace(sign_as_issuer([&](const signer::IssuerContext& context) {
        return signer::issue_crl(context, entries, c.number, c.this_update, c.next_update);
      }));
      return std::string(token::scheme_name(issuer_key_->scheme())) + ", CRL number " + std::to_string(crl->number) + ", " +
             std::to_string(crl->entries) + " revoked";
    });

    transcript_.step("verify the CRL under the issuer certificate", [&] {
      signer::CrlContents signed_crl;
      try {
        signed_crl = signer::read_crl(crl->der, issuer);
      } catch (const std::invalid_argument& e) {
        throw std::runtime_error(std::string("the signed CRL does not check out: ") + e.what());
      }
      auto by_serial = [](const signer::RevokedEntry& a, const signer::RevokedEntry& b) {
        return a.serial_hex < b.serial_hex;
      };
      auto asked = entries;
      for (auto& e : signed_crl.entries) e.serial_hex = canonical_serial(e.serial_hex);
      std::ranges::sort(asked, by_serial);
      std::ranges::sort(signed_crl.entries, by_serial);
      const bool same_entries = std::ranges::equal(asked, signed_crl.entries, [](const auto& a, const auto& b) {
        return a.serial_hex == b.serial_hex && a.revoked_at == b.revoked_at && a.reason == b.reason;
      });
      if (signed_crl.number != c.number || signed_crl.this_update != crl->this_update ||
          signed_crl.next_update != crl->next_update || !same_entries) {
        throw std::runtime_error("the signed CRL does not say what the ceremony file asked");
      }
      return std::string("signature valid; number, times and entries as asked");
    });

    transcript_["crl"] = {{"path", spec_.crl_out.string()},
                          {"format", spec_.crl_der ? "der" : "pem"},
                          {"number", crl->number},
                          {"this_update", signer::rfc3339(crl->this_update)},
                          {"next_update", signer::rfc3339(crl->next_update)},
                          {"signature_algorithm", token::scheme_name(issuer_key_->scheme())},
                          {"revoked", entry_records},
                          {"sha256", signer::sha256_hex(crl->der)},
                          {"pem", crl->pem()}};
    transcript_.step("write the CRL to " + spec_.crl_out.string(), [&] {
      write_new_file(spec_.crl_out, spec_.crl_der ? std::string(crl->der.begin(), crl->der.end()) : crl->pem());
      outputs_written_ = true;
      return "sha256 " + signer::sha256_hex(crl->der);
    });
  }

  void csr_steps() {
    const auto& c = *spec_.certificate;
    token::Bytes der;
    transcript_.step("build the certificate request and sign it with the token key", [&] {
      signer::TokenSigningKey key(*pool_, spec_.key.label, c.scheme, description_.spki_der);
      der = signer::make_certificate_request(key, c.subject);
      return std::string(token::scheme_name(c.scheme));
    });
    transcript_.step("verify the request's signature and key", [&] {
      auto parsed = signer::parse_certificate_request(der);
      if (!parsed.ok()) throw std::runtime_error("the request does not check out: " + parsed.rejection().message);
      if (parsed.value().spki_der != description_.spki_der) {
        throw std::runtime_error("the request's public key is not the token key's");
      }
      return std::string("proof of possession valid, public key matches the token's");
    });
    const std::string pem = request_pem(der);
    transcript_["request"] = {{"path", spec_.csr_out.string()},
                              {"sha256", signer::sha256_hex(der)},
                              {"signature_algorithm", token::scheme_name(c.scheme)},
                              {"pem", pem}};
    transcript_.step("write the request to " + spec_.csr_out.string(), [&] {
      write_new_file(spec_.csr_out, pem);
      outputs_written_ = true;
      return "sha256 " + signer::sha256_hex(der);
    });
  }

  static std::string request_pem(const token::Bytes& der) {
    signer::BioPtr bio(BIO_new(BIO_s_mem()));
    if (!bio || PEM_write_bio(bio.get(), PEM_STRING_X509_REQ, "", der.data(), static_cast<long>(der.size())) <= 0) {
      throw signer::OpenSslError("PEM_write_bio");
    }
    char* data = nullptr;
    long len = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(len));
  }

  // A ceremony that failed before its key was used for anything leaves the
  // token as it found it, so the same file can be run again.
  void clean_up() noexcept {
    if (!key_ || key_kept_ || outputs_written_) return;
    try {
      pool_->with_session([&](token::Session& s) { token::destroy_key_pair(s, *key_); });
      transcript_["cleanup"] = "destroyed the key pair '" + key_->label + "' generated by this failed ceremony";
      std::cout << "cleanup: destroyed the key pair '" << key_->label << "' generated by this failed ceremony\n";
    } catch (const std::exception& e) {
      transcript_["cleanup"] = std::string("could not destroy the generated key pair: ") + e.what();
    }
  }

  bool write_transcript() {
    if (transcript_path_.empty()) return false;
    try {
      transcript_.write(transcript_path_);
      std::cout << "transcript: " << transcript_path_.string() << "\n";
      return true;
    } catch (const std::exception& e) {
      std::cerr << "hsmca: " << e.what() << "\n";
      return false;
    }
  }

  fs::path file_;
  CeremonyTranscript transcript_;
  fs::path transcript_path_;
  CeremonySpec spec_;
  // Shared: when the new key and the issuer's are on one token, both are the same pool.
  std::shared_ptr<token::SessionPool> pool_;
  std::shared_ptr<token::SessionPool> issuer_pool_;
  std::optional<signer::IssuedCertificate> issuer_cert_;
  std::unique_ptr<signer::TokenSigningKey> issuer_key_;  // open_issuer_token: checked against issuer_cert_
  std::optional<token::KeyPair> key_;
  token::KeyDescription description_;
  bool key_kept_ = false;
  bool outputs_written_ = false;
};

}  // namespace

int ceremony_run(const std::string& file) { return Ceremony(file).run(); }

}  // namespace hsmca::cli
