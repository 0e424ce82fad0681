#include "api_handler.hpp"

#include <optional>

#include "enrollment.hpp"
#include "hsmca/signer/clock.hpp"
#include "hsmca/signer/ledger.hpp"
#include "hsmca/signer/revocation.hpp"
#include "hsmca/signer/serial.hpp"

namespace hsmca::appliance {
namespace {

using nlohmann::json;

constexpr std::string_view kCertificates = "/api/v1/certificates";

// A JSON object body whose fields are all among `known`; nullopt after
// answering 400 otherwise.
std::optional<json> json_object(const ExchangePtr& ex, std::initializer_list<std::string_view> known,
                                const std::string& expected) {
  json body = json::parse(ex->ctx.request.body(), nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    ex->error(400, "malformed_request", "expected " + expected);
    return std::nullopt;
  }
  for (const auto& [key, value] : body.items()) {
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      ex->error(400, "malformed_request", "unknown field \"" + key + "\"");
      return std::nullopt;
    }
  }
  return body;
}

}  // namespace

ApiHandler::ApiHandler(const ServiceState& state) : state_(state), chain_json_(json::array()) {
  auto& ca = state.issuing.ca();
  chain_json_.push_back(signer::to_pem(ca.issuer_certificate()));
  for (const auto& c : ca.chain()) chain_json_.push_back(signer::to_pem(c.get()));
}

void ApiHandler::issue(const ExchangePtr& ex) const {
  if (!admit_enrollment(state_, ex, false)) return;
  if (media_type(ex->ctx.request) != "application/json") {
    return ex->error(415, "unsupported_media_type", "send application/json: {\"csr\": PEM, \"profile\": NAME}");
  }
  auto body = json_object(ex, {"csr", "profile"}, "a JSON object with \"csr\" (PEM) and optional \"profile\"");
  if (!body) return;
  if (!body->contains("csr") || !(*body)["csr"].is_string()) {
    return ex->error(400, "malformed_request", "expected a JSON object with \"csr\" (PEM) and optional \"profile\"");
  }
  std::optional<std::string> named;
  if (body->contains("profile")) {
    if (!(*body)["profile"].is_string()) return ex->error(400, "malformed_request", "\"profile\" must be a string");
    named = (*body)["profile"].get<std::string>();
  }
  const auto& pem = (*body)["csr"].get_ref<const std::string&>();
  auto csr = std::make_shared<const signer::Bytes>(pem.begin(), pem.end());
  enroll(state_, ex, std::move(csr), std::move(named), false, [this, ex](const signer::IssuedCertificate& cert) {
    Response res = ex->response(http::status::created);
    res.set(http::field::content_type, "application/json");
    res.set(http::field::location, std::string(kCertificates) + "/" + cert.serial_hex());
    res.body() = json{{"serial", cert.serial_hex()}, {"certificate", cert.pem()}, {"chain", chain_json_}}.dump();
    ex->finish(std::move(res));
  });
}

void ApiHandler::show(const ExchangePtr& ex, const std::string& serial_text) const {
  if (!ex->authenticate()) return;
  if (!ex->identity.has_role(kRoleEnroll) && !ex->identity.has_role(kRoleAdmin)) return (void)ex->authorize(kRoleEnroll);
  const auto serial = signer::parse_serial(serial_text);
  if (!serial) return ex->error(400, "malformed_request", "the serial must be hex, at most 40 digits");
  state_.submit(ex, [this, ex, serial = *serial] {
    auto entry = state_.issuing.ledger().find(state_.issuing.ca().issuer_id(), serial);
    if (!entry) return ex->error(404, "not_found", "no certificate with serial " + serial);
    ex->serial = serial;
    json out = {{"serial", entry->record.serial},
                {"status", signer::status_name(entry->status)},
                {"subject", entry->record.subject},
                {"sans", entry->record.sans},
                {"profile", entry->record.profile},
                {"not_before", entry->record.not_before},
                {"not_after", entry->record.not_after}};
    if (!entry->der.empty()) out["certificate"] = signer::IssuedCertificate::from_der(entry->der).pem();
    ex->finish(200, out.dump(), "application/json");
  });
}

void ApiHandler::revoke(const ExchangePtr& ex, const std::string& serial_text) const {
  if (!ex->authorize(kRoleAdmin)) return;
  const auto serial = signer::parse_serial(serial_text);
  if (!serial) return ex->error(400, "malformed_request", "the serial must be hex, at most 40 digits");
  const auto& req = ex->ctx.request;
  auto reason = signer::RevocationReason::unspecified;
  // The body is optional: no body revokes for an unspecified reason.
  if (!req.body().empty()) {
    if (media_type(req) != "application/json") {
      return ex->error(415, "unsupported_media_type", "send application/json: {\"reason\": NAME}");
    }
    auto body = json_object(ex, {"reason"}, "a JSON object with an optional \"reason\"");
    if (!body) return;
    if (body->contains("reason")) {
      if (!(*body)["reason"].is_string()) return ex->error(400, "malformed_request", "\"reason\" must be a string");
      const auto& name = (*body)["reason"].get_ref<const std::string&>();
      const auto parsed = signer::parse_revocation_reason(name);
      if (!parsed) {
        return ex->error(400, "unknown_reason",
                         "unknown revocation reason '" + name + "' (reasons: " + signer::revocation_reason_names() + ")");
      }
      reason = *parsed;
    }
  }
  state_.submit(ex, [this, ex, serial = *serial, reason] {
    auto& ledger = state_.issuing.ledger();
    const auto& issuer_id = state_.issuing.ca().issuer_id();
    const auto outcome = ledger.revoke(issuer_id, serial, reason, signer::unix_seconds(state_.clock.now()));
    using Result = signer::RevokeOutcome::Result;
    switch (outcome.result) {
      case Result::not_found:
        return ex->error(404, "not_found", "no certificate with serial " + serial);
      case Result::not_issued:
        return ex->error(409, "not_issued",
                         "certificate " + serial + " is " + std::string(signer::status_name(outcome.status)) +
                             ", not issued: there is nothing to revoke");
      case Result::revoked:
      case Result::already_revoked:
        // Before the answer: the next OCSP answer, CRL and client
        // certificate check of this process see the revocation.
        state_.revocations.advance(ledger.revocation_version(issuer_id));
        break;
    }
    ex->serial = serial;
    json out = {{"serial", serial},
                {"status", "revoked"},
                {"revoked_at", signer::rfc3339(outcome.revoked_at)},
                {"reason", std::string(signer::reason_name(outcome.reason))},
                {"already_revoked", outcome.result == Result::already_revoked}};
    ex->finish(200, out.dump(), "application/json");
  });
}

}  // namespace hsmca::appliance
