// hsmca sign / certs: the seeds' `openssl x509 -req -CA -CAkey` step with the
// key in the token, and the ledger's view of what was issued.
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <iostream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "commands.hpp"
#include "hsmca/signer/certificate_authority.hpp"
#include "hsmca/signer/clock.hpp"
#include "hsmca/signer/serial.hpp"
#include "hsmca/signer/strict_yaml.hpp"
#include "transcript.hpp"

namespace hsmca::cli {

using signer::ConfigError;
namespace fs = std::filesystem;

namespace {

std::string read_request_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError("cannot read " + path.string());
  // One byte past the limit is enough for the signer to refuse it as too large.
  std::string data(signer::kMaxRequestBytes + 1, '\0');
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  data.resize(static_cast<std::size_t>(in.gcount()));
  return data;
}

std::string requester() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  const char* user = std::getenv("USER");
  return std::string("cli:") + (user ? user : std::to_string(geteuid())) + "@" + host;
}

std::string output_bytes(const signer::IssuedCertificate& cert, const SignOptions& o,
                         const signer::CertificateAuthority& ca) {
  if (o.der) return std::string(cert.der().begin(), cert.der().end());
  return o.chain ? cert.pem() + ca.chain_pem() : cert.pem();
}

nlohmann::ordered_json entry_json(const signer::LedgerEntry& e) {
  return {{"serial", e.record.serial},
          {"subject", e.record.subject},
          {"sans", e.record.sans},
          {"not_before", signer::rfc3339(e.record.not_before)},
          {"not_after", signer::rfc3339(e.record.not_after)},
          {"profile", e.record.profile},
          {"status", signer::status_name(e.status)},
          {"requester", e.record.requester}};
}

// Revoked entries say when and why, failed ones why; the others have no such keys.
nlohmann::ordered_json entry_json_with_revocation(const signer::LedgerEntry& e) {
  auto j = entry_json(e);
  if (e.status == signer::CertificateStatus::failed && !e.failure.empty()) j["failure"] = e.failure;
  if (e.status == signer::CertificateStatus::revoked && e.revoked_at) {
    j["revoked_at"] = signer::rfc3339(*e.revoked_at);
    j["revocation_reason"] = std::string(e.revocation_reason ? signer::reason_name(*e.revocation_reason) : "");
  }
  return j;
}

}  // namespace

std::string issuer_id_of(const signer::CaConfig& config) {
  auto certs = signer::read_certificates(config.issuer_certificate);
  try {
    return signer::issuer_id(certs.front().get());
  } catch (const std::invalid_argument&) {
    throw ConfigError(config.issuer_certificate.string() + " has no subject key identifier");
  }
}

int sign(const SignOptions& o) {
  // Pending entries older than this are what a crashed run left behind.
  const auto started = signer::unix_seconds(std::chrono::system_clock::now());
  if (o.csrs.empty()) throw ConfigError("give at least one --csr FILE");
  if (o.out.empty() == o.out_dir.empty()) throw ConfigError("give either --out FILE or --out-dir DIR");
  if (!o.out.empty() && o.csrs.size() > 1) throw ConfigError("--out takes one --csr; use --out-dir for several");
  if (o.der && o.chain) throw ConfigError("--chain needs PEM output: a DER file holds one certificate");
  if (o.days && *o.days < 1) throw ConfigError("--days must be at least 1");

  const auto config = signer::CaConfig::load(o.config);
  if (config.profile(o.profile) == nullptr) {
    throw ConfigError("no profile '" + o.profile + "' in " + o.config + " (profiles: " + config.profile_names() + ")");
  }
  if (!o.out_dir.empty() && !fs::is_directory(o.out_dir)) throw ConfigError("--out-dir " + o.out_dir + " is not a directory");

  // Every output decided and free before anything is issued.
  std::vector<fs::path> outputs;
  std::set<fs::path> seen;
  for (const auto& csr : o.csrs) {
    fs::path out = o.out.empty() ? fs::path(o.out_dir) / fs::path(csr).filename().replace_extension(o.der ? ".der" : ".crt")
                                 : fs::path(o.out);
    if (!seen.insert(out).second) throw ConfigError("two requests would both be written to " + out.string());
    check_new_output(out, "a certificate");
    outputs.push_back(out);
  }
  std::vector<std::string> requests;
  for (const auto& csr : o.csrs) requests.push_back(read_request_file(csr));

  auto issuing = signer::IssuingCa::open(config);
  auto& ca = issuing->ca();
  if (const auto interrupted = issuing->ledger().fail_interrupted(started); interrupted > 0) {
    std::cerr << "hsmca: " << interrupted << " ledger entr" << (interrupted == 1 ? "y" : "ies")
              << " left pending by an earlier crash marked failed (interrupted): no certificate of theirs went out\n";
  }
  const std::string who = requester();
  // The operator on the CA host may use every profile; the name policy and
  // every other check apply as to any caller.
  const auto caller = signer::Caller::local_operator(who);

  // Decide every certificate first: a batch with one bad request issues nothing.
  const auto now = std::chrono::system_clock::now();
  std::vector<signer::LeafPlan> plans;
  bool refused = false;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    const auto& r = requests[i];
    auto plan = ca.prepare({{reinterpret_cast<const unsigned char*>(r.data()), r.size()}, o.profile, o.days, caller}, now);
    if (!plan.ok()) {
      std::cerr << "hsmca: error: " << o.csrs[i] << ": " << plan.rejection().message << "\n";
      refused = true;
      continue;
    }
    plans.push_back(std::move(plan.value()));
  }
  if (refused) {
    if (requests.size() > 1) std::cerr << "hsmca: nothing issued: fix or remove the refused requests\n";
    return 1;
  }

  // Sign in parallel: the token pool bounds the signatures, and concurrent
  // issuances share the ledger's commits.
  const std::size_t workers = std::min<std::size_t>(plans.size(), std::max<std::size_t>(8, 2 * config.pkcs11.sessions));
  std::atomic<std::size_t> next{0};
  std::mutex out_mutex;
  std::string failure;
  std::vector<std::thread> threads;
  for (std::size_t w = 0; w < workers; ++w) {
    threads.emplace_back([&] {
      for (std::size_t i = next++; i < plans.size(); i = next++) {
        try {
          auto completed = ca.complete(plans[i], o.profile, who);
          if (!completed.ok()) throw std::runtime_error(completed.rejection().message);
          auto& cert = completed.value();
          write_new_file(outputs[i], output_bytes(cert, o, ca));
          std::lock_guard lock(out_mutex);
          std::cout << outputs[i].string() << "  serial " << cert.serial_hex() << "  " << cert.subject() << "\n";
        } catch (const std::exception& e) {
          std::lock_guard lock(out_mutex);
          if (failure.empty()) failure = o.csrs[i] + ": " + e.what();
          next = plans.size();  // stop taking new work
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  if (!failure.empty()) throw std::runtime_error(failure);
  return 0;
}

int certs_list(const std::string& config_file, bool json) {
  const auto config = signer::CaConfig::load(config_file);
  auto ledger = signer::open_sqlite_ledger(config.ledger);
  auto entries = ledger->list(issuer_id_of(config));
  if (json) {
    auto out = nlohmann::ordered_json::array();
    for (const auto& e : entries) out.push_back(entry_json_with_revocation(e));
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  for (const auto& e : entries) {
    std::string sans;
    for (const auto& s : e.record.sans) sans += (sans.empty() ? "" : ",") + s;
    std::cout << e.record.serial << "  " << signer::status_name(e.status)
              << (e.failure == signer::kInterrupted ? " (interrupted)" : "") << "  " << signer::rfc3339(e.record.not_after)
              << "  " << e.record.profile << "  " << e.record.subject << (sans.empty() ? "" : "  " + sans) << "\n";
  }
  return 0;
}

int certs_show(const std::string& config_file, const std::string& serial, bool json) {
  const auto parsed = signer::parse_serial(serial);
  if (!parsed) throw ConfigError("SERIAL '" + serial + "' is not a serial number in hex");
  const auto config = signer::CaConfig::load(config_file);
  auto ledger = signer::open_sqlite_ledger(config.ledger);
  auto entry = ledger->find(issuer_id_of(config), *parsed);
  if (!entry) throw ConfigError("no certificate with serial " + serial + " in the ledger " + config.ledger.string());
  std::string pem;
  if (!entry->der.empty()) pem = signer::IssuedCertificate::from_der(entry->der).pem();
  // An ACME certificate names its account as requester ("acme:ID"); its order says which request it answered.
  const auto order = ledger->acme().order_for_certificate(entry->record.serial);
  if (json) {
    auto j = entry_json_with_revocation(*entry);
    if (order) {
      j["acme_account"] = order->account_id;
      j["acme_order"] = order->id;
    }
    j["pem"] = pem;
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  auto j = entry_json_with_revocation(*entry);
  if (order) {
    j["acme_account"] = order->account_id;
    j["acme_order"] = order->id;
  }
  for (const auto& [k, v] : j.items()) {
    if (k == "sans") {
      std::string sans;
      for (const auto& s : v) sans += (sans.empty() ? "" : ", ") + s.get<std::string>();
      std::cout << k << ": " << sans << "\n";
    } else {
      std::cout << k << ": " << v.get<std::string>() << "\n";
    }
  }
  std::cout << pem;
  return 0;
}

}  // namespace hsmca::cli
