// hsmca-bench-token: the raw signing rate through the token layer, the ceiling
// the appliance's issuance rate is measured against. Signs a fixed message for
// a fixed time with T threads through SessionPool::sign (a pool of T sessions)
// and prints one JSON line per (key type, thread count).
//
// The token is chosen by label; when no initialized token carries it, a free
// one is initialized (HSMCA_SO_PIN), so a throwaway SOFTHSM2_CONF is enough.
// The user PIN comes from HSMCA_PIN. Each key type gets a fresh key pair, made
// with generate_key_pair inside the pool and destroyed at the end.
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <latch>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "hsmca/signer/openssl.hpp"
#include "hsmca/signer/pin.hpp"
#include "hsmca/token/error.hpp"
#include "hsmca/token/key.hpp"
#include "hsmca/token/module.hpp"
#include "hsmca/token/session_pool.hpp"
#include "hsmca/token/signature.hpp"
#include "hsmca/token/slot.hpp"

namespace {

using namespace hsmca;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string module;
  std::string token_label = "Bench Raw";
  std::vector<std::string> keys{"ec-p256", "rsa-2048"};
  std::vector<std::size_t> threads{1, 2};
  double seconds = 5.0;
  double warmup_seconds = 0.3;
  std::size_t message_bytes = 300;
};

struct RunResult {
  double cpu_seconds = 0;  // the process's CPU time over the measured window
  std::uint64_t signatures = 0;
  std::uint64_t errors = 0;
  double seconds = 0;
  double p50_us = 0;
  double p99_us = 0;
  double max_us = 0;
  bool verified = false;
  std::string first_error;
};

// A run counts nothing a thread does before every thread is signing (the
// warm-up also finds and caches the key handle in each pooled session).
struct ThreadResult {
  std::vector<std::uint32_t> latencies_ns;
  std::uint64_t errors = 0;
  std::string first_error;
  token::Bytes last_signature;
  Clock::time_point finished;
};

double percentile_us(const std::vector<std::uint32_t>& sorted_ns, double q) {
  if (sorted_ns.empty()) return 0;
  auto index = static_cast<std::size_t>(q * static_cast<double>(sorted_ns.size() - 1));
  return static_cast<double>(sorted_ns[index]) / 1000.0;
}

long peak_rss_kib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

// User + system CPU time of the whole process (every thread), in seconds.
double process_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// The token layer's output as X.509 carries it, checked with OpenSSL against
// the public key read back from the token: a fast wrong signature is no rate.
bool openssl_verifies(const token::Bytes& spki_der, token::SignatureScheme scheme,
                      const std::vector<unsigned char>& message, const token::Bytes& signature) {
  const unsigned char* p = spki_der.data();
  signer::EvpPkeyPtr key(d2i_PUBKEY(nullptr, &p, static_cast<long>(spki_der.size())));
  if (!key) return false;
  signer::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  const EVP_MD* md = scheme == token::SignatureScheme::ed25519 ? nullptr : EVP_sha256();
  if (EVP_DigestVerifyInit(ctx.get(), &pctx, md, nullptr, key.get()) != 1) return false;
  if (scheme == token::SignatureScheme::rsa_pss_sha256) {
    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
  }
  return EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(), message.size()) == 1;
}

RunResult run(token::SessionPool& pool, const std::string& key_label, token::SignatureScheme scheme,
              const token::Bytes& spki_der, const std::vector<unsigned char>& message, std::size_t threads,
              const Options& o) {
  std::vector<ThreadResult> results(threads);
  std::latch ready(static_cast<std::ptrdiff_t>(threads) + 1);
  std::atomic<bool> go{false};
  Clock::time_point start;
  Clock::time_point end;
  auto warmup = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.warmup_seconds));
  auto duration = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));

  std::vector<std::thread> workers;
  for (std::size_t t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      ThreadResult& r = results[t];
      r.latencies_ns.reserve(1 << 16);
      ready.arrive_and_wait();
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      const Clock::time_point measure_from = start + warmup;
      for (;;) {
        Clock::time_point t0 = Clock::now();
        if (t0 >= end) break;
        try {
          token::Bytes sig = pool.sign(key_label, scheme, message);
          Clock::time_point t1 = Clock::now();
          if (t0 >= measure_from) {
            r.latencies_ns.push_back(static_cast<std::uint32_t>(
                std::min<std::int64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count(),
                                       UINT32_MAX)));
            r.last_signature = std::move(sig);
          }
        } catch (const std::exception& e) {
          if (r.errors++ == 0) r.first_error = e.what();
        }
      }
      r.finished = Clock::now();
    });
  }
  ready.arrive_and_wait();
  double cpu_at_start = 0;
  start = Clock::now();
  end = start + warmup + duration;
  go.store(true, std::memory_order_release);
  // The warm-up's CPU is left out: read the clock when it ends.
  std::this_thread::sleep_until(start + warmup);
  cpu_at_start = process_cpu_seconds();
  for (auto& w : workers) w.join();
  const double cpu_at_end = process_cpu_seconds();

  RunResult out;
  out.cpu_seconds = cpu_at_end - cpu_at_start;
  std::vector<std::uint32_t> all;
  Clock::time_point last = start + warmup;
  out.verified = true;
  for (auto& r : results) {
    all.insert(all.end(), r.latencies_ns.begin(), r.latencies_ns.end());
    out.errors += r.errors;
    if (out.first_error.empty()) out.first_error = r.first_error;
    last = std::max(last, r.finished);
    if (r.last_signature.empty() || !openssl_verifies(spki_der, scheme, message, r.last_signature)) {
      out.verified = false;
    }
  }
  std::sort(all.begin(), all.end());
  out.signatures = all.size();
  // From the end of the warm-up to the moment the last thread's last call returned.
  out.seconds = std::chrono::duration<double>(last - (start + warmup)).count();
  out.p50_us = percentile_us(all, 0.50);
  out.p99_us = percentile_us(all, 0.99);
  out.max_us = all.empty() ? 0 : static_cast<double>(all.back()) / 1000.0;
  return out;
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    out += c;
  }
  return out;
}

void ensure_token(const std::shared_ptr<token::Module>& module, const std::string& label) {
  for (const auto& t : token::list_tokens(*module)) {
    if (t.initialized && t.label == label) return;
  }
  token::Secret so_pin = signer::read_pin(signer::PinRole::security_officer, "", label);
  token::Secret user_pin = signer::read_pin(signer::PinRole::user, "", label);
  token::init_token(module, label, so_pin, user_pin);
}

int bench(const Options& o) {
  std::vector<token::KeyType> types;
  for (const auto& name : o.keys) {
    auto type = token::parse_key_type(name);
    if (!type) throw std::invalid_argument("unknown key type '" + name + "' (one of " + token::key_type_names() + ")");
    types.push_back(*type);
  }
  auto module = token::Module::load(o.module);
  ensure_token(module, o.token_label);
  const token::TokenSelector selector{o.token_label, ""};

  std::vector<unsigned char> message(o.message_bytes);
  for (std::size_t i = 0; i < message.size(); ++i) message[i] = static_cast<unsigned char>(i * 131 + 7);

  bool all_good = true;
  for (token::KeyType type : types) {
    const std::string key_name(token::key_type_name(type));
    const std::string key_label = "bench-" + key_name + "-" + std::to_string(getpid());
    const token::SignatureScheme scheme = token::default_scheme(type);

    // The key's own pool (read/write, for generating and destroying) stays open
    // across the measured pools, so the login outlives them.
    token::PoolOptions admin_options;
    admin_options.sessions = 1;
    admin_options.read_write = true;
    auto admin = token::SessionPool::open(module, selector, signer::read_pin(signer::PinRole::user, "", o.token_label),
                                          admin_options);
    token::Bytes spki = admin->with_session([&](token::Session& s) {
      return token::describe_key(s, token::generate_key_pair(s, key_label, type)).spki_der;
    });

    for (std::size_t threads : o.threads) {
      token::PoolOptions options;
      options.sessions = threads;
      auto pool = token::SessionPool::open(module, selector,
                                           signer::read_pin(signer::PinRole::user, "", o.token_label), options);
      RunResult r = run(*pool, key_label, scheme, spki, message, threads, o);
      const double per_second = r.seconds > 0 ? static_cast<double>(r.signatures) / r.seconds : 0;
      std::ostringstream line;
      line.setf(std::ios::fixed);
      line.precision(1);
      line << "{\"key\":\"" << key_name << "\",\"scheme\":\"" << token::scheme_name(scheme)
           << "\",\"threads\":" << threads << ",\"sessions\":" << threads << ",\"message_bytes\":" << message.size()
           << ",\"signatures\":" << r.signatures << ",\"errors\":" << r.errors;
      line.precision(3);
      line << ",\"seconds\":" << r.seconds;
      line.precision(1);
      line << ",\"per_second\":" << per_second << ",\"p50_us\":" << r.p50_us << ",\"p99_us\":" << r.p99_us
           << ",\"max_us\":" << r.max_us;
      line.precision(3);
      line << ",\"cpu_seconds\":" << r.cpu_seconds << ",\"verified\":" << (r.verified ? "true" : "false")
           << ",\"peak_rss_kib\":" << peak_rss_kib();
      if (!r.first_error.empty()) line << ",\"first_error\":\"" << json_escape(r.first_error) << "\"";
      line << "}";
      std::cout << line.str() << std::endl;
      if (r.errors != 0 || !r.verified) all_good = false;
    }

    admin->with_session([&](token::Session& s) { token::destroy_key_pair(s, token::find_key_pair(s, key_label)); });
  }
  return all_good ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (const char* m = std::getenv("HSMCA_MODULE")) o.module = m;
  if (o.module.empty()) o.module = "/usr/lib/softhsm/libsofthsm2.so";

  CLI::App app{"hsmca-bench-token: signatures per second through the token layer (SessionPool::sign).\n"
               "One JSON line per key type and thread count. PIN from HSMCA_PIN; HSMCA_SO_PIN\n"
               "initializes the token when no token carries the label.",
               "hsmca-bench-token"};
  app.add_option("--module", o.module, "PKCS#11 module (default: HSMCA_MODULE or SoftHSM's)");
  app.add_option("--token", o.token_label, "token label (initialized if absent)")->capture_default_str();
  app.add_option("--key", o.keys, "key types, e.g. --key ec-p256 --key rsa-2048")->delimiter(',')
      ->capture_default_str();
  app.add_option("--threads", o.threads, "thread counts (pool of that many sessions each)")->delimiter(',')
      ->capture_default_str();
  app.add_option("--seconds", o.seconds, "measured seconds per run")->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--warmup", o.warmup_seconds, "seconds of signing before measuring")->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--message-bytes", o.message_bytes, "size of the signed message")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  try {
    return bench(o);
  } catch (const std::exception& e) {
    std::cerr << "hsmca-bench-token: " << e.what() << "\n";
    return 1;
  }
}
