// hsmca: the administrator's command line. Key ceremonies, token and key
// management; PINs come from the environment, a pin-source file or a prompt,
// never from the command line.
#include <CLI/CLI.hpp>

#include <iostream>

#include "commands.hpp"
#include "hsmca/signer/pin.hpp"
#include "hsmca/token/error.hpp"

namespace {

void add_token_options(CLI::App* cmd, hsmca::cli::TokenOptions& o) {
  cmd->add_option("--module", o.module, "PKCS#11 module (default: HSMCA_MODULE or the URI's module-path)");
  cmd->add_option("--token", o.token, "token label or pkcs11: URI (RFC 7512)")->required();
  cmd->add_option("--serial", o.serial, "token serial, to tell apart tokens with one label");
}

}  // namespace

int main(int argc, char** argv) {
  // Before anything else: HSMCA_PIN may be in the environment from the start.
  hsmca::signer::make_process_undumpable();
  CLI::App app{"hsmca: certificate authority whose keys live in a PKCS#11 token.\n"
               "PINs: HSMCA_PIN (user), HSMCA_SO_PIN (security officer), pin-source=file:PATH in a\n"
               "pkcs11: URI, or a prompt on a terminal. Never on the command line.",
               "hsmca"};
  app.set_version_flag("--version", HSMCA_VERSION);
  app.require_subcommand(1);

  // token init / list
  auto* token_cmd = app.add_subcommand("token", "initialize and list tokens")->require_subcommand(1);
  std::string module, label;
  bool json = false;
  auto* init = token_cmd->add_subcommand("init", "initialize a free token: C_InitToken with HSMCA_SO_PIN, then "
                                                  "C_InitPIN with HSMCA_PIN; prints the serial");
  init->add_option("--module", module, "PKCS#11 module path")->required();
  init->add_option("--label", label, "label of the new token (1-32 characters)")->required();
  auto* list = token_cmd->add_subcommand("list", "list the module's tokens, free slots included");
  list->add_option("--module", module, "PKCS#11 module path")->required();
  list->add_flag("--json", json, "print JSON");

  // key generate / show
  auto* key_cmd = app.add_subcommand("key", "generate and inspect keys in a token")->require_subcommand(1);
  hsmca::cli::TokenOptions target;
  std::string key_label, key_type;
  auto* generate = key_cmd->add_subcommand("generate", "generate a non-extractable key pair in the token; "
                                                         "prints its pkcs11 URI and SPKI SHA-256");
  add_token_options(generate, target);
  generate->add_option("--label", key_label, "label of the new key")->required();
  generate->add_option("--type", key_type, "ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096 or ed25519")->required();
  generate->add_flag("--json", json, "print the key's evidence as JSON");
  auto* show = key_cmd->add_subcommand("show", "show a key's evidence: was it generated in the token, can it leave");
  add_token_options(show, target);
  show->add_option("--label", key_label, "key label")->required();
  show->add_flag("--json", json, "print JSON");

  // ceremony run
  auto* ceremony_cmd = app.add_subcommand("ceremony", "run key ceremonies from declarative files")->require_subcommand(1);
  std::string file;
  auto* run = ceremony_cmd->add_subcommand("run", "run the ceremony a YAML file describes (root, intermediate, "
                                                  "ocsp-signer, csr, key, crl); prints each step and writes a JSON "
                                                  "transcript, also when it fails");
  run->add_option("FILE", file, "ceremony file")->required()->check(CLI::ExistingFile);

  // sign
  hsmca::cli::SignOptions sign_opts;
  int days = 0;
  auto* sign = app.add_subcommand("sign", "issue certificates for CSRs with the CA file's key in its token: "
                                          "openssl x509 -req -CA -CAkey, without the key file");
  sign->add_option("--config", sign_opts.config, "CA file (YAML)")->required()->check(CLI::ExistingFile);
  sign->add_option("--csr", sign_opts.csrs, "PKCS#10 request, PEM or DER (repeat for several)")->required();
  sign->add_option("--profile", sign_opts.profile, "profile from the CA file")->required();
  auto* days_opt = sign->add_option("--days", days, "validity in days, at most the profile's");
  auto* out_opt = sign->add_option("--out", sign_opts.out, "output file (one --csr)");
  auto* out_dir_opt = sign->add_option("--out-dir", sign_opts.out_dir, "output directory: web.csr -> web.crt");
  out_opt->excludes(out_dir_opt);
  sign->add_flag("--chain", sign_opts.chain, "append the issuer chain to each certificate");
  sign->add_flag("--der", sign_opts.der, "write DER instead of PEM");

  // certs list / show
  auto* certs_cmd = app.add_subcommand("certs", "what the ledger holds")->require_subcommand(1);
  std::string config_file, serial;
  auto* certs_list = certs_cmd->add_subcommand("list", "every certificate this CA issued, with its status");
  certs_list->add_option("--config", config_file, "CA file (YAML)")->required()->check(CLI::ExistingFile);
  certs_list->add_flag("--json", json, "print JSON");
  auto* certs_show = certs_cmd->add_subcommand("show", "one certificate with its PEM");
  certs_show->add_option("--config", config_file, "CA file (YAML)")->required()->check(CLI::ExistingFile);
  certs_show->add_option("SERIAL", serial, "serial number in hex (colons allowed)")->required();
  certs_show->add_flag("--json", json, "print JSON");

  // revoke / crl
  std::string reason;
  auto* revoke = app.add_subcommand("revoke", "revoke an issued certificate in the ledger (no token needed): "
                                              "openssl ca -revoke -crl_reason");
  revoke->add_option("--config", config_file, "CA file (YAML)")->required()->check(CLI::ExistingFile);
  revoke->add_option("--serial", serial, "serial number in hex (colons allowed)")->required();
  revoke->add_option("--reason", reason,
                     "RFC 5280 reason: unspecified, keyCompromise, cACompromise, affiliationChanged, superseded, "
                     "cessationOfOperation, privilegeWithdrawn")
      ->required();
  std::string crl_out;
  bool crl_der = false;
  auto* crl = app.add_subcommand("crl", "sign a full CRL of the revoked certificates with the CA file's key in its "
                                        "token: openssl ca -gencrl; replaces --out atomically");
  crl->add_option("--config", config_file, "CA file (YAML)")->required()->check(CLI::ExistingFile);
  crl->add_option("--out", crl_out, "output file, replaced when it exists")->required();
  crl->add_flag("--der", crl_der, "write DER instead of PEM");

  // acme eab add / list / revoke
  auto* acme_cmd = app.add_subcommand("acme", "the ACME server's external account binding keys")->require_subcommand(1);
  auto* eab_cmd = acme_cmd->add_subcommand("eab", "external account binding keys (RFC 8555 7.3.4) in the ledger")
                      ->require_subcommand(1);
  std::string eab_label, eab_kid;
  auto* eab_add = eab_cmd->add_subcommand("add", "make a key id and HMAC key for one ACME account; the HMAC key is "
                                                 "printed once and never again");
  eab_add->add_option("--config", config_file, "CA file (YAML)")->required()->check(CLI::ExistingFile);
  eab_add->add_option("--label", eab_label, "who the key is for (shown by list)")->required();
  eab_add->add_flag("--json", json, "print {\"kid\", \"hmac_key\", \"label\"}");
  auto* eab_list = eab_cmd->add_subcommand("list", "the keys with their status (unused, bound, revoked); never the "
                                                   "HMAC keys");
  eab_list->add_option("--config", config_file, "CA file (YAML)")->required()->check(CLI::ExistingFile);
  eab_list->add_flag("--json", json, "print JSON");
  auto* eab_revoke = eab_cmd->add_subcommand("revoke", "revoke a key: no new account can bind with it (an account "
                                                       "it already bound stays)");
  eab_revoke->add_option("--config", config_file, "CA file (YAML)")->required()->check(CLI::ExistingFile);
  eab_revoke->add_option("KID", eab_kid, "the key id")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  try {
    if (init->parsed()) return hsmca::cli::token_init(module, label);
    if (list->parsed()) return hsmca::cli::token_list(module, json);
    if (generate->parsed()) return hsmca::cli::key_generate(target, key_label, key_type, json);
    if (show->parsed()) return hsmca::cli::key_show(target, key_label, json);
    if (run->parsed()) return hsmca::cli::ceremony_run(file);
    if (sign->parsed()) {
      if (days_opt->count() > 0) sign_opts.days = days;
      return hsmca::cli::sign(sign_opts);
    }
    if (certs_list->parsed()) return hsmca::cli::certs_list(config_file, json);
    if (certs_show->parsed()) return hsmca::cli::certs_show(config_file, serial, json);
    if (revoke->parsed()) return hsmca::cli::revoke(config_file, serial, reason);
    if (crl->parsed()) return hsmca::cli::crl(config_file, crl_out, crl_der);
    if (eab_add->parsed()) return hsmca::cli::acme_eab_add(config_file, eab_label, json);
    if (eab_list->parsed()) return hsmca::cli::acme_eab_list(config_file, json);
    if (eab_revoke->parsed()) return hsmca::cli::acme_eab_revoke(config_file, eab_kid);
  } catch (const std::exception& e) {
    std::cerr << "hsmca: error: " << e.what() << "\n";
    return 1;
  }
  return 2;
}
