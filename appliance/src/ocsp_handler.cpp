#include "ocsp_handler.hpp"

#include <iostream>

#include "hsmca/appliance/ocsp_http.hpp"
#include "hsmca/signer/certificate.hpp"
#include "hsmca/signer/strict_yaml.hpp"

namespace hsmca::appliance {
namespace {

// Bounds the OCSP answer cache (~0.5-1 KiB each): enough for every
// certificate a busy issuing CA has out, small next to a flood of random CertIDs.
constexpr std::size_t kOcspCacheEntries = 20'000;

}  // namespace

OcspHandler::OcspHandler(const ServiceState& state) : state_(state) {
  auto& issuing = state.issuing;
  const auto& revocation = state.ca_config.revocation;
  issuer_.certificate = issuing.ca().issuer_certificate();
  issuer_.key = &issuing.key();
  issuer_responder_ = std::make_unique<signer::OcspResponder>(issuer_, issuing.key());
  OcspSigners signers;
  signers.issuer = issuer_responder_.get();
  OcspService::Options options;
  options.validity = std::chrono::hours{revocation.ocsp_validity_hours};
  options.fresh_signatures_per_second = revocation.ocsp_fresh_signatures_per_second;
  options.cache_entries = kOcspCacheEntries;
  if (issuing.ocsp_key()) {
    X509* cert = issuing.ocsp_certificate();
    try {
      delegated_responder_ = std::make_unique<signer::OcspResponder>(issuer_, *issuing.ocsp_key(), cert);
    } catch (const std::invalid_argument& e) {
      throw signer::ConfigError("revocation.ocsp_signer: " + std::string(e.what()));
    }
    signers.delegated = delegated_responder_.get();
    signers.delegated_from = std::chrono::system_clock::time_point{std::chrono::seconds{signer::unix_seconds(X509_get0_notBefore(cert))}};
    signers.delegated_until = std::chrono::system_clock::time_point{std::chrono::seconds{signer::unix_seconds(X509_get0_notAfter(cert))}};
    if (signers.delegated_until < state.clock.now() + options.validity) {
      std::cerr << "warning: the OCSP responder certificate " << revocation.ocsp_signer->certificate.string()
                << " ends " << signer::rfc3339(signers.delegated_until, false)
                << ", before the responses it would sign: the issuing key signs OCSP responses until it is renewed"
                   " (hsmca ceremony run with ceremony: ocsp-signer)\n";
    }
  }
  auto& ca = issuing.ca();
  service_ = std::make_unique<OcspService>(
      signers, options, [&ca](const std::string& serial) { return ca.ocsp_status(serial); },
      [&issuing] { return issuing.ledger().revocation_version(issuing.ca().issuer_id()); }, state.revocations,
      [&state](std::function<void()> job) { return state.pool.try_submit(std::move(job)); }, state.metrics,
      state.clock);
}

void OcspHandler::post(const ExchangePtr& ex) const { answer_ocsp_post(*service_, state_.clock, ex); }

void OcspHandler::get(const ExchangePtr& ex, const std::string& encoded) const {
  answer_ocsp_get(*service_, state_.clock, ex, encoded);
}

namespace {

// The OCSPResponse; a cacheable answer gets the RFC 5019 6.2 caching
// headers, everything else must not be stored.
void send(const signer::Clock& clock, const ExchangePtr& ex, const OcspReply& reply) {
  ex->metrics().count_ocsp(reply.status, reply.source);
  if (!reply.serial.empty()) ex->serial = reply.serial;
  Response res = ex->response(static_cast<http::status>(reply.http_status));
  res.set(http::field::content_type, "application/ocsp-response");
  if (reply.cacheable) {
    const auto now = clock.now();
    const auto left = std::chrono::duration_cast<std::chrono::seconds>(reply.cacheable->next_update - now).count();
    res.set(http::field::last_modified, http_date(reply.cacheable->this_update));
    res.set(http::field::expires, http_date(reply.cacheable->next_update));
    res.set(http::field::cache_control,
            "max-age=" + std::to_string(left > 0 ? left : 0) + ", public, no-transform, must-revalidate");
  } else {
    res.set(http::field::cache_control, "no-store");
  }
  if (reply.http_status == 503) res.set(http::field::retry_after, "1");
  res.body() = reply.der;
  ex->finish(std::move(res));
}

void answer(OcspService& service, const signer::Clock& clock, const ExchangePtr& ex,
            std::span<const unsigned char> der) {
  service.answer(der, [&clock, ex](OcspReply reply) { send(clock, ex, reply); });
}

}  // namespace

void answer_ocsp_post(OcspService& service, const signer::Clock& clock, const ExchangePtr& ex) {
  const auto& req = ex->ctx.request;
  if (media_type(req) != "application/ocsp-request") return send(clock, ex, service.malformed(415));
  const auto& body = req.body();
  answer(service, clock, ex, std::span(reinterpret_cast<const unsigned char*>(body.data()), body.size()));
}

// RFC 6960 A.1.1: GET {url}/{url-encoding of base-64 encoding of the DER encoding of the OCSPRequest}
void answer_ocsp_get(OcspService& service, const signer::Clock& clock, const ExchangePtr& ex,
                     const std::string& encoded) {
  auto der = decode_ocsp_get(encoded);
  if (!der) return send(clock, ex, service.malformed(200));
  answer(service, clock, ex, *der);
}

}  // namespace hsmca::appliance
