#include <openssl/pem.h>
#include <openssl/x509_vfy.h>

#include <iostream>

#include "ceremony_file.hpp"
#include "commands.hpp"
#include "hsmca/signer/certificate_authority.hpp"
#include "hsmca/signer/leaf.hpp"
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

int planned_steps(const std::string& kind, bool writes_public_key) {
  if (kind == "root" || kind == "csr") return 9;
  if (kind == "intermediate") return 11;
  if (kind == "key") return writes_public_key ? 7 : 6;
  return 0;
}

// What `openssl verify -x509_strict -CAfile anchor.pem cert.pem` checks, done in process.
void verify_chain(X509* anchor, X509* cert) {
  X509StorePtr store(X509_STORE_new());
  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!store || !ctx || X509_STORE_add_cert(store.get(), anchor) != 1 ||
      X509_STORE_CTX_init(ctx.get(), store.get(), cert, nullptr) != 1) {
    throw signer::OpenSslError("cannot set up certificate verification");
  }
  X509_STORE_CTX_set_flags(ctx.get(), X509_V_FLAG_X509_STRICT | X509_V_FLAG_CHECK_SS_SIGNATURE);
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
    transcript_.set_planned(planned_steps(outline.kind, outline.public_key));
    transcript_.step("read and check the ceremony file " + file_.string(), [&] {
      spec_ = parse_ceremony(file_, std::chrono::system_clock::now());
      transcript_path_ = spec_.transcript_out;
      return "ceremony: " + spec_.kind;
    });
    transcript_.set_kind(spec_.kind);
    transcript_.set_planned(planned_steps(spec_.kind, !spec_.public_key_out.empty()));

    transcript_.step("check that no output exists yet", [&] {
      for (const auto& out : spec_.outputs()) {
        if (fs::exists(out)) {
          if (out == spec_.transcript_out) transcript_path_.clear();  // never overwrite a record
          throw ConfigError(out.string() + " already exists; hsmca never overwrites a ceremony output");
        }
        if (!fs::is_directory(fs::absolute(out).parent_path())) {
          throw ConfigError("the directory of " + out.string() + " does not exist");
        }
      }
      return std::string();
    });

    if (spec_.issuer) issuer_steps();

    transcript_.step("open the token and log in", [&] {
      pool_ = spec_.target.connect(true);
      auto token = token_json(pool_->token());
      token["library"] = library_json(pool_->module());
      transcript_["token"] = token;
      return "token '" + pool_->token().label + "' serial " + pool_->token().serial;
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

    if (spec_.kind == "root") {
      root_steps();
    } else if (spec_.kind == "intermediate") {
      intermediate_steps();
    } else if (spec_.kind == "csr") {
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
      if (!signer::spki_matches(cert->x509(), description_.spki_der)) {
        throw std::runtime_error("the certificate's public key is not the token key's");
      }
      verify_chain(cert->x509(), cert->x509());
      return std::string("signature valid, public key matches the token's");
    });
    transcript_["certificate"] = certificate_json(spec_.certificate_out, *cert, c.scheme);
    transcript_.step("write the certificate to " + spec_.certificate_out.string(), [&] {
      write_new_file(spec_.certificate_out, cert->pem());
      outputs_written_ = true;
      return "sha256 fingerprint " + cert->sha256_fingerprint();
    });
  }

  // Before any key is made: the issuer's certificate and its key, checked
  // against each other, so a wrong root costs nothing.
  void issuer_steps() {
    const auto& issuer = *spec_.issuer;
    transcript_.step("read the issuer certificate " + issuer.certificate.string(), [&] {
      auto certs = signer::read_certificates(issuer.certificate);
      issuer_cert_ = signer::IssuedCertificate::from_der(signer::to_der(certs.front().get()));
      if (X509_check_ca(issuer_cert_->x509()) == 0) {
        throw ConfigError(issuer.certificate.string() + " is not a CA certificate");
      }
      transcript_["issuer"]["certificate"] = {{"path", issuer.certificate.string()},
                                              {"sha256_fingerprint", issuer_cert_->sha256_fingerprint()},
                                              {"subject", issuer_cert_->subject()},
                                              {"not_after", issuer_cert_->not_after()}};
      return issuer_cert_->subject();
    });
    transcript_.step("open the issuer's token, log in and check its key '" + issuer.key_label + "'", [&] {
      issuer_pool_ = issuer.target.connect(false);
      auto d = issuer_pool_->with_session([&](token::Session& s) {
        return token::describe_key(s, token::find_key_pair(s, issuer.key_label));
      });
      if (!signer::spki_matches(issuer_cert_->x509(), d.spki_der)) {
        throw ConfigError("key '" + issuer.key_label + "' on token '" + issuer_pool_->token().label +
                          "' is not the key of " + issuer.certificate.string());
      }
      auto type = token::key_type_of(d);
      if (!type) throw ConfigError("the issuer key is a " + d.type + " key, which hsmca cannot sign with");
      issuer_scheme_ = issuer.scheme.value_or(token::default_scheme(*type));
      if (!token::scheme_fits(issuer_scheme_, *type)) {
        throw ConfigError("issuer.signature_algorithm " + std::string(token::scheme_name(issuer_scheme_)) +
                          " cannot be used with the issuer's " + d.type + " key");
      }
      issuer_spki_ = d.spki_der;
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
      signer::TokenSigningKey key(*issuer_pool_, spec_.issuer->key_label, issuer_scheme_, issuer_spki_);
      signer::IssuerContext issuer;
      issuer.certificate = issuer_cert_->x509();
      issuer.key = &key;
      sub.emplace(signer::issue_subordinate_ca(issuer, description_.spki_der,
                                               {c.subject, c.not_before, c.not_after, c.path_length}));
      std::string detail = std::string(token::scheme_name(issuer_scheme_)) + ", serial " + sub->certificate.serial_hex();
      if (sub->clamped) detail += "; notAfter clamped to the issuer's (" + issuer_cert_->not_after() + ")";
      return detail;
    });
    const auto& cert = sub->certificate;
    transcript_.step("verify the certificate up to the issuer and against the new key", [&] {
      if (!signer::spki_matches(cert.x509(), description_.spki_der)) {
        throw std::runtime_error("the certificate's public key is not the new token key's");
      }
      verify_chain(issuer_cert_->x509(), cert.x509());
      return std::string("chain valid, public key matches the token's");
    });
    auto record = certificate_json(spec_.certificate_out, cert, issuer_scheme_);
    record["path_length"] = c.path_length;
    record["not_after_clamped_to_issuer"] = sub->clamped;
    transcript_["certificate"] = record;
    transcript_.step("write the certificate to " + spec_.certificate_out.string(), [&] {
      write_new_file(spec_.certificate_out, cert.pem());
      outputs_written_ = true;
      return "sha256 fingerprint " + cert.sha256_fingerprint();
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
  std::unique_ptr<token::SessionPool> pool_;
  std::unique_ptr<token::SessionPool> issuer_pool_;
  std::optional<signer::IssuedCertificate> issuer_cert_;
  token::Bytes issuer_spki_;
  token::SignatureScheme issuer_scheme_ = token::SignatureScheme::ecdsa_sha256;
  std::optional<token::KeyPair> key_;
  token::KeyDescription description_;
  bool key_kept_ = false;
  bool outputs_written_ = false;
};

}  // namespace

int ceremony_run(const std::string& file) { return Ceremony(file).run(); }

}  // namespace hsmca::cli
