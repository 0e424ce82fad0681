// hsmca-bench-acme: complete ACME orders per second against a running
// appliance, for bench/run's ACME section. One account (ES256, bound with an
// EAB key from `hsmca acme eab add`), then N workers, each on a keep-alive
// HTTPS connection of its own, looping over whole orders for fresh names
// (o<tag>-<n>.<domain>): newOrder, the authorization, http-01 answered by the
// built-in responder (one server for all workers), the challenge, polling the
// authorization, finalize with a fresh P-256 key and CSR, polling the order
// if it is still processing, and the certificate chain.
//
// An order counts when its chain is downloaded. After the run every chain
// downloaded (warm-up included) must verify up to --root (X509_verify_cert,
// server purpose), name the ordered host and carry the order's key; one that
// does not is a failure. Prints one JSON line:
//   {"concurrency":8,"orders":…,"failures":…,"seconds":…,"per_second":…,
//    "p50_ms":…,"p90_ms":…,"p99_ms":…,"verified":…,…}
// and, with --serials-out, one "SERIAL NAME" line per downloaded certificate
// (lowercase hex, no leading zeros), for the bench to find in the ledger.
// Exits 1 when any order failed or any certificate did not verify.
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <latch>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "acme_jws_signer.hpp"
#include "http01_responder.hpp"
#include "server_request.hpp"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
namespace acme = hsmca::appliance::acme;
namespace signer = hsmca::signer;
using tcp = asio::ip::tcp;
using nlohmann::json;
using hsmca::test::JwsTestKey;
using Clock = std::chrono::steady_clock;
using Millis = std::chrono::milliseconds;

struct Options {
  std::string directory;
  std::string root;
  std::string eab_kid, eab_hmac;
  std::string http_address = "127.0.0.1";
  std::uint16_t http_port = 0;
  std::size_t concurrency = 8;
  double seconds = 10;
  std::size_t orders = 0;  // instead of --seconds
  std::size_t warmup = 1;  // orders per worker before the measured window
  std::string domain = "bench.test";
  std::string tag;         // default: random, so names never repeat across runs
  int poll_ms = 25;
  int timeout_ms = 30000;  // one request; an order's polling gets twice that
  std::string tls_ca;      // verify the appliance's TLS certificate; empty: not verified (as hey)
  std::string serials_out;
};

// A failed step of an order: what was asked and what came back.
class OrderError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "https://host:port/path" split into its origin and the target.
struct Url {
  std::string host, port, target;
  std::string origin() const { return "https://" + host + ":" + port; }
};

Url parse_url(const std::string& url) {
  constexpr std::string_view scheme = "https://";
  if (!url.starts_with(scheme)) throw std::invalid_argument("not an https URL: " + url);
  const auto slash = url.find('/', scheme.size());
  const std::string authority = url.substr(scheme.size(), slash - scheme.size());
  const auto colon = authority.rfind(':');
  if (colon == std::string::npos || authority.find(']') != std::string::npos) {
    throw std::invalid_argument("want https://IPv4-OR-NAME:PORT/..., not " + url);
  }
  return {authority.substr(0, colon), authority.substr(colon + 1),
          slash == std::string::npos ? "/" : url.substr(slash)};
}

// What the appliance answered, with the headers ACME puts meaning in.
struct Answer {
  unsigned status = 0;
  std::string body, content_type, location, nonce;
  int retry_after = -1;  // seconds; -1: none

  json body_json() const {
    auto j = json::parse(body, nullptr, false);
    if (j.is_discarded()) throw OrderError("HTTP " + std::to_string(status) + " with a body that is not JSON");
    return j;
  }
  std::string problem_type() const {
    if (content_type != "application/problem+json") return {};
    auto j = json::parse(body, nullptr, false);
    return j.is_object() && j.contains("type") && j["type"].is_string() ? j["type"].get<std::string>() : "";
  }
  std::string describe() const { return "HTTP " + std::to_string(status) + " " + body.substr(0, 300); }
};

struct Counters {
  std::atomic<std::uint64_t> nonce_retries{0}, busy_retries{0}, reconnects{0}, retry_after_waits{0};
};

// One keep-alive HTTPS connection to the appliance; reopened (once per
// request) when the server has closed it.
class Connection {
 public:
  Connection(ssl::context& tls, Url origin, Millis timeout, Counters& counters)
      : tls_(tls), origin_(std::move(origin)), timeout_(timeout), counters_(counters) {}
  Connection(const Connection&) = delete;  // owns the stream and its io_context
  Connection& operator=(const Connection&) = delete;

  Answer send(http::verb method, const std::string& target, std::string body = {},
              std::string_view content_type = {}) {
    http::request<http::string_body> request{method, target, 11};
    request.set(http::field::host, origin_.host + ":" + origin_.port);
    request.set(http::field::user_agent, "hsmca-bench-acme");
    if (!content_type.empty()) request.set(http::field::content_type, content_type);
    request.body() = std::move(body);
    request.prepare_payload();
    for (int attempt = 0;; ++attempt) {
      beast::error_code ec;
      if (!stream_) ec = open();
      http::response_parser<http::string_body> parser;
      parser.body_limit(1024 * 1024);
      if (!ec) ec = run([&](auto done) { http::async_write(*stream_, request, std::move(done)); });
      if (!ec) ec = run([&](auto done) { http::async_read(*stream_, buffer_, parser, std::move(done)); });
      if (ec) {
        stream_.reset();
        buffer_.clear();
        // A kept-alive connection the server closed meanwhile: once more on a new one.
        if (attempt == 0 && (ec == http::error::end_of_stream || ec == asio::error::eof ||
                             ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
                             ec == asio::ssl::error::stream_truncated)) {
          ++counters_.reconnects;
          continue;
        }
        throw OrderError(std::string(http::to_string(method)) + " " + target + ": " + ec.message());
      }
      auto& response = parser.get();
      Answer a;
      a.status = response.result_int();
      a.content_type = std::string(response[http::field::content_type]);
      a.location = std::string(response[http::field::location]);
      a.nonce = std::string(response["Replay-Nonce"]);
      const std::string retry_after(response[http::field::retry_after]);
      if (!retry_after.empty() && retry_after.find_first_not_of("0123456789") == std::string::npos &&
          retry_after.size() < 6) {
        a.retry_after = std::stoi(retry_after);
      }
      a.body = std::move(response.body());
      if (!response.keep_alive()) stream_.reset();
      return a;
    }
  }

  const Url& origin() const { return origin_; }

 private:
  template <class Start>
  beast::error_code run(Start start) {
    beast::error_code result = asio::error::timed_out;
    beast::get_lowest_layer(*stream_).expires_after(timeout_);
    start([&](beast::error_code ec, auto&&...) { result = ec; });
    io_.restart();
    io_.run();
    return result;
  }

  beast::error_code open() {
    tcp::resolver resolver(io_);
    beast::error_code ec;
    const auto endpoints = resolver.resolve(origin_.host, origin_.port, ec);
    if (ec) return ec;
    stream_.emplace(io_, tls_);  // no SNI: the appliance has one certificate
    ec = run([&](auto done) { beast::get_lowest_layer(*stream_).async_connect(endpoints, std::move(done)); });
    if (!ec) ec = run([&](auto done) { stream_->async_handshake(ssl::stream_base::client, std::move(done)); });
    return ec;
  }

  asio::io_context io_;
  ssl::context& tls_;
  Url origin_;
  Millis timeout_;
  Counters& counters_;
  std::optional<beast::ssl_stream<beast::tcp_stream>> stream_;
  beast::flat_buffer buffer_;
};

struct Directory {
  std::string new_nonce, new_account, new_order;
};

// An ACME client over one connection, signing as one account: every POST a
// JWS with the freshest nonce, retried on badNonce (RFC 8555 6.5) and, after
// its Retry-After, on 503.
class AcmeClient {
 public:
  AcmeClient(Connection& connection, const JwsTestKey& key, const Directory& directory, Counters& counters)
      : connection_(connection), key_(key), directory_(directory), counters_(counters) {}

  void set_account(std::string kid) { kid_ = std::move(kid); }

  // payload nullopt: POST-as-GET.
  Answer post(const std::string& url, const std::optional<json>& payload, std::optional<json> extra_header = {}) {
    const std::string body = payload ? payload->dump() : "";
    for (int attempt = 0;; ++attempt) {
      json header = {{"alg", key_.alg()}, {"nonce", take_nonce()}, {"url", url}};
      if (kid_.empty()) {
        header["jwk"] = key_.public_jwk();
      } else {
        header["kid"] = kid_;
      }
      if (extra_header) header.update(*extra_header);
      Answer a = connection_.send(http::verb::post, target_of(url), hsmca::test::make_jws(key_, header, body).dump(),
                                  "application/jose+json");
      if (!a.nonce.empty()) nonce_ = a.nonce;
      if (attempt < 5 && a.status == 400 && a.problem_type() == "urn:ietf:params:acme:error:badNonce") {
        ++counters_.nonce_retries;
        continue;
      }
      if (attempt < 5 && a.status == 503 && a.retry_after >= 0) {
        ++counters_.busy_retries;
        std::this_thread::sleep_for(std::chrono::seconds(a.retry_after));
        continue;
      }
      return a;
    }
  }

  std::string target_of(const std::string& url) const {
    const std::string origin = connection_.origin().origin();
    if (!url.starts_with(origin + "/")) throw OrderError("URL " + url + " is not on " + origin);
    return url.substr(origin.size());
  }

 private:
  std::string take_nonce() {
    if (nonce_.empty()) {
      Answer a = connection_.send(http::verb::head, target_of(directory_.new_nonce));
      if (a.nonce.empty()) throw OrderError("newNonce gave no Replay-Nonce: " + a.describe());
      nonce_ = a.nonce;
    }
    return std::exchange(nonce_, {});
  }

  Connection& connection_;
  const JwsTestKey& key_;
  const Directory& directory_;
  Counters& counters_;
  std::string kid_;
  std::string nonce_;
};

Directory fetch_directory(Connection& connection, const std::string& target) {
  Answer a = connection.send(http::verb::get, target);
  if (a.status != 200) throw std::runtime_error("GET directory: " + a.describe());
  const json d = a.body_json();
  return {d.at("newNonce").get<std::string>(), d.at("newAccount").get<std::string>(),
          d.at("newOrder").get<std::string>()};
}

// newAccount with the EAB binding (RFC 8555 7.3.4); the account URL (kid).
std::string register_account(AcmeClient& client, const JwsTestKey& key, const Directory& directory,
                              const Options& o) {
  const auto hmac = acme::base64url_decode(o.eab_hmac);
  if (!hmac) throw std::invalid_argument("--eab-hmac is not base64url");
  const json binding = hsmca::test::make_mac_jws({{"alg", "HS256"}, {"kid", o.eab_kid}, {"url", directory.new_account}},
                                                 key.public_jwk().dump(), *hmac);
  Answer a = client.post(directory.new_account, json{{"termsOfServiceAgreed", true},
                                                     {"contact", json::array({"mailto:bench@" + o.domain})},
                                                     {"externalAccountBinding", binding}});
  if ((a.status != 201 && a.status != 200) || a.location.empty()) {
    throw std::runtime_error("newAccount: " + a.describe());
  }
  return a.location;
}

// A certificate chain as downloaded, checked after the run.
struct Downloaded {
  std::string name;
  std::string chain_pem;
  signer::EvpPkeyPtr key;  // the order's key: the certificate must carry it
};

// The key authorization stays published while its challenge can be fetched.
class Publication {
 public:
  Publication(hsmca::bench::Http01Responder& responder, std::string token, std::string key_authorization)
      : responder_(responder), token_(std::move(token)) {
    responder_.publish(token_, std::move(key_authorization));
  }
  ~Publication() { responder_.withdraw(token_); }
  Publication(const Publication&) = delete;  // one withdrawal per publication
  Publication& operator=(const Publication&) = delete;

 private:
  hsmca::bench::Http01Responder& responder_;
  std::string token_;
};

class OrderRunner {
 public:
  OrderRunner(AcmeClient& client, const JwsTestKey& key, const Directory& directory,
              hsmca::bench::Http01Responder& responder, const Options& o, Counters& counters)
      : client_(client), key_(key), directory_(directory), responder_(responder), o_(o), counters_(counters) {}

  Downloaded run(const std::string& name) {
    const auto deadline = Clock::now() + 2 * Millis(o_.timeout_ms);
    Answer made = client_.post(directory_.new_order, json{{"identifiers", json::array({json{{"type", "dns"}, {"value", name}}})}});
    if (made.status != 201 || made.location.empty()) throw OrderError("newOrder: " + made.describe());
    const std::string order_url = made.location;
    json order = made.body_json();
    const auto& authorizations = order.at("authorizations");
    if (authorizations.size() != 1) throw OrderError("newOrder: not one authorization: " + made.body);
    const std::string authz_url = authorizations[0].get<std::string>();
    const std::string finalize_url = order.at("finalize").get<std::string>();

    json authz = get(authz_url, "authorization");
    if (authz.at("status") == "pending") {
      const json* http01 = nullptr;
      for (const auto& c : authz.at("challenges")) {
        if (c.at("type") == "http-01") http01 = &c;
      }
      if (http01 == nullptr) throw OrderError("no http-01 challenge: " + authz.dump());
      const std::string token = http01->at("token").get<std::string>();
      const Publication published(responder_, token, acme::key_authorization(token, key_.jwk()));
      Answer responded = client_.post(http01->at("url").get<std::string>(), json::object());
      if (responded.status != 200) throw OrderError("challenge: " + responded.describe());
      authz = poll(authz_url, "authorization", {"pending"}, deadline);
    }
    if (authz.at("status") != "valid") throw OrderError("authorization " + authz.dump());

    Downloaded d{name, {}, hsmca::bench::make_p256_key()};
    const auto csr = hsmca::bench::make_server_request(d.key.get(), name);
    unsigned char* der = nullptr;
    const int len = i2d_X509_REQ(csr.get(), &der);
    if (len <= 0) throw signer::OpenSslError("i2d_X509_REQ");
    const std::string csr_b64 = acme::base64url_encode(std::span<const unsigned char>(der, static_cast<std::size_t>(len)));
    OPENSSL_free(der);
    Answer finalized = client_.post(finalize_url, json{{"csr", csr_b64}});
    if (finalized.status != 200) throw OrderError("finalize: " + finalized.describe());
    order = finalized.body_json();
    if (order.at("status") == "processing") {
      order = poll(order_url, "order", {"processing"}, deadline, finalized.retry_after);
    }
    if (order.at("status") != "valid" || !order.contains("certificate")) throw OrderError("order " + order.dump());

    Answer chain = client_.post(order.at("certificate").get<std::string>(), std::nullopt);
    if (chain.status != 200 || chain.content_type != "application/pem-certificate-chain") {
      throw OrderError("certificate: " + chain.describe());
    }
    d.chain_pem = std::move(chain.body);
    return d;
  }

 private:
  json get(const std::string& url, const char* what) {
    Answer a = client_.post(url, std::nullopt);
    if (a.status != 200) throw OrderError(std::string(what) + ": " + a.describe());
    return a.body_json();
  }

  // POST-as-GET until the status leaves `waiting`: every poll_ms, or after
  // Retry-After when the server gave one (RFC 8555 7.4, 7.5.1).
  json poll(const std::string& url, const char* what, std::initializer_list<std::string_view> waiting,
            Clock::time_point deadline, int retry_after = -1) {
    for (;;) {
      if (retry_after > 0) ++counters_.retry_after_waits;
      std::this_thread::sleep_for(retry_after > 0 ? Millis(1000 * retry_after) : Millis(o_.poll_ms));
      Answer a = client_.post(url, std::nullopt);
      if (a.status != 200) throw OrderError(std::string(what) + ": " + a.describe());
      json j = a.body_json();
      const std::string status = j.at("status").get<std::string>();
      if (std::find(waiting.begin(), waiting.end(), status) == waiting.end()) return j;
      if (Clock::now() > deadline) throw OrderError(std::string(what) + " still " + status + " at the deadline");
      retry_after = a.retry_after;
    }
  }

  AcmeClient& client_;
  const JwsTestKey& key_;
  const Directory& directory_;
  hsmca::bench::Http01Responder& responder_;
  const Options& o_;
  Counters& counters_;
};

struct WorkerResult {
  std::vector<double> latencies_ms;  // measured orders only
  std::vector<Downloaded> downloaded;  // warm-up included
  std::uint64_t failures = 0;
  std::uint64_t warmup_failures = 0;
  std::string first_error;
  Clock::time_point finished;
};

struct Checked {
  std::uint64_t verified = 0;
  std::vector<std::string> problems;
  std::vector<std::string> serial_lines;
};

std::string serial_hex(X509* cert) {
  const signer::BignumPtr bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
  if (!bn) throw signer::OpenSslError("ASN1_INTEGER_to_BN");
  char* hex = BN_bn2hex(bn.get());
  std::string s(hex);
  OPENSSL_free(hex);
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const auto first = s.find_first_not_of('0');
  return first == std::string::npos ? "0" : s.substr(first);
}

using X509StorePtr = std::unique_ptr<X509_STORE, signer::Free<X509_STORE_free>>;
using X509StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, signer::Free<X509_STORE_CTX_free>>;
struct FreeCertificates {
  void operator()(STACK_OF(X509) * s) const noexcept { sk_X509_pop_free(s, X509_free); }
};
using CertificateStackPtr = std::unique_ptr<STACK_OF(X509), FreeCertificates>;

// Whether a downloaded chain is a certificate for its order: it verifies up to
// the root for a TLS server, names the host and holds the order's key.
std::optional<std::string> check_chain(X509_STORE* store, const Downloaded& d, std::string& serial) {
  const signer::BioPtr bio(BIO_new_mem_buf(d.chain_pem.data(), static_cast<int>(d.chain_pem.size())));
  CertificateStackPtr certs(sk_X509_new_null());
  if (!bio || !certs) throw signer::OpenSslError("BIO_new_mem_buf");
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) sk_X509_push(certs.get(), cert);
  ERR_clear_error();  // the read that ends the loop leaves "no start line"
  if (sk_X509_num(certs.get()) == 0) return "no certificate in the answer";
  X509* leaf = sk_X509_shift(certs.get());
  const signer::X509Ptr owned_leaf(leaf);
  serial = serial_hex(leaf);
  const X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), store, leaf, certs.get()) != 1) {
    throw signer::OpenSslError("X509_STORE_CTX_init");
  }
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER);
  if (X509_verify_cert(ctx.get()) != 1) {
    return std::string("does not verify: ") + X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
  }
  if (X509_check_host(leaf, d.name.c_str(), d.name.size(), 0, nullptr) != 1) return "does not name " + d.name;
  if (EVP_PKEY_eq(X509_get0_pubkey(leaf), d.key.get()) != 1) return "does not carry the order's key";
  return std::nullopt;
}

Checked check_all(const std::string& root_file, const std::vector<WorkerResult>& results) {
  const X509StorePtr store(X509_STORE_new());
  if (!store || X509_STORE_load_file(store.get(), root_file.c_str()) != 1) {
    throw signer::OpenSslError("cannot load the root " + root_file);
  }
  Checked checked;
  for (const auto& r : results) {
    for (const auto& d : r.downloaded) {
      std::string serial;
      if (auto problem = check_chain(store.get(), d, serial)) {
        checked.problems.push_back(d.name + " (serial " + (serial.empty() ? "?" : serial) + "): " + *problem);
      } else {
        ++checked.verified;
      }
      if (!serial.empty()) checked.serial_lines.push_back(serial + " " + d.name);
    }
  }
  return checked;
}

double percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  return sorted[static_cast<std::size_t>(q * static_cast<double>(sorted.size() - 1))];
}

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

std::string random_tag() {
  std::random_device rd;
  char tag[9];
  std::snprintf(tag, sizeof tag, "%08x", rd());
  return tag;
}

int run(Options o) {
  if (o.tag.empty()) o.tag = random_tag();
  const Url directory_url = parse_url(o.directory);
  ssl::context tls(ssl::context::tls_client);
  if (o.tls_ca.empty()) {
    tls.set_verify_mode(ssl::verify_none);
  } else {
    tls.load_verify_file(o.tls_ca);
    tls.set_verify_mode(ssl::verify_peer);
  }
  Counters counters;
  hsmca::bench::Http01Responder responder(o.http_address, o.http_port);
  const auto key = JwsTestKey::generate(acme::KeyType::ec_p256);

  Connection setup(tls, directory_url, Millis(o.timeout_ms), counters);
  const Directory directory = fetch_directory(setup, directory_url.target);
  AcmeClient registrar(setup, key, directory, counters);
  const std::string kid = register_account(registrar, key, directory, o);

  std::atomic<std::uint64_t> next_name{0};
  std::atomic<std::uint64_t> orders_left{o.orders};
  std::vector<WorkerResult> results(o.concurrency);
  std::latch warmed(static_cast<std::ptrdiff_t>(o.concurrency));
  std::latch go(1);
  Clock::time_point started, deadline;
  double cpu_at_start = 0;

  auto worker = [&](WorkerResult& result) {
    Connection connection(tls, directory_url, Millis(o.timeout_ms), counters);
    AcmeClient client(connection, key, directory, counters);
    client.set_account(kid);
    OrderRunner runner(client, key, directory, responder, o, counters);
    auto one = [&](bool measured) {
      const std::string name = "o" + o.tag + "-" + std::to_string(next_name++) + "." + o.domain;
      const auto t0 = Clock::now();
      try {
        result.downloaded.push_back(runner.run(name));
        if (measured) result.latencies_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      } catch (const std::exception& e) {
        ++(measured ? result.failures : result.warmup_failures);
        if (result.first_error.empty()) result.first_error = name + ": " + e.what();
      }
    };
    for (std::size_t i = 0; i < o.warmup; ++i) one(false);
    warmed.count_down();
    go.wait();
    if (o.orders > 0) {
      for (;;) {
        auto left = orders_left.load();
        while (left > 0 && !orders_left.compare_exchange_weak(left, left - 1)) {
        }
        if (left == 0) break;
        one(true);
      }
    } else {
      while (Clock::now() < deadline) one(true);
    }
    result.finished = Clock::now();
  };

  std::vector<std::thread> threads;
  threads.reserve(o.concurrency);
  for (auto& r : results) threads.emplace_back(worker, std::ref(r));
  warmed.wait();
  cpu_at_start = cpu_seconds();
  started = Clock::now();
  deadline = started + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
  go.count_down();
  for (auto& t : threads) t.join();
  const double client_cpu = cpu_seconds() - cpu_at_start;

  // hey's way: stop starting orders at the deadline, let those in flight finish, count to the last.
  Clock::time_point finished = started;
  std::vector<double> latencies;
  std::uint64_t failures = 0, warmup_failures = 0;
  std::string first_error;
  for (const auto& r : results) {
    finished = std::max(finished, r.finished);
    latencies.insert(latencies.end(), r.latencies_ms.begin(), r.latencies_ms.end());
    failures += r.failures;
    warmup_failures += r.warmup_failures;
    if (first_error.empty()) first_error = r.first_error;
  }
  std::sort(latencies.begin(), latencies.end());
  const double seconds = std::chrono::duration<double>(finished - started).count();

  const Checked checked = check_all(o.root, results);
  if (!o.serials_out.empty()) {
    std::ofstream out(o.serials_out);
    for (const auto& line : checked.serial_lines) out << line << "\n";
    if (!out) throw std::runtime_error("cannot write " + o.serials_out);
  }
  if (first_error.empty() && !checked.problems.empty()) first_error = checked.problems.front();

  json line = {{"concurrency", o.concurrency},
               {"orders", latencies.size()},
               {"failures", failures + warmup_failures},
               {"warmup_orders", o.concurrency * o.warmup - warmup_failures},
               {"seconds", seconds},
               {"per_second", seconds > 0 ? static_cast<double>(latencies.size()) / seconds : 0.0},
               {"p50_ms", percentile(latencies, 0.50)},
               {"p90_ms", percentile(latencies, 0.90)},
               {"p99_ms", percentile(latencies, 0.99)},
               {"max_ms", latencies.empty() ? 0.0 : latencies.back()},
               {"downloaded", checked.verified + checked.problems.size()},
               {"verified", checked.verified},
               {"unverified", checked.problems.size()},
               {"client_cpu_seconds", client_cpu},
               {"nonce_retries", counters.nonce_retries.load()},
               {"busy_retries", counters.busy_retries.load()},
               {"retry_after_waits", counters.retry_after_waits.load()},
               {"reconnects", counters.reconnects.load()},
               {"http01_served", responder.served()},
               {"http01_missed", responder.missed()},
               {"account", kid},
               {"tag", o.tag}};
  if (!first_error.empty()) line["first_error"] = first_error.substr(0, 500);
  std::cout << line.dump() << std::endl;
  for (const auto& p : checked.problems) std::cerr << "hsmca-bench-acme: " << p << "\n";
  return failures + warmup_failures > 0 || !checked.problems.empty() ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"hsmca-bench-acme: complete ACME orders per second (newOrder, http-01, finalize, download) against "
               "an appliance, with N concurrent orders.",
               "hsmca-bench-acme"};
  app.add_option("--directory", o.directory, "the ACME directory URL, https://HOST:PORT/acme/directory")->required();
  app.add_option("--root", o.root, "the CA's root certificate (PEM): every certificate must verify up to it")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--eab-kid", o.eab_kid, "EAB key id (hsmca acme eab add --json: kid)")->required();
  app.add_option("--eab-hmac", o.eab_hmac, "EAB HMAC key, base64url (hsmca acme eab add --json: hmac_key)")
      ->required();
  app.add_option("--http-port", o.http_port, "port to answer http-01 on (the CA's acme.validation.http_port)")
      ->required();
  app.add_option("--http-address", o.http_address, "address to answer http-01 on")->capture_default_str();
  app.add_option("--concurrency,-c", o.concurrency, "orders in flight at once (one worker and connection each)")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  app.add_option("--seconds", o.seconds, "start orders for this long; those in flight then still finish")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--orders", o.orders, "complete this many orders instead of --seconds");
  app.add_option("--warmup", o.warmup, "orders per worker before the measured window (not counted, but checked)")
      ->capture_default_str();
  app.add_option("--domain", o.domain, "names ordered are o<tag>-<n>.DOMAIN")->capture_default_str();
  app.add_option("--tag", o.tag, "the names' run tag (default: random)");
  app.add_option("--poll-ms", o.poll_ms, "poll interval when the server gives no Retry-After")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  app.add_option("--timeout-ms", o.timeout_ms, "bound on one request (an order's polling: twice this)")
      ->check(CLI::Range(100, 600000))
      ->capture_default_str();
  app.add_option("--tls-ca", o.tls_ca, "verify the appliance's TLS certificate against this file (default: no check)")
      ->check(CLI::ExistingFile);
  app.add_option("--serials-out", o.serials_out, "write 'SERIAL NAME' per downloaded certificate here");
  CLI11_PARSE(app, argc, argv);

  try {
    return run(std::move(o));
  } catch (const std::exception& e) {
    std::cerr << "hsmca-bench-acme: " << e.what() << "\n";
    return 2;
  }
}
