// tls-alpn-01 (RFC 8737; RFC 8738 §6 for IP addresses): a TLS handshake
// offering only acme-tls/1, and a look at the self-signed certificate the
// server answers with. The chain is not verified: the certificate is an
// answer, not a credential.

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <array>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <cstring>
#include <memory>

#include "acme_challenges.hpp"

namespace hsmca::appliance::acme {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;

template <auto Fn>
struct Free {
  template <class T>
  void operator()(T* p) const noexcept {
    Fn(p);
  }
};
using X509Ptr = std::unique_ptr<X509, Free<X509_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, Free<GENERAL_NAMES_free>>;
using Asn1ObjectPtr = std::unique_ptr<ASN1_OBJECT, Free<ASN1_OBJECT_free>>;
using OctetStringPtr = std::unique_ptr<ASN1_OCTET_STRING, Free<ASN1_OCTET_STRING_free>>;

constexpr std::string_view kAcmeTls = "acme-tls/1";
// RFC 8737 §6.1: id-pe-acmeIdentifier.
constexpr const char* kAcmeIdentifierOid = "1.3.6.1.5.5.7.1.31";

// RFC 8738 §6: the SNI for an IP address is its reverse-mapping name.
std::string reverse_name(const asio::ip::address& address) {
  std::string name;
  if (address.is_v4()) {
    const auto bytes = address.to_v4().to_bytes();
    for (auto it = bytes.rbegin(); it != bytes.rend(); ++it) name += std::to_string(*it) + ".";
    return name + "in-addr.arpa";
  }
  static constexpr char kHex[] = "0123456789abcdef";
  const auto bytes = address.to_v6().to_bytes();
  for (auto it = bytes.rbegin(); it != bytes.rend(); ++it) {
    name += kHex[*it & 0x0f];
    name += '.';
    name += kHex[*it >> 4];
    name += '.';
  }
  return name + "ip6.arpa";
}

// What is wrong with the certificate, or nothing (RFC 8737 §3).
std::optional<std::string> certificate_problem(X509* certificate, const Identifier& identifier,
                                               std::string_view key_authorization) {
  int critical = 0;
  GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(certificate, NID_subject_alt_name, &critical, nullptr)));
  if (!names) {
    return critical == -2 ? "it has more than one subjectAltName extension" : "it has no subjectAltName";
  }
  if (sk_GENERAL_NAME_num(names.get()) != 1) {
    return "it has " + std::to_string(sk_GENERAL_NAME_num(names.get())) +
           " subjectAltName entries, where only the identifier may be";
  }
  const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), 0);
  if (identifier.type == Identifier::Type::dns) {
    if (name->type != GEN_DNS) return std::string("its subjectAltName is not a dNSName");
    const std::string_view value(reinterpret_cast<const char*>(ASN1_STRING_get0_data(name->d.dNSName)),
                                 static_cast<std::size_t>(ASN1_STRING_length(name->d.dNSName)));
    if (!iequals(value, identifier.value)) return "its subjectAltName is " + quoted(value);
  } else {
    if (name->type != GEN_IPADD) return std::string("its subjectAltName is not an iPAddress");
    const auto address = ip_literal(identifier.value);
    std::array<unsigned char, 16> expected{};
    std::size_t expected_size = 4;
    if (address->is_v4()) {
      const auto b = address->to_v4().to_bytes();
      std::copy(b.begin(), b.end(), expected.begin());
    } else {
      const auto b = address->to_v6().to_bytes();
      std::copy(b.begin(), b.end(), expected.begin());
      expected_size = 16;
    }
    const ASN1_OCTET_STRING* got = name->d.iPAddress;
    if (static_cast<std::size_t>(ASN1_STRING_length(got)) != expected_size ||
        std::memcmp(ASN1_STRING_get0_data(got), expected.data(), expected_size) != 0) {
      return std::string("its iPAddress is not ") + identifier.value;
    }
  }

  Asn1ObjectPtr oid(OBJ_txt2obj(kAcmeIdentifierOid, 1));
  if (!oid) return std::string("the acmeIdentifier OID cannot be built");
  const int index = X509_get_ext_by_OBJ(certificate, oid.get(), -1);
  if (index < 0) return std::string("it has no acmeIdentifier extension");
  if (X509_get_ext_by_OBJ(certificate, oid.get(), index) >= 0) {
    return std::string("it has more than one acmeIdentifier extension");
  }
  X509_EXTENSION* extension = X509_get_ext(certificate, index);
  if (X509_EXTENSION_get_critical(extension) != 1) return std::string("its acmeIdentifier extension is not critical");
  // extnValue holds the DER of Authorization ::= OCTET STRING (SIZE (32)).
  const ASN1_OCTET_STRING* value = X509_EXTENSION_get_data(extension);
  const unsigned char* der = ASN1_STRING_get0_data(value);
  const long der_size = ASN1_STRING_length(value);
  const unsigned char* cursor = der;
  OctetStringPtr inner(d2i_ASN1_OCTET_STRING(nullptr, &cursor, der_size));
  // 0x04 0x20 and 32 bytes is the only DER encoding; anything else is refused.
  if (!inner || der_size != 34 || cursor != der + der_size || der[1] != 0x20 || ASN1_STRING_length(inner.get()) != 32) {
    return std::string("its acmeIdentifier extension is not a DER OCTET STRING of 32 bytes");
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int digest_size = 0;
  EVP_Digest(key_authorization.data(), key_authorization.size(), digest.data(), &digest_size, EVP_sha256(), nullptr);
  if (digest_size != 32 || std::memcmp(ASN1_STRING_get0_data(inner.get()), digest.data(), 32) != 0) {
    return std::string("its acmeIdentifier is not the SHA-256 of the key authorization");
  }
  return std::nullopt;
}

}  // namespace

ValidationResult validate_tls_alpn01(Attempt& attempt, const Identifier& identifier,
                                     std::string_view key_authorization) {
  const std::uint16_t port = attempt.settings.tls_port;
  const auto literal = ip_literal(identifier.value);
  const std::string sni = identifier.type == Identifier::Type::ip ? reverse_name(*literal) : identifier.value;
  const std::string what = "tls-alpn-01 for " + identifier.value;

  ValidationResult error;
  const auto addresses = addresses_for(attempt, identifier.value, error);  // an IP identifier: itself
  if (addresses.empty()) return error;
  asio::io_context io;
  beast::tcp_stream tcp(io);
  asio::ip::address address;
  if (!connect_any(io, tcp, attempt, addresses, port, what, address, error)) return error;
  const std::string at = " at " + endpoint_text(address, port) + " for " + what;

  asio::ssl::context tls(asio::ssl::context::tls_client);
  tls.set_verify_mode(asio::ssl::verify_none);
  SSL_CTX_set_min_proto_version(tls.native_handle(), TLS1_2_VERSION);
  beast::ssl_stream<beast::tcp_stream> stream(std::move(tcp), tls);
  SSL* ssl = stream.native_handle();
  set_server_name(ssl, sni);
  // Wire format: one length-prefixed protocol name, and only this one.
  std::string protocols(1, static_cast<char>(kAcmeTls.size()));
  protocols += kAcmeTls;
  if (SSL_set_alpn_protos(ssl, reinterpret_cast<const unsigned char*>(protocols.data()),
                          static_cast<unsigned>(protocols.size())) != 0) {
    return failure(problem::kServerInternal, "cannot offer ALPN acme-tls/1" + at);
  }
  const auto ec =
      run_one(io, [&](auto handler) { stream.async_handshake(asio::ssl::stream_base::client, std::move(handler)); });
  if (ec) {
    if (ec == beast::error::timeout) return failure(problem::kConnection, "timed out in the TLS handshake" + at);
    return failure(problem::kTls, "TLS handshake failed (" + io_error_text(ec) + ")" + at);
  }

  const unsigned char* selected = nullptr;
  unsigned selected_size = 0;
  SSL_get0_alpn_selected(ssl, &selected, &selected_size);
  if (std::string_view(reinterpret_cast<const char*>(selected), selected_size) != kAcmeTls) {
    return failure(problem::kUnauthorized, "the server did not negotiate acme-tls/1" + at);
  }
  X509Ptr certificate(SSL_get1_peer_certificate(ssl));
  if (!certificate) return failure(problem::kUnauthorized, "the server presented no certificate" + at);
  if (auto wrong = certificate_problem(certificate.get(), identifier, key_authorization)) {
    return failure(problem::kIncorrectResponse, "the acme-tls/1 certificate is wrong: " + *wrong + at);
  }
  return success();
}

}  // namespace hsmca::appliance::acme
