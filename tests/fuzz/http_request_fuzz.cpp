// The appliance's HTTP request path without sockets. The input is what a
// client sends on one connection: Beast's request_parser reads it with the
// server's limits (framing.hpp, as server.cpp does), the framing the server
// refuses is refused, and each request read — up to four kept alive on one
// connection — goes to the router as if on each listener, plain and HTTPS,
// in an Exchange, as Service::handle does.
//
// The route table is the Service's (service.cpp), line for line. The handlers
// behind it need an IssuingCa, which needs a token, so only the OCSP routes
// run the real handler (answer_ocsp_post/get over an OcspService with a
// software key); the others check credentials as their handlers do first
// (Credentials::basic, bearer tokens through the Authorizer, Exchange's
// authenticate and authorize) and echo their path parameters in a JSON body,
// as the handlers' messages do.
//
// Findings: an exception out of the router (Service::handle would turn it into
// a 500), a request answered other than exactly once, a 500 (nothing here
// fails operationally), a response that does not serialize.
#include <openssl/err.h>
#include <openssl/sha.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <string_view>

#include "credentials.hpp"
#include "exchange.hpp"
#include "fake_clock.hpp"
#include "framing.hpp"
#include "fuzz_support.hpp"
#include "hsmca/appliance/auth.hpp"
#include "hsmca/appliance/config.hpp"
#include "hsmca/appliance/ocsp_service.hpp"
#include "hsmca/signer/authorization.hpp"
#include "hsmca/signer/ocsp.hpp"
#include "hsmca/signer/openssl.hpp"
#include "ocsp_handler.hpp"
#include "router.hpp"

namespace {

namespace http = boost::beast::http;
using namespace hsmca::appliance;
using hsmca::fuzz::finding;

// A bearer token the seeds use, so the fuzzer reaches past authentication.
constexpr std::string_view kToken = "fuzz-token";

// No client certificates here: none is ever presented.
class NoClientCertificates final : public CredentialCheck {
 public:
  std::string shut_out(const RequestContext&, const Identity&) override { return "is not expected here"; }
  bool takes_passwords() const override { return true; }
};

ApplianceConfig config_with_tokens() {
  ApplianceConfig config;  // the defaults: server.cpp's body and header limits
  config.tokens_file = hsmca::fuzz::scratch_file("-tokens");
  unsigned char hash[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(kToken.data()), kToken.size(), hash);
  const std::string hex = hsmca::signer::to_hex(std::span<const unsigned char>(hash, sizeof hash));
  std::ofstream(config.tokens_file) << hsmca::signer::kRoleEnroll << ' ' << hex << '\n'
                                    << hsmca::signer::kRoleAdmin << ' ' << hex << '\n';
  return config;
}

struct Harness {
  Harness()
      : config(config_with_tokens()),
        authorizer(Authorizer::from(config)),
        context{hsmca::fuzz::fixed_issuer().certificate.x509(), &hsmca::fuzz::fixed_issuer().key, {}, {}, {}},
        responder(context, hsmca::fuzz::fixed_issuer().key),
        watcher([] { return hsmca::signer::RevocationVersion{}; }, std::chrono::hours(1)),
        ocsp(OcspSigners{&responder}, OcspService::Options{},
             [](const std::string&) { return hsmca::signer::OcspStatus{hsmca::signer::OcspStatus::Status::good}; },
             [] { return hsmca::signer::RevocationVersion{}; }, watcher,
             [this](std::function<void()> job) {
               jobs.push_back(std::move(job));
               return true;
             },
             metrics, clock) {
    using http::verb;
    using L = Listeners;
    using A = Access;
    auto open = [](const ExchangePtr& ex, const PathParams& p) { echo(ex, p); };
    auto caller = [](std::string_view role) {
      return [role](const ExchangePtr& ex, const PathParams& p) {
        if (ex->authorize(role)) echo(ex, p);
      };
    };
    const auto enroll = caller(hsmca::signer::kRoleEnroll);
    const auto admin = caller(hsmca::signer::kRoleAdmin);
    auto& r = router;
    // As Service::check_password, up to the password check (no password file here).
    r.set_gate([](const ExchangePtr& ex, std::function<void()> proceed) {
      auto password = Credentials::basic(ex->ctx);
      if (password && !password->user.empty()) return ex->error(401, "unauthenticated", "the credentials are not valid");
      proceed();
    });
    // service.cpp's table.
    r.add(verb::get, "/healthz", L::both, A::open, open);
    r.add(verb::get, "/ca/chain.pem", L::both, A::open, open);
    r.add(verb::get, "/ca/issuer.crt", L::both, A::open, open);
    r.add(verb::get, "/crl", L::both, A::open, open);
    r.add(verb::get, "/root.crl", L::both, A::open, open);
    r.add(verb::post, "/ocsp", L::both, A::open, [this](auto& ex, auto&) { answer_ocsp_post(ocsp, clock, ex); });
    r.add(verb::post, "/ocsp/", L::both, A::open, [this](auto& ex, auto&) { answer_ocsp_post(ocsp, clock, ex); });
    r.add(verb::get, "/ocsp/{request...}", L::both, A::open,
          [this](auto& ex, auto& p) { answer_ocsp_get(ocsp, clock, ex, p[0]); });
    r.add(verb::get, "/metrics", L::plain, A::open, open);
    r.add(verb::get, "/.well-known/est/cacerts", L::https, A::open, open);
    r.add(verb::get, "/.well-known/est/{label}/cacerts", L::https, A::open, open);
    r.add(verb::get, "/.well-known/est/csrattrs", L::https, A::open, open);
    r.add(verb::get, "/.well-known/est/{label}/csrattrs", L::https, A::open, open);
    r.add(verb::post, "/.well-known/est/simpleenroll", L::https, A::caller, enroll);
    r.add(verb::post, "/.well-known/est/{label}/simpleenroll", L::https, A::caller, enroll);
    r.add(verb::post, "/.well-known/est/simplereenroll", L::https, A::caller, enroll);
    r.add(verb::post, "/.well-known/est/{label}/simplereenroll", L::https, A::caller, enroll);
    r.add(verb::post, "/api/v1/certificates", L::https, A::caller, enroll);
    r.add(verb::get, "/api/v1/certificates/{serial}", L::https, A::caller, admin);
    r.add(verb::post, "/api/v1/certificates/{serial}/revoke", L::https, A::caller, admin);
  }

  // What the handlers do with client input: put it in a JSON message, as
  // EstHandler::csrattrs answers an unknown label ("no profile '...'").
  static void echo(const ExchangePtr& ex, const PathParams& params) {
    if (params.empty()) return ex->finish(200, "media type '" + media_type(ex->ctx.request) + "'", "text/plain");
    std::string message = "no profile";
    for (const auto& p : params) message += " '" + p + "'";
    ex->error(404, "unknown_profile", message);
  }

  // Service::handle, without its catch: here an exception is a finding.
  void handle(const Request& request, bool secure) {
    RequestContext ctx;
    ctx.request = request;
    ctx.secure = secure;
    ctx.remote = "192.0.2.1:40000";
    ctx.started = std::chrono::steady_clock::now();
    int answers = 0;
    Response response;
    metrics.request_started();
    auto ex = std::make_shared<Exchange>(std::move(ctx), metrics, credentials, [&](Response res) {
      ++answers;
      response = std::move(res);
    });
    try {
      // Credentials::identify's bearer step (it needs a CA for the rest).
      auto auth = ex->ctx.request.find(http::field::authorization);
      if (auth != ex->ctx.request.end()) {
        const std::string_view value(auth->value().data(), auth->value().size());
        constexpr std::string_view kBearer = "Bearer ";
        if (value.size() > kBearer.size() && strncasecmp(value.data(), kBearer.data(), kBearer.size()) == 0) {
          ex->identity = authorizer.for_bearer_token(value.substr(kBearer.size()));
        }
      }
      router.dispatch(ex);
      while (!jobs.empty()) {
        auto job = std::move(jobs.front());
        jobs.pop_front();
        job();
      }
    } catch (const std::exception& e) {
      finding("an exception left the router (the appliance would answer 500)", e.what());
    }
    if (answers != 1) finding("a request was not answered exactly once");
    if (response.result_int() == 500) finding("answered 500", response.body());
    response.keep_alive(false);
    response.prepare_payload();
    std::ostringstream out;
    out << response;
    if (!out) finding("the response does not serialize");
  }

  ApplianceConfig config;
  Authorizer authorizer;
  NoClientCertificates credentials;
  Metrics metrics;
  hsmca::signer::IssuerContext context;
  hsmca::signer::OcspResponder responder;
  hsmca::test::FakeClock clock;
  RevocationWatcher watcher;
  std::deque<std::function<void()>> jobs;
  OcspService ocsp;
  Router router;
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::cout.rdbuf(nullptr);  // Exchange::finish logs a JSON line per request
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Harness* h = new Harness;  // lives for the run: its watcher thread is never joined mid-run
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  for (int n = 0; n < 4 && !rest.empty(); ++n) {
    // As server.cpp's do_read and http::async_read: one parser per request,
    // fed what has arrived; the end of the input is the client closing.
    http::request_parser<http::string_body> parser;
    limit_parser(parser, h->config);
    parser.eager(true);
    boost::beast::error_code ec;
    std::size_t used = 0;
    while (!parser.is_done()) {
      if (used == rest.size()) {
        parser.put_eof(ec);
        break;
      }
      const std::size_t took = parser.put(boost::asio::buffer(rest.data() + used, rest.size() - used), ec);
      used += took;
      if (ec == http::error::need_more) {
        ec = {};
        if (took == 0) {  // it needs more than there is: the client closed
          parser.put_eof(ec);
          break;
        }
        continue;
      }
      if (ec) break;
      if (took == 0) finding("the parser took nothing and asked for nothing");
    }
    // The server answers these itself (400, 413, 431) and closes.
    if (ec || !parser.is_done() || framing_is_faulty(parser.get())) break;
    const Request request = parser.release();
    h->handle(request, false);
    h->handle(request, true);
    if (!request.keep_alive()) break;
    rest.remove_prefix(used);
  }
  h->clock.advance(std::chrono::minutes(1));
  ERR_clear_error();
  return 0;
}
