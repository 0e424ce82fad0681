#include "hsmca/signer/ocsp.hpp"

#include <openssl/ocsp.h>

#include <algorithm>
#include <array>
#include <stdexcept>

#include "hsmca/signer/der.hpp"
#include "hsmca/signer/clock.hpp"
#include "hsmca/signer/signed_object.hpp"
#include "x509_build.hpp"

namespace hsmca::signer {
namespace {

using OcspRequestPtr = std::unique_ptr<OCSP_REQUEST, Free<OCSP_REQUEST_free>>;
using OcspResponsePtr = std::unique_ptr<OCSP_RESPONSE, Free<OCSP_RESPONSE_free>>;
using OcspBasicRespPtr = std::unique_ptr<OCSP_BASICRESP, Free<OCSP_BASICRESP_free>>;
using OcspCertIdPtr = std::unique_ptr<OCSP_CERTID, Free<OCSP_CERTID_free>>;
using X509StorePtr = std::unique_ptr<X509_STORE, Free<X509_STORE_free>>;
// sk_X509_free is a macro in OpenSSL 3.0, not a function a deleter can name.
void free_x509_stack(STACK_OF(X509) * s) noexcept { sk_X509_free(s); }
using X509StackPtr = std::unique_ptr<STACK_OF(X509), Free<free_x509_stack>>;
using Asn1GeneralizedTimePtr = std::unique_ptr<ASN1_GENERALIZEDTIME, Free<ASN1_GENERALIZEDTIME_free>>;

constexpr std::array<int, 4> kHashNids{NID_sha1, NID_sha256, NID_sha384, NID_sha512};

// id-pkix-ocsp-basic, 1.3.6.1.5.5.7.48.1.1 (RFC 6960 4.2.1).
constexpr std::array<unsigned char, 11> kOcspBasicOid{0x06, 0x09, 0x2b, 0x06, 0x01, 0x05,
                                                       0x05, 0x07, 0x30, 0x01, 0x01};

Bytes tagged(unsigned char tag, std::span<const unsigned char> contents) {
  Bytes out;
  der::append_header(out, tag, contents.size());
  out.insert(out.end(), contents.begin(), contents.end());
  return out;
}

// The contents octets of a DER TLV whose header this module wrote or checked.
std::span<const unsigned char> contents_of(std::span<const unsigned char> tlv) {
  if (tlv.size() < 2) throw std::logic_error("DER value too short");
  const std::size_t header = tlv[1] < 0x80 ? 2 : 2 + (tlv[1] & 0x7f);
  return tlv.subspan(header);
}

Bytes bytes_of(const ASN1_STRING* s) {
  const unsigned char* data = ASN1_STRING_get0_data(s);
  return Bytes(data, data + ASN1_STRING_length(s));
}

Bytes digest(int nid, std::span<const unsigned char> data) {
  const EVP_MD* md = EVP_get_digestbynid(nid);
  if (md == nullptr) throw OpenSslError("EVP_get_digestbynid");
  Bytes out(EVP_MAX_MD_SIZE);
  unsigned int len = 0;
  detail::check(EVP_Digest(data.data(), data.size(), out.data(), &len, md, nullptr), "EVP_Digest");
  out.resize(len);
  return out;
}

// The parts of a CertID; nullopt when OpenSSL cannot read them.
std::optional<CertId> read_cert_id(OCSP_CERTID* cid) {
  ASN1_OCTET_STRING* name_hash = nullptr;
  ASN1_OBJECT* hash_alg = nullptr;
  ASN1_OCTET_STRING* key_hash = nullptr;
  ASN1_INTEGER* serial = nullptr;
  if (OCSP_id_get0_info(&name_hash, &hash_alg, &key_hash, &serial, cid) != 1 || name_hash == nullptr ||
      hash_alg == nullptr || key_hash == nullptr || serial == nullptr) {
    return std::nullopt;
  }
  CertId id;
  id.hash_nid = OBJ_obj2nid(hash_alg);
  id.issuer_name_hash = bytes_of(name_hash);
  id.issuer_key_hash = bytes_of(key_hash);
  id.serial_hex = detail::serial_hex(serial);
  unsigned char* der = nullptr;
  const int len = i2d_OCSP_CERTID(cid, &der);
  if (len <= 0) return std::nullopt;
  id.der.assign(der, der + len);
  OPENSSL_free(der);
  // The hash algorithm's parameters are absent or NULL (RFC 6960 4.1.1 via
  // RFC 5754). Any other value would make the same certificate's CertID
  // endlessly many different ones: each a cache miss and a signature.
  const unsigned char* p = id.der.data();
  long inner_length = 0;
  int tag = 0, klass = 0;
  if (ASN1_get_object(&p, &inner_length, &tag, &klass, static_cast<long>(id.der.size())) & 0x80) return std::nullopt;
  std::unique_ptr<X509_ALGOR, Free<X509_ALGOR_free>> algorithm(
      d2i_X509_ALGOR(nullptr, &p, static_cast<long>(id.der.data() + id.der.size() - p)));
  if (!algorithm) return std::nullopt;
  int parameter_type = V_ASN1_UNDEF;
  X509_ALGOR_get0(nullptr, &parameter_type, nullptr, algorithm.get());
  if (parameter_type != V_ASN1_UNDEF && parameter_type != V_ASN1_NULL) return std::nullopt;
  return id;
}

Rejection malformed(const std::string& why) {
  drain_openssl_errors();
  return {"malformedRequest", why};
}

Bytes generalized_time(std::time_t t) {
  Asn1GeneralizedTimePtr time(ASN1_GENERALIZEDTIME_set(nullptr, t));
  if (!time) throw OpenSslError("ASN1_GENERALIZEDTIME_set");
  return der::encode(i2d_ASN1_GENERALIZEDTIME, time.get(), "i2d_ASN1_GENERALIZEDTIME");
}

}  // namespace

Outcome<OcspQuery> parse_ocsp_request(std::span<const unsigned char> der) {
  const unsigned char* p = der.data();
  OcspRequestPtr req(d2i_OCSP_REQUEST(nullptr, &p, static_cast<long>(der.size())));
  if (!req) return malformed("the request is not a DER OCSPRequest");
  if (p != der.data() + der.size()) return malformed("bytes follow the OCSPRequest");
  const int count = OCSP_request_onereq_count(req.get());
  if (count <= 0) return malformed("the OCSPRequest asks about no certificate");

  OcspQuery query;
  for (int i = 0; i < count; ++i) {
    auto id = read_cert_id(OCSP_onereq_get0_id(OCSP_request_onereq_get0(req.get(), i)));
    if (!id) return malformed("a CertID cannot be read");
    query.requests.push_back(std::move(*id));
  }
  const int nonce_at = OCSP_REQUEST_get_ext_by_NID(req.get(), NID_id_pkix_OCSP_Nonce, -1);
  if (nonce_at >= 0) {
    const ASN1_OCTET_STRING* value = X509_EXTENSION_get_data(OCSP_REQUEST_get_ext(req.get(), nonce_at));
    query.nonce = bytes_of(value);
  }
  return query;
}

OcspResponder::OcspResponder(const IssuerContext& issuer, const SigningKey& signer_key, X509* responder_cert)
    : issuer_cert_(issuer.certificate), key_(&signer_key), responder_cert_(responder_cert), hashes_{} {
  if (issuer_cert_ == nullptr) throw std::invalid_argument("OcspResponder needs the issuer certificate");
  X509* signer = responder_cert_ != nullptr ? responder_cert_ : issuer_cert_;
  if (!spki_matches(signer, signer_key.spki_der())) {
    throw std::invalid_argument(responder_cert_ != nullptr
                                    ? "the signing key is not the responder certificate's key"
                                    : "the signing key is not the issuer certificate's key");
  }
  if (responder_cert_ != nullptr) {
    // RFC 6960 4.2.2.2: issued directly by the CA, with id-kp-OCSPSigning.
    if (X509_check_issued(issuer_cert_, responder_cert_) != X509_V_OK ||
        X509_verify(responder_cert_, X509_get0_pubkey(issuer_cert_)) != 1) {
      drain_openssl_errors();
      throw std::invalid_argument("the responder certificate is not issued by the issuer");
    }
    if ((X509_get_extension_flags(responder_cert_) & EXFLAG_XKUSAGE) == 0 ||
        (X509_get_extended_key_usage(responder_cert_) & XKU_OCSP_SIGN) == 0) {
      throw std::invalid_argument("the responder certificate lacks id-kp-OCSPSigning");
    }
    responder_cert_der_ = to_der(responder_cert_);
  }

  // RFC 6960 4.1.1: the hash of the issuer's DER name and of its key's BIT
  // STRING contents (tag, length and unused-bits octet excluded).
  const Bytes name_der = der::encode(i2d_X509_NAME, X509_get_subject_name(issuer_cert_), "i2d_X509_NAME");
  const ASN1_BIT_STRING* key_bits = X509_get0_pubkey_bitstr(issuer_cert_);
  if (key_bits == nullptr) throw OpenSslError("X509_get0_pubkey_bitstr(issuer)");
  const Bytes key = bytes_of(key_bits);
  for (std::size_t i = 0; i < kHashNids.size(); ++i) {
    hashes_[i] = {kHashNids[i], digest(kHashNids[i], name_der), digest(kHashNids[i], key)};
  }
  const ASN1_BIT_STRING* signer_bits = X509_get0_pubkey_bitstr(signer);
  if (signer_bits == nullptr) throw OpenSslError("X509_get0_pubkey_bitstr(responder)");
  responder_key_hash_ = digest(NID_sha1, bytes_of(signer_bits));  // RFC 6960 4.2.1 KeyHash
}

bool OcspResponder::issued_by_us(const CertId& id) const {
  return std::ranges::any_of(hashes_, [&id](const IssuerHashes& h) {
    return h.hash_nid == id.hash_nid && h.name_hash == id.issuer_name_hash && h.key_hash == id.issuer_key_hash;
  });
}

CertId OcspResponder::cert_id(const std::string& serial_hex, int hash_nid) const {
  if (std::ranges::find(kHashNids, hash_nid) == kHashNids.end()) {
    throw std::invalid_argument("cert_id: the hash must be SHA-1, SHA-256, SHA-384 or SHA-512");
  }
  const Asn1IntegerPtr serial = integer_from_hex(serial_hex);
  if (!serial) throw std::invalid_argument("cert_id: the serial must be hex, got \"" + serial_hex + "\"");
  OcspCertIdPtr cid(OCSP_cert_id_new(EVP_get_digestbynid(hash_nid), X509_get_subject_name(issuer_cert_),
                                     X509_get0_pubkey_bitstr(issuer_cert_), serial.get()));
  if (!cid) throw OpenSslError("OCSP_cert_id_new");
  auto id = read_cert_id(cid.get());
  if (!id) throw OpenSslError("OCSP_id_get0_info");
  return std::move(*id);
}

Bytes OcspResponder::respond(const OcspQuery& query, const StatusLookup& lookup,
                             std::chrono::system_clock::time_point this_update,
                             std::chrono::system_clock::time_point next_update) const {
  const std::time_t this_seconds = unix_seconds(this_update);
  const std::time_t next_seconds = unix_seconds(next_update);
  if (next_seconds <= this_seconds) throw std::invalid_argument("OCSP: nextUpdate must be after thisUpdate");
  if (query.requests.empty()) return error_response(OcspResponseStatus::malformed_request);

  if (std::ranges::none_of(query.requests, [this](const CertId& id) { return issued_by_us(id); })) {
    return error_response(OcspResponseStatus::unauthorized);
  }
  std::vector<Answer> answers;
  answers.reserve(query.requests.size());
  for (const CertId& id : query.requests) {
    answers.push_back({&id, issued_by_us(id) ? lookup(id.serial_hex) : OcspStatus{}});
  }
  return sign_response(answers, query.nonce, this_seconds, next_seconds);
}

Bytes OcspResponder::respond_one(const CertId& id, const OcspStatus& status,
                                 std::chrono::system_clock::time_point this_update,
                                 std::chrono::system_clock::time_point next_update) const {
  OcspQuery query{{id}, std::nullopt};
  return respond(query, [&status](const std::string&) { return status; }, this_update, next_update);
}

Bytes OcspResponder::error_response(OcspResponseStatus status) {
  if (status == OcspResponseStatus::successful) {
    throw std::invalid_argument("error_response: a successful response carries responseBytes");
  }
  // OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED } (responseBytes absent).
  return {0x30, 0x03, 0x0a, 0x01, static_cast<unsigned char>(status)};
}

Bytes OcspResponder::sign_response(std::span<const Answer> answers, const std::optional<Bytes>& nonce,
                                   std::time_t this_update, std::time_t next_update) const {
  // OpenSSL 3.0 signs a BasicOCSPResponse only with an EVP_PKEY (OCSP_basic_sign),
  // and the token's key is not one. So OpenSSL builds the SingleResponses
  // (OCSP_basic_add1_status into a scratch BASICRESP) and the ResponseData
  // around them is written here, then signed through the SigningKey.
  OcspBasicRespPtr scratch(OCSP_BASICRESP_new());
  if (!scratch) throw OpenSslError("OCSP_BASICRESP_new");
  const Asn1TimePtr this_time = detail::asn1_time(this_update);
  const Asn1TimePtr next_time = detail::asn1_time(next_update);
  for (const Answer& answer : answers) {
    const unsigned char* p = answer.id->der.data();
    OcspCertIdPtr cid(d2i_OCSP_CERTID(nullptr, &p, static_cast<long>(answer.id->der.size())));
    if (!cid) throw OpenSslError("d2i_OCSP_CERTID");
    int status = V_OCSP_CERTSTATUS_UNKNOWN;
    int reason = OCSP_REVOKED_STATUS_NOSTATUS;  // revocationReason left out
    Asn1TimePtr revoked_at;
    switch (answer.status.status) {
      case OcspStatus::Status::good:
        status = V_OCSP_CERTSTATUS_GOOD;
        break;
      case OcspStatus::Status::revoked:
        status = V_OCSP_CERTSTATUS_REVOKED;
        revoked_at = detail::asn1_time(static_cast<std::time_t>(answer.status.revoked_at));
        if (answer.status.reason != RevocationReason::unspecified) reason = reason_code(answer.status.reason);
        break;
      case OcspStatus::Status::unknown:
        break;
    }
    // Copies the CertID and converts every time to GeneralizedTime (RFC 6960 4.2.2.1).
    if (OCSP_basic_add1_status(scratch.get(), cid.get(), status, reason, revoked_at.get(), this_time.get(),
                               next_time.get()) == nullptr) {
      throw OpenSslError("OCSP_basic_add1_status");
    }
  }

  Bytes singles;
  for (int i = 0; i < OCSP_resp_count(scratch.get()); ++i) {
    const Bytes single = der::encode(i2d_OCSP_SINGLERESP, OCSP_resp_get0(scratch.get(), i), "i2d_OCSP_SINGLERESP");
    singles.insert(singles.end(), single.begin(), single.end());
  }
  // ResponseData ::= SEQUENCE { version [0] DEFAULT v1 (left out), responderID
  // byKey [2] EXPLICIT KeyHash, producedAt, responses, responseExtensions [1] }
  const Bytes responder_id = tagged(0xa2, tagged(0x04, responder_key_hash_));
  const Bytes produced_at = generalized_time(this_update);
  const Bytes responses = tagged(0x30, singles);
  Bytes extensions;
  if (nonce) {
    Asn1OctetStringPtr value(ASN1_OCTET_STRING_new());
    if (!value) throw OpenSslError("ASN1_OCTET_STRING_new");
    detail::check(ASN1_OCTET_STRING_set(value.get(), nonce->data(), static_cast<int>(nonce->size())),
                  "ASN1_OCTET_STRING_set");
    // The request's extnValue as it came: a client compares it byte for byte.
    X509ExtensionPtr ext(X509_EXTENSION_create_by_NID(nullptr, NID_id_pkix_OCSP_Nonce, 0, value.get()));
    if (!ext) throw OpenSslError("X509_EXTENSION_create_by_NID(nonce)");
    extensions = tagged(0xa1, der::sequence({der::encode(i2d_X509_EXTENSION, ext.get(), "i2d_X509_EXTENSION")}));
  }
  const Bytes tbs = der::sequence({responder_id, produced_at, responses, extensions});

  // sign_tbs: SEQUENCE { tbsResponseData, signatureAlgorithm, signature },
  // its signature verified under the key's public key.
  Bytes basic = sign_tbs(*key_, tbs);
  if (!responder_cert_der_.empty()) {
    // certs [0] EXPLICIT SEQUENCE OF Certificate: the delegated responder's
    // certificate, so a client can check the delegation (RFC 6960 4.2.2.2).
    const Bytes certs = tagged(0xa0, der::sequence({responder_cert_der_}));
    basic = der::sequence({contents_of(basic), certs});
  }
  // OCSPResponse ::= SEQUENCE { responseStatus successful, responseBytes [0]
  // EXPLICIT SEQUENCE { responseType id-pkix-ocsp-basic, response OCTET STRING } }
  static constexpr std::array<unsigned char, 3> kSuccessful{0x0a, 0x01, 0x00};
  const Bytes response_bytes = tagged(0xa0, der::sequence({kOcspBasicOid, tagged(0x04, basic)}));
  const Bytes response = der::sequence({kSuccessful, response_bytes});

  const bool only_ours = std::ranges::all_of(answers, [this](const Answer& a) { return issued_by_us(*a.id); });
  check_response(response, tbs, only_ours);
  return response;
}

void OcspResponder::check_response(const Bytes& response, const Bytes& tbs, bool only_ours) const {
  const unsigned char* p = response.data();
  OcspResponsePtr parsed(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(response.size())));
  if (!parsed || p != response.data() + response.size()) {
    throw VerificationError("the OCSP response does not parse as exactly one OCSPResponse: " +
                            drain_openssl_errors());
  }
  OcspBasicRespPtr basic(OCSP_response_get1_basic(parsed.get()));
  if (!basic) throw VerificationError("the OCSP response carries no BasicOCSPResponse: " + drain_openssl_errors());
  // The ResponseData OpenSSL reads back must be exactly what was signed.
  if (!std::ranges::equal(der::encode(i2d_OCSP_RESPDATA, OCSP_resp_get0_respdata(basic.get()), "i2d_OCSP_RESPDATA"),
                          tbs)) {
    throw VerificationError("the OCSP response re-encodes to a different ResponseData");
  }

  // As a relying party that trusts the issuer checks it: the signer found by
  // responderID (the issuer itself, or the certificate in `certs`), its
  // signature, its chain to the issuer, and RFC 6960 4.2.2.2's authorization.
  // The issuer is a trust anchor here although it is not self-signed, hence
  // X509_V_FLAG_PARTIAL_CHAIN. A foreign CertID answered "unknown" beside
  // ours cannot pass the authorization check, so only then is it left out.
  X509StorePtr store(X509_STORE_new());
  if (!store) throw OpenSslError("X509_STORE_new");
  detail::check(X509_STORE_add_cert(store.get(), issuer_cert_), "X509_STORE_add_cert");
  detail::check(X509_STORE_set_flags(store.get(), X509_V_FLAG_PARTIAL_CHAIN), "X509_STORE_set_flags");
  X509StackPtr signers(sk_X509_new_null());
  if (!signers) throw OpenSslError("sk_X509_new_null");
  if (responder_cert_ == nullptr && sk_X509_push(signers.get(), issuer_cert_) <= 0) throw OpenSslError("sk_X509_push");
  unsigned long flags = OCSP_NOEXPLICIT;
  if (!only_ours) flags |= OCSP_NOCHECKS;
  if (OCSP_basic_verify(basic.get(), signers.get(), store.get(), flags) != 1) {
    throw VerificationError("the OCSP response does not verify against the issuer: " + drain_openssl_errors());
  }
}

}  // namespace hsmca::signer
