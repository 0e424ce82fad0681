#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "hsmca/signer/ca_config.hpp"

namespace hsmca::appliance {

struct Endpoint {
  std::string host;        // an IP address: "127.0.0.1", "::1" (no brackets), "0.0.0.0"
  std::uint16_t port = 0;  // 0: the kernel chooses (printed at start-up)
};

// appliance.acme: the ACME server (RFC 8555) on the HTTPS listener. Absent: no ACME.
struct AcmeConfig {
  std::string profile;                  // the profile an order naming none is issued under; must list acme
  // The profiles an order may name (draft-aaron-acme-profiles); each must
  // list acme among its requesters. Default: {profile}.
  std::vector<std::string> profiles;
  std::vector<std::string> client_certificates;  // those of `profiles` that give client_auth
  bool external_account_binding = true; // newAccount needs an EAB from `hsmca acme eab add`
  std::string dns_server;               // validation resolver "127.0.0.1:5353"; empty: /etc/resolv.conf's
  std::uint16_t http_port = 80;         // where http-01 is fetched
  std::uint16_t tls_port = 443;         // where tls-alpn-01 connects
  std::chrono::milliseconds validation_timeout{10'000};
  int order_lifetime_hours = 24;
  int authorization_reuse_hours = 24;
  std::vector<std::string> caa_identities;  // empty: CAA not checked
  int orders_per_hour = 300;                // per account
  int failed_validations_per_hour = 60;     // per account
  int new_accounts_per_hour = 20;           // per client address, when external_account_binding is off
  std::size_t validation_threads = 8;       // validations at once (bench: 2 was the bottleneck at 32 orders in flight)
  std::size_t validation_queue = 64;        // waiting validations; beyond: rateLimited
};

// The CA file's `appliance` block, parsed as strictly as the rest:
//   listen, public_listen, tls {certificate, key}, auth {client_ca, roles,
//   tokens_file, htpasswd, client_crls}, default_profile, and optional
//   root_crl and limits.
struct ApplianceConfig {
  Endpoint listen;                        // HTTPS: enrollment and administration
  Endpoint public_listen;                 // plain HTTP: health, metrics, CA certificates
  std::filesystem::path tls_certificate;  // server certificate followed by its chain (PEM)
  std::filesystem::path tls_key;          // PEM private key file
  // TLS 1.2 cipher suites (OpenSSL cipher list): AEAD with forward secrecy
  // only. TLS 1.3's suites are all AEAD with forward secrecy already.
  std::string tls_ciphers = "ECDHE+AESGCM:ECDHE+CHACHA20";
  std::filesystem::path client_ca;        // empty: no client certificates accepted
  // CRLs of the other CAs in client_ca (this CA's certificates are checked
  // against the ledger); each must be issued by a client_ca certificate.
  std::vector<std::filesystem::path> client_crls;
  // "enroll"/"admin" -> "sha256:PIN", "*" (any valid client certificate),
  // "user:NAME" (an htpasswd user) or a CN
  std::map<std::string, std::vector<std::string>> roles;
  std::filesystem::path tokens_file;      // empty: no bearer tokens
  // Apache htpasswd file (htpasswd -B) for HTTP Basic on the HTTPS listener
  // (EST bootstrap, RFC 7030 3.2.3); empty: no passwords.
  std::filesystem::path htpasswd;
  std::string default_profile;            // must name a profile of the CA file
  // The CRL the root signs offline (`ceremony: crl`), served as GET /root.crl
  // for relying parties that check the whole chain. Empty: not served.
  std::filesystem::path root_crl;
  std::optional<AcmeConfig> acme;         // appliance.acme

  // limits (all optional in the file, under `limits:`)
  std::size_t max_connections = 1024;            // per listener
  std::size_t max_connections_per_address = 64;  // per listener and client address
  std::size_t body_limit = 64 * 1024;
  std::size_t header_limit = 8 * 1024;
  std::chrono::milliseconds handshake_timeout{10'000};
  std::chrono::milliseconds read_timeout{30'000};   // a request's headers and body
  std::chrono::milliseconds idle_timeout{60'000};   // between keep-alive requests
  std::chrono::milliseconds write_timeout{30'000};
  std::chrono::milliseconds shutdown_grace{10'000};  // in-flight issuances get this long on SIGTERM
  std::size_t io_threads = 2;
  std::size_t workers = 0;       // 0 in the file: 4 x the token session pool (workers mostly wait for the ledger's commits)
  std::size_t queue_limit = 0;   // 0 in the file: 8 x workers; beyond it requests get 503 + Retry-After

  // Reads `ca.appliance`; relative paths are relative to the CA file and come
  // back absolute. workers and queue_limit come back resolved (never 0).
  // signer::ConfigError naming the key on any problem (no appliance block, an
  // unknown key, a missing file, a TLS key or tokens file that others may
  // read or group or others may write, a role other than enroll/admin, role
  // CNs without a client_ca, an unknown default_profile, a bad endpoint or limit).
  static ApplianceConfig from(const signer::CaConfig& ca);
};

// "127.0.0.1:8443", "[::1]:0" (IPv6 in brackets); the host must be an IP
// address, the port 0..65535. ConfigError naming `key` when malformed.
Endpoint parse_endpoint(const std::string& text, const std::string& key);

}  // namespace hsmca::appliance
