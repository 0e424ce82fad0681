#include <openssl/x509_vfy.h>

#include <iostream>

#include "ceremony_file.hpp"
#include "commands.hpp"
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

// What `openssl verify -CAfile root.pem root.pem` checks, done in process.
void verify_self_signed(X509* cert) {
  X509StorePtr store(X509_STORE_new());
  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!store || !ctx || X509_STORE_add_cert(store.get(), cert) != 1 ||
      X509_STORE_CTX_init(ctx.get(), store.get(), cert, nullptr) != 1) {
    throw signer::OpenSslError("cannot set up certificate verification");
  }
  X509_STORE_CTX_set_flags(ctx.get(), X509_V_FLAG_X509_STRICT | X509_V_FLAG_CHECK_SS_SIGNATURE);
  if (X509_verify_cert(ctx.get()) != 1) {
    throw std::runtime_error(std::string("the root certificate does not verify as a trust anchor: ") +
                             X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get())));
  }
}

int planned_steps(const std::string& kind, bool writes_public_key) {
  if (kind == "root") return 9;
  if (kind == "key") return writes_public_key ? 7 : 6;
  return 0;
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
    const bool root = spec_.kind == "root";
    transcript_.set_kind(spec_.kind);
    transcript_.set_planned(planned_steps(spec_.kind, !spec_.public_key_out.empty()));

    transcript_.step("check that no output exists yet", [&] {
      for (const auto& out : {spec_.transcript_out, spec_.certificate_out, spec_.public_key_out}) {
        if (out.empty()) continue;
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

    if (root) {
      root_steps();
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
      verify_self_signed(cert->x509());
      return std::string("signature valid, public key matches the token's");
    });
    transcript_["certificate"] = {
        {"path", spec_.certificate_out.string()},
        {"sha256_fingerprint", cert->sha256_fingerprint()},
        {"serial", cert->serial_hex()},
        {"subject", cert->subject()},
        {"not_before", cert->not_before()},
        {"not_after", cert->not_after()},
        {"signature_algorithm", token::scheme_name(c.scheme)},
        {"pem", cert->pem()},
    };
    transcript_.step("write the certificate to " + spec_.certificate_out.string(), [&] {
      write_new_file(spec_.certificate_out, cert->pem());
      outputs_written_ = true;
      return "sha256 fingerprint " + cert->sha256_fingerprint();
    });
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
  std::optional<token::KeyPair> key_;
  token::KeyDescription description_;
  bool key_kept_ = false;
  bool outputs_written_ = false;
};

}  // namespace

int ceremony_run(const std::string& file) { return Ceremony(file).run(); }

}  // namespace hsmca::cli
