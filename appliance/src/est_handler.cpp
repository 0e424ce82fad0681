#include "est_handler.hpp"

#include "enrollment.hpp"
#include "hsmca/appliance/est.hpp"

namespace hsmca::appliance {

EstHandler::EstHandler(const ServiceState& state) : state_(state) {
  auto& ca = state.issuing.ca();
  std::vector<signer::Bytes> ders{signer::to_der(ca.issuer_certificate())};
  for (const auto& c : ca.chain()) ders.push_back(signer::to_der(c.get()));
  cacerts_body_ = base64_encode(certs_only_from_der(std::vector<std::span<const unsigned char>>(ders.begin(), ders.end())));
}

void EstHandler::cacerts(const ExchangePtr& ex) const {
  Response res = ex->response(http::status::ok);
  res.set(http::field::content_type, "application/pkcs7-mime");
  res.set("Content-Transfer-Encoding", "base64");
  res.body() = cacerts_body_;
  ex->finish(std::move(res));
}

void EstHandler::csrattrs(const ExchangePtr& ex, const std::string& label) const {
  const std::string name = label.empty() ? state_.config.default_profile : label;
  const signer::Profile* profile = state_.issuing.ca().profile(name);
  // A profile for `hsmca sign` alone is nobody's business over the network.
  if (profile == nullptr || profile->requesters.empty()) {
    return ex->error(404, "unknown_profile", "no profile '" + name + "' that remote callers may request");
  }
  const auto der = signer::csr_attributes(*profile);
  if (der.empty()) return ex->finish(ex->response(http::status::no_content));
  Response res = ex->response(http::status::ok);
  res.set(http::field::content_type, "application/csrattrs");
  res.set("Content-Transfer-Encoding", "base64");
  res.body() = base64_encode(der);
  ex->finish(std::move(res));
}

void EstHandler::enroll(const ExchangePtr& ex, const std::string& label, bool reenroll) const {
  if (!admit_enrollment(state_, ex, reenroll)) return;
  if (media_type(ex->ctx.request) != "application/pkcs10") {
    return ex->error(415, "unsupported_media_type", "send the request as application/pkcs10 (base64 DER)");
  }
  auto der = base64_decode(ex->ctx.request.body());
  if (!der || der->empty()) return ex->error(400, "malformed_request", "the body is not base64 DER");
  auto csr = std::make_shared<const signer::Bytes>(std::move(*der));
  appliance::enroll(state_, ex, std::move(csr), label.empty() ? std::nullopt : std::optional<std::string>(label),
                    reenroll, [ex](const signer::IssuedCertificate& cert) {
                      Response res = ex->response(http::status::ok);
                      res.set(http::field::content_type, "application/pkcs7-mime; smime-type=certs-only");
                      res.set("Content-Transfer-Encoding", "base64");
                      res.body() = base64_encode(
                          certs_only_from_der(std::vector<std::span<const unsigned char>>{cert.der()}));
                      ex->finish(std::move(res));
                    });
}

}  // namespace hsmca::appliance
