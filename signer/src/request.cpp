#include "hsmca/signer/request.hpp"

#include <arpa/inet.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>

#include <algorithm>
#include <array>
#include <optional>
#include <string_view>

#include "hsmca/signer/der.hpp"
#include "request_reader.hpp"
#include "strict_der.hpp"
#include "x509_build.hpp"
#include "hsmca/signer/algorithm.hpp"
#include "hsmca/signer/signed_object.hpp"

namespace hsmca::signer {
namespace {

using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, Free<GENERAL_NAMES_free>>;

struct FreeExtensions {
  void operator()(STACK_OF(X509_EXTENSION) * s) const noexcept { sk_X509_EXTENSION_pop_free(s, X509_EXTENSION_free); }
};
using ExtensionsPtr = std::unique_ptr<STACK_OF(X509_EXTENSION), FreeExtensions>;

struct FreeOpenSsl {
  void operator()(void* p) const noexcept { OPENSSL_free(p); }
};
using OpenSslStringPtr = std::unique_ptr<char, FreeOpenSsl>;
using OpenSslBytesPtr = std::unique_ptr<unsigned char, FreeOpenSsl>;

constexpr std::string_view kPemBegin = "-----BEGIN";

using detail::check;

// Parse and decode failures are the sender's problem, reported in the
// Rejection; OpenSSL's queue is emptied so its entries never surface under an
// unrelated later error.
Rejection rejection(std::string code, std::string message) {
  drain_openssl_errors();
  return Rejection{std::move(code), std::move(message)};
}

Rejection malformed(const std::string& message) { return rejection("malformed_request", message); }

// The same, with OpenSSL's reasons appended ("...: bad base64 decode").
Rejection with_reasons(std::string code, const std::string& message) {
  const std::string reasons = drain_openssl_errors();
  return Rejection{std::move(code), reasons.empty() ? message : message + ": " + reasons};
}

Rejection malformed_with_reasons(const std::string& message) { return with_reasons("malformed_request", message); }

Rejection key_policy(const std::string& message) { return rejection("key_policy", message); }

bool is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

Outcome<X509ReqPtr> decode_der(std::span<const unsigned char> der) {
  const unsigned char* p = der.data();
  X509ReqPtr req(d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size())));
  if (!req) return malformed_with_reasons("not a PKCS#10 certificate request in DER or PEM");
  if (p != der.data() + der.size()) {
    return malformed(std::to_string(der.data() + der.size() - p) +
                     " bytes follow the request: exactly one is accepted");
  }
  return req;
}

// The DER inside exactly one PEM block.
Outcome<Bytes> pem_contents(std::span<const unsigned char> pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) throw OpenSslError("BIO_new_mem_buf");
  char* raw_name = nullptr;
  char* raw_header = nullptr;
  unsigned char* raw_data = nullptr;
  long len = 0;
  const int ok = PEM_read_bio(bio.get(), &raw_name, &raw_header, &raw_data, &len);
  const OpenSslStringPtr name(raw_name);
  const OpenSslStringPtr header(raw_header);
  const OpenSslBytesPtr data(raw_data);
  if (ok != 1) return malformed_with_reasons("the PEM does not decode");
  const std::string_view label(name.get());
  // RFC 7468 5.1; "NEW CERTIFICATE REQUEST" is what Netscape and old
  // Microsoft tools write, and OpenSSL reads both.
  if (label != PEM_STRING_X509_REQ && label != PEM_STRING_X509_REQ_OLD) {
    return malformed("the PEM holds a \"" + std::string(label) + "\", not a \"CERTIFICATE REQUEST\"");
  }
  if (header && header.get()[0] != '\0') {
    return malformed("the PEM block has headers (RFC 1421 encryption?): a plain request is expected");
  }
  // Whatever PEM_read_bio left unread must be line ends and blanks.
  const char* rest = nullptr;
  const long rest_len = BIO_get_mem_data(bio.get(), &rest);
  const std::string_view tail(rest, rest_len > 0 ? static_cast<std::size_t>(rest_len) : 0);
  if (tail.find(kPemBegin) != std::string_view::npos) {
    return malformed("more than one PEM block: exactly one request is accepted");
  }
  if (!std::ranges::all_of(tail, [](char c) { return is_space(static_cast<unsigned char>(c)); })) {
    return malformed("text follows the PEM block's END line");
  }
  return Bytes(data.get(), data.get() + len);
}

bool is_algorithm(const ASN1_OBJECT* oid, int nid) { return OBJ_obj2nid(oid) == nid; }

std::string object_name(const ASN1_OBJECT* oid) {
  std::array<char, 128> buf{};
  const int n = OBJ_obj2txt(buf.data(), static_cast<int>(buf.size()), oid, 0);
  return n > 0 ? std::string(buf.data()) : std::string("an unknown OID");
}

// The allowed key types; key_policy names what was found instead.
struct KeyVerdict {
  std::string key_type;
  bool rsa = false;
};

Outcome<KeyVerdict> check_rsa(EVP_PKEY* key) {
  const int bits = EVP_PKEY_get_bits(key);
  if (bits < 2048) return key_policy("RSA key of " + std::to_string(bits) + " bits: the minimum is 2048");
  // OpenSSL itself refuses to verify with larger moduli (OPENSSL_RSA_MAX_MODULUS_BITS).
  if (bits > 16384) return key_policy("RSA key of " + std::to_string(bits) + " bits: the maximum is 16384");
  BIGNUM* raw_e = nullptr;
  if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &raw_e) != 1) throw OpenSslError("EVP_PKEY_get_bn_param(e)");
  const BignumPtr e(raw_e);
  // The BRs (6.1.6) require only an odd e >= 3 and recommend e > 2^16; 65537
  // is what every real client generates, and small exponents have a history
  // of padding attacks (Bleichenbacher 2006, e = 3).
  if (BN_is_word(e.get(), 65537) != 1) {
    const OpenSslStringPtr dec(BN_bn2dec(e.get()));
    return key_policy("RSA public exponent " + std::string(dec ? dec.get() : "?") + ": only 65537 is allowed");
  }
  return KeyVerdict{"rsa-" + std::to_string(bits), true};
}

Outcome<KeyVerdict> check_ec(EVP_PKEY* key) {
  // RFC 5480 2.1.1: namedCurve only. A P-256 spelled out as explicit
  // parameters may even be recognised by OpenSSL, but it is not what a
  // relying party expects to find in a certificate.
  std::array<char, 32> encoding{};
  const bool named = EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_EC_ENCODING, encoding.data(),
                                                     encoding.size(), nullptr) == 1 &&
                     std::string_view(encoding.data()) == OSSL_PKEY_EC_ENCODING_GROUP;
  if (!named) {
    return key_policy(
        "EC key with explicit curve parameters: only the named curves P-256, P-384 and P-521 are allowed");
  }
  std::array<char, 80> group{};
  if (EVP_PKEY_get_group_name(key, group.data(), group.size(), nullptr) != 1) {
    return key_policy("EC key on an unnamed curve: only P-256, P-384 and P-521 are allowed");
  }
  int nid = OBJ_sn2nid(group.data());
  if (nid == NID_undef) nid = EC_curve_nist2nid(group.data());
  const char* key_type = nid == NID_X9_62_prime256v1 ? "ec-p256"
                         : nid == NID_secp384r1      ? "ec-p384"
                         : nid == NID_secp521r1      ? "ec-p521"
                                                     : nullptr;
  if (key_type == nullptr) {
    return key_policy("EC key on curve " + std::string(group.data()) + ": only P-256, P-384 and P-521 are allowed");
  }
  return KeyVerdict{key_type, false};
}

// Key policy: RSA 2048..16384 bits with e = 65537, EC on P-256/P-384/P-521
// with a valid point, Ed25519. Everything else is refused (key_policy).
// `key` is the request's public key as read (nullptr when it did not decode).
Outcome<KeyVerdict> check_key(X509_REQ* req, EVP_PKEY* key) {
  X509_PUBKEY* pub = X509_REQ_get_X509_PUBKEY(req);
  ASN1_OBJECT* algorithm = nullptr;
  const unsigned char* key_bytes = nullptr;
  int key_length = 0;
  if (pub == nullptr || X509_PUBKEY_get0_param(&algorithm, &key_bytes, &key_length, nullptr, pub) != 1) {
    return malformed_with_reasons("the request has no readable SubjectPublicKeyInfo");
  }
  // The SubjectPublicKeyInfo goes into the certificate as received: an
  // RSAPublicKey inside its BIT STRING must be DER as well (RFC 8017 A.1.1).
  if (is_algorithm(algorithm, NID_rsaEncryption)) {
    const auto bad = detail::der_violation({key_bytes, static_cast<std::size_t>(std::max(key_length, 0))});
    if (bad) return malformed("the RSA public key is not in DER: " + *bad);
  }
  if (key == nullptr) {
    // OpenSSL 3 refuses to decode an EC point that is not on its curve (or a
    // curve it does not know): the key is unusable either way.
    if (is_algorithm(algorithm, NID_X9_62_id_ecPublicKey)) {
      return with_reasons("key_policy", "the EC public key does not decode (a point not on its curve?)");
    }
    if (is_algorithm(algorithm, NID_rsaEncryption) || is_algorithm(algorithm, NID_ED25519)) {
      return malformed_with_reasons("the " + object_name(algorithm) + " public key does not decode");
    }
    return key_policy("public key algorithm " + object_name(algorithm) +
                      " is not allowed: only RSA, EC (P-256, P-384, P-521) and Ed25519");
  }

  Outcome<KeyVerdict> verdict = Rejection{};
  if (EVP_PKEY_is_a(key, "RSA")) {
    verdict = check_rsa(key);
  } else if (EVP_PKEY_is_a(key, "EC")) {
    verdict = check_ec(key);
  } else if (EVP_PKEY_is_a(key, "ED25519")) {
    verdict = KeyVerdict{"ed25519", false};
  } else {
    // RSA-PSS keys (id-RSASSA-PSS) among them: RFC 4055 keys restricted to
    // PSS, which many clients cannot use in a TLS certificate.
    const char* type = EVP_PKEY_get0_type_name(key);
    return key_policy(std::string(type ? type : object_name(algorithm).c_str()) +
                      " keys are not allowed: only RSA, EC (P-256, P-384, P-521) and Ed25519");
  }
  if (!verdict.ok()) return verdict;

  // SP 800-56A 5.6.2.3 public key validation for EC: on the curve and not the
  // point at infinity. The full check's extra step, n·Q = O (a whole scalar
  // multiplication per request), proves nothing more on P-256, P-384 and
  // P-521, whose cofactor is 1: every point on them is of order n
  // (5.6.2.3.4's partial validation is the full one there). SP 800-56B
  // 6.4.2.1 partial validation for RSA (odd, composite, no small factors). A
  // signature that verifies under a key that fails these proves nothing.
  const EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  if (!ctx) throw OpenSslError("EVP_PKEY_CTX_new_from_pkey");
  const bool ec = !verdict.value().rsa && verdict.value().key_type != "ed25519";
  if ((ec ? EVP_PKEY_public_check_quick(ctx.get()) : EVP_PKEY_public_check(ctx.get())) != 1) {
    return with_reasons("key_policy", "the " + verdict.value().key_type + " public key fails validation");
  }
  return verdict;
}

std::optional<std::string> utf8_of(const ASN1_STRING* s) {
  unsigned char* raw = nullptr;
  const int len = ASN1_STRING_to_UTF8(&raw, s);
  if (len < 0) {
    drain_openssl_errors();
    return std::nullopt;
  }
  const OpenSslBytesPtr owned(raw);
  return std::string(reinterpret_cast<const char*>(raw), static_cast<std::size_t>(len));
}

bool has_control_character(std::string_view s) {
  return std::ranges::any_of(s, [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

// Names end up in certificates, logs and the ledger: an attribute that is not
// text, or hides a NUL or line break, reads differently to different parsers.
std::optional<Rejection> check_subject(X509_NAME* name) {
  for (int i = 0; i < X509_NAME_entry_count(name); ++i) {
    const X509_NAME_ENTRY* entry = X509_NAME_get_entry(name, i);
    const std::string attribute = object_name(X509_NAME_ENTRY_get_object(entry));
    const std::optional<std::string> value = utf8_of(X509_NAME_ENTRY_get_data(entry));
    if (!value) return malformed("subject attribute " + attribute + " is not valid text");
    if (has_control_character(*value)) {
      return malformed("subject attribute " + attribute + " contains a control character");
    }
  }
  return std::nullopt;
}

std::string ia5_text(const ASN1_IA5STRING* s) {
  return {reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), static_cast<std::size_t>(ASN1_STRING_length(s))};
}

// IA5String is 7-bit; printable ASCII is all a DNS name, mailbox or URI needs.
bool printable_ascii(std::string_view s) {
  return std::ranges::all_of(s, [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u >= 0x20 && u < 0x7f;
  });
}

std::optional<Rejection> add_san(const GENERAL_NAME* gn, std::vector<SubjectAltName>& sans) {
  using Kind = SubjectAltName::Kind;
  switch (gn->type) {
    case GEN_DNS:
    case GEN_EMAIL:
    case GEN_URI: {
      const Kind kind = gn->type == GEN_DNS ? Kind::dns : gn->type == GEN_EMAIL ? Kind::email : Kind::uri;
      std::string value = ia5_text(gn->d.ia5);
      if (!printable_ascii(value)) {
        const char* what = kind == Kind::dns ? "DNS name" : kind == Kind::email ? "email address" : "URI";
        return malformed(std::string("a subjectAltName ") + what + " holds a byte that is not printable ASCII");
      }
      sans.push_back({kind, std::move(value)});
      return std::nullopt;
    }
    case GEN_IPADD: {
      const ASN1_OCTET_STRING* ip = gn->d.iPAddress;
      const int len = ASN1_STRING_length(ip);
      // RFC 5280 4.2.1.6: four octets for IPv4, sixteen for IPv6 (the 8 and
      // 32 octet forms with a mask belong to name constraints).
      if (len != 4 && len != 16) {
        return malformed("subjectAltName IP address of " + std::to_string(len) + " octets: 4 or 16 expected");
      }
      std::array<char, INET6_ADDRSTRLEN> text{};
      if (inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(ip), text.data(),
                    static_cast<socklen_t>(text.size())) == nullptr) {
        return malformed("subjectAltName IP address does not print");
      }
      sans.push_back({Kind::ip, text.data()});
      return std::nullopt;
    }
    default: break;
  }
  const char* kind = gn->type == GEN_OTHERNAME  ? "otherName"
                     : gn->type == GEN_X400     ? "x400Address"
                     : gn->type == GEN_DIRNAME  ? "directoryName"
                     : gn->type == GEN_EDIPARTY ? "ediPartyName"
                     : gn->type == GEN_RID      ? "registeredID"
                                                : "of an unknown kind";
  return rejection("unsupported_san", std::string("subjectAltName ") + kind +
                                          " is not supported: only DNS names, IP addresses, email addresses and URIs");
}

// The extensionRequest attribute (PKCS#9, RFC 2985 5.4.2): the SANs and
// whether CA:TRUE is asked for. Everything else the CA decides on its own.
std::optional<Rejection> read_requested_extensions(X509_REQ* req, CertificateRequest& out) {
  if (X509_REQ_get_attr_by_NID(req, NID_ext_req, -1) < 0 && X509_REQ_get_attr_by_NID(req, NID_ms_ext_req, -1) < 0) {
    return std::nullopt;
  }
  const ExtensionsPtr extensions(X509_REQ_get_extensions(req));
  if (!extensions) return malformed_with_reasons("the extensionRequest attribute does not decode");

  bool seen_san = false;
  bool seen_basic = false;
  for (int i = 0; i < sk_X509_EXTENSION_num(extensions.get()); ++i) {
    X509_EXTENSION* ext = sk_X509_EXTENSION_value(extensions.get(), i);
    const int nid = OBJ_obj2nid(X509_EXTENSION_get_object(ext));
    if (nid == NID_subject_alt_name) {
      // RFC 5280 4.2: an extension appears at most once; two would leave it
      // to the parser which one counts.
      if (seen_san) return malformed("the request asks for subjectAltName twice");
      seen_san = true;
      const GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(X509V3_EXT_d2i(ext)));
      if (!names) return malformed_with_reasons("the requested subjectAltName does not decode");
      for (int j = 0; j < sk_GENERAL_NAME_num(names.get()); ++j) {
        if (auto refused = add_san(sk_GENERAL_NAME_value(names.get(), j), out.sans)) return refused;
      }
    } else if (nid == NID_basic_constraints) {
      if (seen_basic) return malformed("the request asks for basicConstraints twice");
      seen_basic = true;
      const BasicConstraintsPtr basic(static_cast<BASIC_CONSTRAINTS*>(X509V3_EXT_d2i(ext)));
      if (!basic) return malformed_with_reasons("the requested basicConstraints does not decode");
      out.requests_ca = basic->ca != 0;
    }
  }
  return std::nullopt;
}

Bytes spki_of(X509_REQ* req) {
  return der::encode(i2d_X509_PUBKEY, X509_REQ_get_X509_PUBKEY(req), "i2d_X509_PUBKEY");
}

Bytes encode_request_info(X509_REQ* req) { return der::encode(i2d_re_X509_REQ_tbs, req, "i2d_re_X509_REQ_tbs"); }

// Whether `req`, encoded afresh, is `received`. The DER walk (strict_der.hpp)
// knows no schema; this catches what only the schema tells: a primitive [0]
// for the attributes, a DEFAULT written out, a key or algorithm OpenSSL reads
// in a form it would not write. `req`'s CertificationRequestInfo must hold no
// cached encoding (the fast reading's never does; see i2d_re_X509_REQ_tbs).
bool encodes_to(X509_REQ* req, std::span<const unsigned char> received) {
  unsigned char* raw = nullptr;
  const int len = i2d_X509_REQ(req, &raw);
  if (len <= 0) throw OpenSslError("i2d_X509_REQ");
  const OpenSslBytesPtr encoded(raw);
  return std::ranges::equal(std::span<const unsigned char>(raw, static_cast<std::size_t>(len)), received);
}

// RFC 2986 3: the signature over the CertificationRequestInfo exactly as
// received (`info`), never over a re-encoding of what was read from it, under
// the key already decoded. X509_REQ_verify would encode `req`'s info, and a
// request assembled from parts (the fast reading) has no received encoding to
// give. Held as an ANY of type SEQUENCE, the bytes encode as themselves, so
// ASN1_item_verify applies the same algorithm checks X509_REQ_verify does
// (the AlgorithmIdentifier against the key, PSS parameters, whole octets).
bool signature_verifies(X509_REQ* req, std::span<const unsigned char> info, EVP_PKEY* key) {
  const ASN1_BIT_STRING* signature = nullptr;
  const X509_ALGOR* algorithm = nullptr;
  X509_REQ_get0_signature(req, &signature, &algorithm);
  // Neither is freed or written to: ASN1_item_verify only encodes `as_any`.
  ASN1_STRING bytes{};
  bytes.type = V_ASN1_SEQUENCE;
  bytes.length = static_cast<int>(info.size());
  bytes.data = const_cast<unsigned char*>(info.data());
  ASN1_TYPE as_any{};
  as_any.type = V_ASN1_SEQUENCE;
  as_any.value.sequence = &bytes;
  return ASN1_item_verify(ASN1_ITEM_rptr(ASN1_ANY), algorithm, signature, &as_any, key) == 1;
}

// Everything but the reading: version, encoding, key policy, proof of
// possession, subject, requested extensions. `received` is the request's DER
// as sent, `key` its public key.
Outcome<CertificateRequest> check_request(X509ReqPtr req, std::span<const unsigned char> received, EVP_PKEY* key) {
  // RFC 2986 4.1: version is 0 (v1); anything else is a format we do not know.
  if (X509_REQ_get_version(req.get()) != X509_REQ_VERSION_1) {
    return malformed("PKCS#10 version " + std::to_string(X509_REQ_get_version(req.get()) + 1) +
                     ": only version 1 exists");
  }
  if (!encodes_to(req.get(), received)) {
    return malformed("the request is not in DER: it differs from the DER encoding of what it holds");
  }

  // The key policy before the signature: no verification work is spent on a
  // key that would be refused anyway (explicit EC parameters, huge moduli).
  const Outcome<KeyVerdict> verdict = check_key(req.get(), key);
  if (!verdict.ok()) return verdict.rejection();

  // RFC 2986 3: the self-signature is the requester's proof of possession.
  if (!signature_verifies(req.get(), detail::first_in_sequence(received), key)) {
    return rejection("bad_signature", "the request's signature does not verify (proof of possession failed)");
  }

  if (auto bad = check_subject(X509_REQ_get_subject_name(req.get()))) return std::move(*bad);

  CertificateRequest out;
  out.spki_der = spki_of(req.get());
  out.key_type = verdict.value().key_type;
  out.rsa = verdict.value().rsa;
  if (auto bad = read_requested_extensions(req.get(), out)) return std::move(*bad);
  if (EVP_PKEY_up_ref(key) != 1) throw OpenSslError("EVP_PKEY_up_ref");
  out.public_key.reset(key);
  out.request = std::move(req);
  return out;
}

}  // namespace

std::string SubjectAltName::str() const {
  switch (kind) {
    case Kind::dns: return "DNS:" + value;
    case Kind::ip: return "IP:" + value;
    case Kind::email: return "email:" + value;
    case Kind::uri: return "URI:" + value;
  }
  return value;
}

X509_NAME* CertificateRequest::subject() const { return X509_REQ_get_subject_name(request.get()); }

std::string CertificateRequest::subject_text() const { return detail::rfc2253(subject()); }

std::string CertificateRequest::common_name() const {
  X509_NAME* name = subject();
  int last = -1;
  for (int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(name, NID_commonName, i)) {
    last = i;
  }
  if (last < 0) return {};
  std::optional<std::string> cn = utf8_of(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, last)));
  if (!cn) throw OpenSslError("ASN1_STRING_to_UTF8(commonName)");
  return std::move(*cn);
}

Outcome<CertificateRequest> parse_certificate_request(std::span<const unsigned char> data) {
  // First, before any parser sees the bytes.
  if (data.size() > kMaxRequestBytes) {
    return rejection("request_too_large", "the request is " + std::to_string(data.size()) + " bytes: the limit is " +
                                              std::to_string(kMaxRequestBytes));
  }
  if (data.empty()) return malformed("the request is empty");

  const std::string_view head(reinterpret_cast<const char*>(data.data()), std::min(data.size(), kPemBegin.size()));
  Bytes from_pem;
  if (head == kPemBegin) {
    Outcome<Bytes> contents = pem_contents(data);
    if (!contents.ok()) return contents.rejection();
    from_pem = std::move(contents).value();
    data = from_pem;
  }

  // RFC 2986 4.2: the signature is over the DER of the info, and it is
  // checked over the bytes received; so those bytes must be DER (and the
  // readers below, which read BER, see nothing else).
  if (auto bad = detail::der_violation(data)) return malformed("the request is not in DER: " + *bad);

  // The fast reading (request_reader.hpp) may only accept: whatever it does
  // not, the usual reading decides, so every refusal reads the same.
  if (auto fast = detail::read_request_fast(data)) {
    auto accepted = check_request(std::move(fast->request), data, fast->key.get());
    if (accepted.ok()) return accepted;
    ERR_clear_error();  // the usual reading's reasons must be its own
  }
  Outcome<X509ReqPtr> decoded = decode_der(data);
  if (!decoded.ok()) return decoded.rejection();
  X509ReqPtr req = std::move(decoded).value();
  // Drop the info's received encoding, so that encodes_to compares a re-encoding.
  if (i2d_re_X509_REQ_tbs(req.get(), nullptr) <= 0) return malformed_with_reasons("the request does not re-encode");
  EVP_PKEY* key = X509_REQ_get0_pubkey(req.get());
  return check_request(std::move(req), data, key);
}

Outcome<CertificateRequest> parse_certificate_request(std::string_view pem_or_der) {
  return parse_certificate_request(
      std::span(reinterpret_cast<const unsigned char*>(pem_or_der.data()), pem_or_der.size()));
}

Bytes make_certificate_request(const SigningKey& key, const DistinguishedName& subject) {
  const X509NamePtr name = to_x509_name(subject);
  const EvpPkeyPtr public_key = public_key_from_spki(key.spki_der());

  const X509ReqPtr req(X509_REQ_new());
  if (!req) throw OpenSslError("X509_REQ_new");
  check(X509_REQ_set_version(req.get(), X509_REQ_VERSION_1), "X509_REQ_set_version");
  check(X509_REQ_set_subject_name(req.get(), name.get()), "X509_REQ_set_subject_name");
  check(X509_REQ_set_pubkey(req.get(), public_key.get()), "X509_REQ_set_pubkey");
  // X509_REQ_set_pubkey re-encodes the key; request only the exact bytes the token gave.
  if (spki_of(req.get()) != key.spki_der()) {
    throw std::invalid_argument("the key's SubjectPublicKeyInfo is not in canonical DER");
  }
  // Not part of the signed CertificationRequestInfo, but kept in step with
  // the AlgorithmIdentifier sign_tbs writes, so the object is never inconsistent.
  check(X509_REQ_set1_signature_algo(req.get(), signature_algorithm(key.scheme()).get()),
        "X509_REQ_set1_signature_algo");

  const Bytes info = encode_request_info(req.get());
  Bytes der = sign_tbs(key, info);

  // What we hand out is what a CA will read: it must parse as exactly one
  // request, verify under its own key and carry exactly the info we signed.
  const unsigned char* p = der.data();
  const X509ReqPtr parsed(d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size())));
  if (!parsed || p != der.data() + der.size()) {
    throw VerificationError("the assembled request does not parse back: " + drain_openssl_errors());
  }
  if (X509_REQ_verify(parsed.get(), public_key.get()) != 1) {
    throw VerificationError("X509_REQ_verify rejects the assembled request: " + drain_openssl_errors());
  }
  if (encode_request_info(parsed.get()) != info) {
    throw VerificationError("the assembled request re-encodes to a different CertificationRequestInfo");
  }
  return der;
}

}  // namespace hsmca::signer
