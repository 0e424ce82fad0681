#include "est_handler.hpp"

#include "enrollment.hpp"
#include "hsmca/appliance/est.hpp"
#include "hsmca/signer/der.hpp"

namespace hsmca::appliance {

EstHandler::EstHandler(const ServiceState& state) : state_(state) {
  auto& ca = state.issuing.ca();
  std::vector<signer::Bytes> chain{signer::der::encode(i2d_X509, ca.issuer_certificate(), "i2d_X509")};
  for (const auto& c : ca.chain()) chain.push_back(signer::der::encode(i2d_X509, c.get(), "i2d_X509"));
  cacerts_body_ =
      base64_encode(certs_only_from_der(std::vector<std::span<const unsigned char>>(chain.begin(), chain.end())));
}

void EstHandler::cacerts(const ExchangePtr& ex) const {
  Response res = ex->response(http::status::ok);
  res.set(http::field::content_type, "application/pkcs7-mime");
  res.set("Content-Transfer-Encoding", "base64");
  res.body() = cacerts_body_;
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
