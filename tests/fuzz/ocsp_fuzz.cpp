// The OCSP request parser (signer/src/ocsp.cpp) and the responder behind it
// (OcspResponder, appliance/src/ocsp_service.cpp). Every request the parser
// accepts must be answered — signed, or unauthorized when it names another
// issuer — without an exception; what it refuses is a Rejection
// (malformedRequest), the one documented refusal. The service must answer
// exactly once, and never with internalError: nothing here fails
// operationally (the ledger lookup and the signing key always answer).
// The input is the DER body of POST /ocsp.
#include <openssl/err.h>
#include <openssl/ocsp.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <span>
#include <string>

#include "fake_clock.hpp"
#include "fuzz_support.hpp"
#include "hsmca/appliance/ocsp_service.hpp"
#include "hsmca/signer/ocsp.hpp"

namespace {

using namespace std::chrono_literals;
using hsmca::fuzz::finding;
using hsmca::signer::OcspStatus;

// A status for every serial, so every branch of the responder is reached:
// by the last hex digit, good, revoked (with every reason) or unknown.
OcspStatus status_of(const std::string& serial_hex) {
  const int digit = serial_hex.empty() ? 0 : std::stoi(serial_hex.substr(serial_hex.size() - 1), nullptr, 16);
  OcspStatus s;
  if (digit % 3 == 0) s.status = OcspStatus::Status::good;
  if (digit % 3 == 1) {
    s.status = OcspStatus::Status::revoked;
    s.revoked_at = 1750000000;
    using R = hsmca::signer::RevocationReason;
    constexpr R kReasons[] = {R::unspecified, R::key_compromise,         R::ca_compromise,      R::affiliation_changed,
                              R::superseded,  R::cessation_of_operation, R::privilege_withdrawn};
    s.reason = kReasons[digit % 7];
  }
  return s;
}

struct Harness {
  Harness()
      : context{hsmca::fuzz::fixed_issuer().certificate.x509(), &hsmca::fuzz::fixed_issuer().key, {}, {}, {}},
        responder(context, hsmca::fuzz::fixed_issuer().key),
        watcher([] { return hsmca::signer::RevocationVersion{}; }, std::chrono::hours(1)),
        service(hsmca::appliance::OcspSigners{&responder}, options(), status_of,
                [] { return hsmca::signer::RevocationVersion{}; }, watcher,
                [this](std::function<void()> job) {
                  jobs.push_back(std::move(job));
                  return true;
                },
                metrics, clock) {}

  static hsmca::appliance::OcspService::Options options() {
    hsmca::appliance::OcspService::Options o;
    o.fresh_signatures_per_second = 1'000'000;  // tryLater is not what is fuzzed
    o.cache_entries = 1'000;
    return o;
  }

  hsmca::signer::IssuerContext context;
  hsmca::signer::OcspResponder responder;
  hsmca::test::FakeClock clock;
  hsmca::appliance::Metrics metrics;
  hsmca::appliance::RevocationWatcher watcher;
  std::deque<std::function<void()>> jobs;
  hsmca::appliance::OcspService service;
};

// OpenSSL reads what the responder signed.
void check_response(const hsmca::signer::Bytes& der) {
  const unsigned char* p = der.data();
  OCSP_RESPONSE* resp = d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der.size()));
  if (resp == nullptr || p != der.data() + der.size()) finding("the responder's answer is not one OCSPResponse");
  OCSP_RESPONSE_free(resp);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Harness* h = new Harness;  // lives for the run: its watcher thread is never joined mid-run
  const std::span<const unsigned char> input(data, size);

  bool parsed = false;
  try {
    auto query = hsmca::signer::parse_ocsp_request(input);
    parsed = query.ok();
    if (parsed) {
      const auto now = h->clock.now();
      check_response(h->responder.respond(query.value(), status_of, now, now + 24h));
      for (const auto& id : query.value().requests) {
        if (h->responder.issued_by_us(id)) {
          check_response(h->responder.respond_one(id, status_of(id.serial_hex), now, now + 24h));
        }
      }
    } else if (query.rejection().code != "malformedRequest") {
      finding("parse_ocsp_request refused with another code than malformedRequest", query.rejection().code);
    }
  } catch (const std::exception& e) {
    finding("the OCSP parser or responder threw", e.what());
  }

  int replies = 0;
  hsmca::appliance::OcspReply reply;
  h->service.answer(input, [&](hsmca::appliance::OcspReply r) {
    ++replies;
    reply = std::move(r);
  });
  while (!h->jobs.empty()) {
    auto job = std::move(h->jobs.front());
    h->jobs.pop_front();
    job();
  }
  if (replies != 1) finding("the OCSP service did not answer exactly once");
  if (reply.status == "internalError") finding("the OCSP service answered internalError");
  if (parsed == (reply.status == "malformedRequest")) {
    finding("the service and the parser disagree on whether the request is malformed", reply.status);
  }
  // Let cached answers age and expire across inputs.
  h->clock.advance(1min);
  ERR_clear_error();
  return 0;
}
