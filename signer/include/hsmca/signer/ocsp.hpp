#pragma once
// The OCSP responder's signer half (RFC 6960, with RFC 5019's profile for
// high-volume responders): requests parsed, responses decided and signed
// through a SigningKey. The HTTP transport (POST /ocsp, GET /ocsp/BASE64) is
// the appliance's.
#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "hsmca/signer/leaf.hpp"
#include "hsmca/signer/openssl.hpp"
#include "hsmca/signer/outcome.hpp"
#include "hsmca/signer/revocation.hpp"
#include "hsmca/signer/signing_key.hpp"

namespace hsmca::signer {

// RFC 6960 4.1.1 CertID: which certificate a request asks about.
struct CertId {
  int hash_nid = NID_undef;   // of hashAlgorithm: NID_sha1 (what most clients send), NID_sha256, ...
  Bytes issuer_name_hash;     // hash of the issuer's DER subject name
  Bytes issuer_key_hash;      // hash of the issuer key's BIT STRING contents
  std::string serial_hex;     // lowercase, as the ledger stores it
  Bytes der;                  // the CertID as the client sent it, echoed in the response
};

// A parsed OCSPRequest (RFC 6960 4.1.1). A request signature
// (optionalSignature), when present, is not checked: hsmca answers anyone.
struct OcspQuery {
  std::vector<CertId> requests;  // never empty
  // The nonce extension's extnValue contents (RFC 8954: an OCTET STRING of
  // 1..32 octets, though older clients send the raw octets), echoed verbatim.
  std::optional<Bytes> nonce;
};

// d2i_OCSP_REQUEST, refusing trailing bytes, an empty requestList and an
// unreadable CertID. Rejection code "malformedRequest" (the RFC 6960
// OCSPResponseStatus the appliance answers with: error_response).
Outcome<OcspQuery> parse_ocsp_request(std::span<const unsigned char> der);

// What the CA knows about one serial.
struct OcspStatus {
  enum class Status { good, revoked, unknown };
  Status status = Status::unknown;
  std::int64_t revoked_at = 0;                              // unix seconds; revoked only
  RevocationReason reason = RevocationReason::unspecified;  // revoked only
};

// RFC 6960 4.2.1 OCSPResponseStatus (4 is not used).
enum class OcspResponseStatus {
  successful = 0,
  malformed_request = 1,
  internal_error = 2,
  try_later = 3,
  sig_required = 5,
  unauthorized = 6,
};

// Signs OCSP responses for the certificates one issuing CA issued, either with
// the CA's own key (responder_cert == nullptr) or as a delegated responder
// (RFC 6960 4.2.2.2: a certificate issued directly by the CA with
// id-kp-OCSPSigning). The issuer's name and key hashes are computed once, here.
//
// Responses (RFC 6960 4.2.1, RFC 5019 2.2): responderID byKey (SHA-1 of the
// signer's subjectPublicKey), producedAt = thisUpdate, one SingleResponse per
// request with the CertID as the client sent it, thisUpdate and nextUpdate;
// revoked: revocationTime and revocationReason (left out for unspecified, as
// in the CRL); the nonce echoed when the request had one; for a delegated
// responder its certificate in `certs`. All times are GeneralizedTime, whole
// seconds. Each response is parsed back and checked with OCSP_basic_verify
// against the issuer certificate before it is returned (VerificationError
// otherwise); token failures propagate as the SigningKey throws them — the
// appliance answers those with error_response(internal_error) or try_later.
//
// Caching (RFC 5019 6): a response to a request without a nonce depends only
// on the CertID, the status and the times, so its bytes can be served again
// until nextUpdate to every client asking with the same CertID (hash
// algorithm included); respond_one pre-builds it. A response that echoes a
// nonce answers that one request only and must never be cached.
//
// Holds pointers to the issuer certificate, the key and the responder
// certificate: they must outlive the responder.
class OcspResponder {
 public:
  // std::invalid_argument when the issuer context has no certificate, the
  // signing key is not the signer certificate's key, or the responder
  // certificate is not issued by the issuer or lacks id-kp-OCSPSigning.
  OcspResponder(const IssuerContext& issuer, const SigningKey& signer_key, X509* responder_cert = nullptr);

  // Whether the CertID names this issuer: both hashes match under its hash
  // algorithm (SHA-1, SHA-256, SHA-384 or SHA-512; any other is not ours).
  bool issued_by_us(const CertId& id) const;

  // The CertID a client using `hash_nid` sends for one of this issuer's
  // serials (lowercase hex), for pre-building cached responses.
  CertId cert_id(const std::string& serial_hex, int hash_nid = NID_sha1) const;

  using StatusLookup = std::function<OcspStatus(const std::string& serial_hex)>;

  // The DER OCSPResponse for `query`. When no CertID is this issuer's:
  // error_response(unauthorized) (RFC 5019 2.2.3); a foreign CertID among
  // ours is answered "unknown" without asking `lookup`.
  // std::invalid_argument when next_update is not after this_update.
  Bytes respond(const OcspQuery& query, const StatusLookup& lookup, std::chrono::system_clock::time_point this_update,
                std::chrono::system_clock::time_point next_update) const;

  // A response for one CertID with a known status and no nonce: cacheable
  // (see above). error_response(unauthorized) when the CertID is not ours.
  Bytes respond_one(const CertId& id, const OcspStatus& status, std::chrono::system_clock::time_point this_update,
                    std::chrono::system_clock::time_point next_update) const;

  // OCSPResponse { responseStatus } without responseBytes, for every status
  // but successful (std::invalid_argument for that).
  static Bytes error_response(OcspResponseStatus status);

 private:
  struct IssuerHashes {
    int hash_nid;
    Bytes name_hash;
    Bytes key_hash;
  };
  struct Answer {
    const CertId* id;
    OcspStatus status;
  };
  Bytes sign_response(std::span<const Answer> answers, const std::optional<Bytes>& nonce, std::time_t this_update,
                      std::time_t next_update) const;
  void check_response(const Bytes& response, const Bytes& tbs, bool only_ours) const;

  X509* issuer_cert_;
  const SigningKey* key_;
  X509* responder_cert_;  // nullptr: the issuer signs
  std::array<IssuerHashes, 4> hashes_;
  Bytes responder_key_hash_;  // SHA-1 of the signer's subjectPublicKey, the responderID
  Bytes responder_cert_der_;  // empty when the issuer signs
};

}  // namespace hsmca::signer
