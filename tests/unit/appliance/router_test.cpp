#include "router.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <stdexcept>

#include "hsmca/signer/ledger.hpp"
#include "hsmca/signer/outcome.hpp"


namespace hsmca::appliance {
namespace {

// No request here relies on a client certificate.
class NoCredentials final : public CredentialCheck {
 public:
  std::string shut_out(const RequestContext&, const Identity&) override { return "is not expected here"; }
};

// Routes a request through a router whose handlers record what they got.
class RouterTest : public ::testing::Test {
 protected:
  RouterTest() {
    router_.add(http::verb::get, "/healthz", Listeners::both, Access::open, record("health"));
    router_.add(http::verb::get, "/metrics", Listeners::plain, Access::open, record("metrics"));
    router_.add(http::verb::post, "/api/v1/certificates/{serial}/revoke", Listeners::https, Access::caller, record("revoke"));
    router_.add(http::verb::get, "/api/v1/certificates/{serial}", Listeners::https, Access::caller, record("show"));
    router_.add(http::verb::get, "/ocsp/{request...}", Listeners::both, Access::open, record("ocsp"));
    router_.add(http::verb::post, "/ocsp", Listeners::both, Access::open, record("ocsp-post"));
    router_.add(http::verb::post, "/ocsp/", Listeners::both, Access::open, record("ocsp-post"));
  }

  Handler record(std::string name) {
    return [this, name](const ExchangePtr& ex, const PathParams& params) {
      handled_ = name;
      params_ = params;
      ex->finish(200, "", "text/plain");
    };
  }

  // The response; handled_ names the handler that got it, if any.
  Response route(http::verb method, const std::string& target, bool secure) {
    handled_.clear();
    params_.clear();
    RequestContext ctx;
    ctx.request = Request{method, target, 11};
    ctx.secure = secure;
    Response out;
    auto ex = std::make_shared<Exchange>(std::move(ctx), metrics_, credentials_,
                                         [&out](Response r) { out = std::move(r); });
    router_.dispatch(ex);
    label_ = ex->route;
    return out;
  }

  Router router_;
  Metrics metrics_;
  NoCredentials credentials_;
  std::string handled_, label_;
  PathParams params_;
};

// A failure inside is answered with what the client should do; what failed
// (a ledger path, a PKCS#11 function) goes to the request's log line only.
TEST_F(RouterTest, AnswersAFailureInsideWithoutItsTextAndLogsTheText) {
  router_.add(http::verb::get, "/ledger-down", Listeners::both, Access::open, [](const ExchangePtr& ex, const PathParams&) {
    ex->fail(signer::LedgerError("ledger /var/lib/hsmca/ledger.db: database is locked"));
  });
  router_.add(http::verb::get, "/token-down", Listeners::both, Access::open, [](const ExchangePtr& ex, const PathParams&) {
    ex->fail(signer::TokenUnavailable("C_Sign: CKR_DEVICE_ERROR", 7));
  });
  router_.add(http::verb::get, "/bug", Listeners::both, Access::open, [](const ExchangePtr& ex, const PathParams&) {
    ex->fail(std::logic_error("vector::_M_range_check: __n (which is 3)"));
  });
  struct Case {
    std::string target, code, secret;
    unsigned status;
    std::string retry_after;
  };
  for (const auto& c : {Case{"/ledger-down", "ledger_unavailable", "/var/lib/hsmca", 503, "1"},
                        Case{"/token-down", "token_unavailable", "CKR_DEVICE_ERROR", 503, "7"},
                        Case{"/bug", "internal", "_M_range_check", 500, ""}}) {
    testing::internal::CaptureStdout();
    auto res = route(http::verb::get, c.target, true);
    const std::string logged = testing::internal::GetCapturedStdout();
    EXPECT_EQ(res.result_int(), c.status) << c.target;
    EXPECT_EQ(std::string(res[http::field::retry_after]), c.retry_after) << c.target;
    const auto body = nlohmann::json::parse(res.body());
    EXPECT_EQ(body["error"], c.code);
    EXPECT_EQ(body.dump().find(c.secret), std::string::npos) << body.dump();
    EXPECT_NE(logged.find(c.secret), std::string::npos) << "the log line lacks the cause: " << logged;
  }
}

TEST_F(RouterTest, SendsEachPathToItsHandlerWithItsParameters) {
  EXPECT_EQ(route(http::verb::get, "/healthz", false).result_int(), 200);
  EXPECT_EQ(handled_, "health");
  EXPECT_EQ(route(http::verb::post, "/api/v1/certificates/67cf47/revoke?x=1", true).result_int(), 200);
  EXPECT_EQ(handled_, "revoke");
  EXPECT_EQ(params_, PathParams{"67cf47"});
  EXPECT_EQ(label_, "/api/v1/certificates/{serial}/revoke") << "the label is the pattern, never client input";
  route(http::verb::get, "/ocsp/MEIw/QDA+", false);
  EXPECT_EQ(handled_, "ocsp");
  EXPECT_EQ(params_, PathParams{"MEIw/QDA+"}) << "a {name...} parameter takes the rest, slashes included";
}

TEST_F(RouterTest, AnswersAWrongMethodWith405NamingTheRightOne) {
  const auto res = route(http::verb::delete_, "/healthz", false);
  EXPECT_EQ(res.result_int(), 405);
  EXPECT_EQ(res[http::field::allow], "GET");
  EXPECT_TRUE(handled_.empty());
  EXPECT_EQ(nlohmann::json::parse(res.body())["error"], "method_not_allowed");
}

TEST_F(RouterTest, AnswersUnknownPathsAndEmptyParametersWith404) {
  for (const auto* target : {"/nothing", "/api/v1/certificates//revoke", "/ocsp/", "/healthz/x", "/"}) {
    const auto res = route(http::verb::get, target, true);
    EXPECT_EQ(res.result_int(), target == std::string("/ocsp/") ? 405 : 404) << target;
    EXPECT_TRUE(handled_.empty()) << target;
    EXPECT_EQ(label_, target == std::string("/ocsp/") ? "/ocsp/" : "unmatched") << target;
  }
}

// Found by tests/fuzz/http_request_fuzz.cpp: the 404's message names the
// path, and a path that is not UTF-8 made the JSON body throw out of the
// router (the appliance answered 500 "internal" to a client's typo).
TEST_F(RouterTest, AnswersAPathThatIsNotUtf8With404AndAJsonBody) {
  const auto res = route(http::verb::get, "/est/\xff\xc3(", true);
  EXPECT_EQ(res.result_int(), 404);
  const auto body = nlohmann::json::parse(res.body());
  EXPECT_EQ(body["error"], "not_found");
  EXPECT_EQ(body["message"], "no route for /est/\ufffd\ufffd(") << "bytes that are not UTF-8 become U+FFFD";
}

// ACME answers its own unknown paths and wrong methods (a problem document
// with a nonce); the router's own answers stay for everything else.
TEST_F(RouterTest, HandsUnroutedPathsUnderAFallbackPrefixToItsFallback) {
  router_.add(http::verb::post, "/acme/order/{id}", Listeners::https, Access::open, record("order"));
  unsigned status = 0;
  std::string allow;
  router_.add_fallback("/acme/", Listeners::https, [&](const ExchangePtr& ex, unsigned s, const std::string& a) {
    status = s;
    allow = a;
    ex->finish(299, "", "text/plain");
  });
  EXPECT_EQ(route(http::verb::get, "/acme/order/1", true).result_int(), 299);
  EXPECT_EQ(status, 405u);
  EXPECT_EQ(allow, "POST");
  EXPECT_EQ(route(http::verb::post, "/acme/nothing", true).result_int(), 299);
  EXPECT_EQ(status, 404u);
  EXPECT_EQ(label_, "unmatched");
  EXPECT_TRUE(handled_.empty());
  // Routed requests never reach it; other prefixes and the plain listener keep the router's answers.
  status = 0;
  EXPECT_EQ(route(http::verb::post, "/acme/order/1", true).result_int(), 200);
  EXPECT_EQ(route(http::verb::get, "/nothing", true).result_int(), 404);
  EXPECT_EQ(route(http::verb::get, "/acme/nothing", false).result_int(), 404);
  EXPECT_EQ(status, 0u);
}

TEST_F(RouterTest, ServesEachRouteOnItsListenerOnly) {
  const auto plain = route(http::verb::get, "/api/v1/certificates/01", false);
  EXPECT_EQ(plain.result_int(), 404);
  EXPECT_NE(plain.body().find("HTTPS"), std::string::npos) << plain.body();
  EXPECT_TRUE(handled_.empty());
  EXPECT_EQ(route(http::verb::get, "/metrics", true).result_int(), 404) << "metrics are on the plain listener only";
  EXPECT_TRUE(handled_.empty());
  EXPECT_EQ(route(http::verb::get, "/metrics", false).result_int(), 200);
}

}  // namespace
}  // namespace hsmca::appliance
