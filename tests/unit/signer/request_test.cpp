#include "hsmca/signer/request.hpp"

#include <gtest/gtest.h>
#include <openssl/pem.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "hsmca/signer/algorithm.hpp"
#include "hsmca/signer/signed_object.hpp"
#include "process.hpp"
#include "signing_key_doubles.hpp"
#include "softhsm_env.hpp"
#include "test_der.hpp"
#include "test_keys.hpp"

namespace hsmca::signer {
namespace {

using Kind = SubjectAltName::Kind;
using test::MismatchedKey;
using token::SignatureScheme;

std::filesystem::path data_dir() { return std::filesystem::path(HSMCA_SOURCE_DIR) / "tests" / "data"; }

Bytes catalogue_file(const std::string& name) {
  const std::string text = test::read_file(data_dir() / name);
  return Bytes(text.begin(), text.end());
}

// The DER inside the first PEM block, as `openssl req -outform DER` would write it.
Bytes der_inside_pem(const Bytes& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  char* name = nullptr;
  char* header = nullptr;
  unsigned char* data = nullptr;
  long len = 0;
  if (PEM_read_bio(bio.get(), &name, &header, &data, &len) != 1) throw OpenSslError("PEM_read_bio");
  Bytes der(data, data + len);
  OPENSSL_free(name);
  OPENSSL_free(header);
  OPENSSL_free(data);
  return der;
}

std::vector<std::string> san_strings(const CertificateRequest& request) {
  std::vector<std::string> out;
  for (const auto& san : request.sans) out.push_back(san.str());
  return out;
}

std::string describe(const Outcome<CertificateRequest>& outcome) {
  return outcome.ok() ? "accepted" : outcome.rejection().code + ": " + outcome.rejection().message;
}

// Every file tests/data/make-bad-csrs writes, and what parsing it must give:
// "" for a request that parses (some are refused later, by plan_leaf).
struct CatalogueEntry {
  const char* file;
  const char* code;
  bool pem_layer = false;  // the fault is in the PEM armour, not in the DER inside
};

const CatalogueEntry kCatalogue[] = {
    {"good-p256-web.csr", ""},
    {"good-p256-web.der", ""},
    {"good-p256-web-newhdr.csr", ""},
    {"good-p384-dual-stack.csr", ""},
    {"good-p521.csr", ""},
    {"good-rsa2048-server.csr", ""},
    {"good-ed25519-client.csr", ""},
    {"bad-empty-subject-no-san.csr", ""},
    {"bad-disallowed-dns-suffix.csr", ""},
    {"bad-requests-ca.csr", ""},
    {"bad-malformed-pem.csr", "malformed_request", true},
    {"bad-truncated.der", "malformed_request"},
    {"bad-trailing-garbage.der", "malformed_request"},
    {"bad-two-requests.csr", "malformed_request", true},
    {"bad-trailing-text.csr", "malformed_request", true},
    {"bad-certificate-not-request.csr", "malformed_request"},
    {"bad-attributes-primitive-tag.der", "malformed_request"},
    {"bad-ber-version.csr", "malformed_request"},
    {"bad-ec-point-off-curve.csr", "key_policy"},
    {"bad-signature.csr", "bad_signature"},
    {"bad-rsa-1024.csr", "key_policy"},
    {"bad-rsa-exponent-3.csr", "key_policy"},
    {"bad-ec-secp256k1.csr", "key_policy"},
    {"bad-ec-brainpoolp256r1.csr", "key_policy"},
    {"bad-ec-explicit-parameters.csr", "key_policy"},
    {"bad-rsa-pss-key.csr", "key_policy"},
    {"bad-ed448.csr", "key_policy"},
    {"bad-dsa.csr", "key_policy"},
    {"bad-san-othername.csr", "unsupported_san"},
    {"bad-san-dirname.csr", "unsupported_san"},
    {"bad-oversized.csr", "request_too_large"},
};

TEST(CertificateRequestCatalogueTest, EveryFileGivesItsExpectedOutcome) {
  for (const auto& entry : kCatalogue) {
    SCOPED_TRACE(entry.file);
    const auto outcome = parse_certificate_request(catalogue_file(entry.file));
    if (std::string(entry.code).empty()) {
      EXPECT_TRUE(outcome.ok()) << describe(outcome);
    } else {
      ASSERT_FALSE(outcome.ok());
      EXPECT_EQ(outcome.rejection().code, entry.code) << outcome.rejection().message;
    }
  }
}

TEST(CertificateRequestCatalogueTest, CoversEveryFileInTheDataDirectory) {
  for (const auto& file : std::filesystem::directory_iterator(data_dir())) {
    const std::string name = file.path().filename().string();
    if (!name.ends_with(".csr") && !name.ends_with(".der")) continue;
    const bool listed = std::ranges::any_of(kCatalogue, [&](const auto& e) { return name == e.file; });
    EXPECT_TRUE(listed) << name << " is not in kCatalogue";
  }
}

TEST(CertificateRequestCatalogueTest, RejectionMessagesAreOneNonEmptyLine) {
  for (const auto& entry : kCatalogue) {
    SCOPED_TRACE(entry.file);
    const auto outcome = parse_certificate_request(catalogue_file(entry.file));
    if (outcome.ok()) continue;
    EXPECT_FALSE(outcome.rejection().message.empty());
    EXPECT_EQ(outcome.rejection().message.find('\n'), std::string::npos) << outcome.rejection().message;
  }
}

TEST(CertificateRequestCatalogueTest, PemAndTheDerInsideItGiveTheSameOutcome) {
  for (const auto& entry : kCatalogue) {
    const std::string file = entry.file;
    if (!file.ends_with(".csr") || entry.pem_layer) continue;
    SCOPED_TRACE(file);
    const Bytes pem = catalogue_file(file);
    const auto from_pem = parse_certificate_request(pem);
    const auto from_der = parse_certificate_request(der_inside_pem(pem));
    ASSERT_EQ(from_pem.ok(), from_der.ok()) << describe(from_pem) << " / " << describe(from_der);
    if (!from_pem.ok()) {
      EXPECT_EQ(from_pem.rejection().code, from_der.rejection().code);
      continue;
    }
    EXPECT_EQ(from_pem.value().spki_der, from_der.value().spki_der);
    EXPECT_EQ(from_pem.value().key_type, from_der.value().key_type);
    EXPECT_EQ(from_pem.value().sans, from_der.value().sans);
    EXPECT_EQ(from_pem.value().subject_text(), from_der.value().subject_text());
    EXPECT_EQ(from_pem.value().requests_ca, from_der.value().requests_ca);
  }
}

TEST(CertificateRequestCatalogueTest, TheCommittedDerAndBothPemLabelsAreOneRequest) {
  const auto pem = parse_certificate_request(catalogue_file("good-p256-web.csr"));
  const auto der = parse_certificate_request(catalogue_file("good-p256-web.der"));
  const auto old_label = parse_certificate_request(catalogue_file("good-p256-web-newhdr.csr"));
  ASSERT_TRUE(pem.ok() && der.ok() && old_label.ok());
  EXPECT_EQ(pem.value().spki_der, der.value().spki_der);
  EXPECT_EQ(pem.value().spki_der, old_label.value().spki_der);
  EXPECT_EQ(pem.value().sans, der.value().sans);
  EXPECT_EQ(pem.value().sans, old_label.value().sans);
}

TEST(CertificateRequestTest, ReadsAP256RequestWithDnsAndIpNames) {
  const auto outcome = parse_certificate_request(catalogue_file("good-p256-web.csr"));
  ASSERT_TRUE(outcome.ok()) << describe(outcome);
  const CertificateRequest& r = outcome.value();
  EXPECT_EQ(r.key_type, "ec-p256");
  EXPECT_FALSE(r.rsa);
  EXPECT_FALSE(r.requests_ca);
  EXPECT_EQ(r.subject_text(), "CN=web.example.test");
  EXPECT_EQ(r.common_name(), "web.example.test");
  EXPECT_EQ(r.sans, (std::vector<SubjectAltName>{{Kind::dns, "web.example.test"}, {Kind::ip, "10.0.0.1"}}));
  EXPECT_EQ(san_strings(r), (std::vector<std::string>{"DNS:web.example.test", "IP:10.0.0.1"}));
  // The SPKI is the key the request carries, usable as it stands.
  EXPECT_EQ(EVP_PKEY_eq(public_key_from_spki(r.spki_der).get(), r.public_key.get()), 1);
}

TEST(CertificateRequestTest, RendersIpv6AddressesAsText) {
  const auto outcome = parse_certificate_request(catalogue_file("good-p384-dual-stack.csr"));
  ASSERT_TRUE(outcome.ok()) << describe(outcome);
  EXPECT_EQ(outcome.value().key_type, "ec-p384");
  EXPECT_EQ(outcome.value().subject_text(), "CN=api.example.test,O=Example");
  EXPECT_EQ(san_strings(outcome.value()),
            (std::vector<std::string>{"DNS:api.example.test", "IP:10.0.0.2", "IP:2001:db8::1"}));
}

TEST(CertificateRequestTest, ReadsP521) {
  const auto outcome = parse_certificate_request(catalogue_file("good-p521.csr"));
  ASSERT_TRUE(outcome.ok()) << describe(outcome);
  EXPECT_EQ(outcome.value().key_type, "ec-p521");
}

TEST(CertificateRequestTest, ReadsAnRsaServerRequest) {
  const auto outcome = parse_certificate_request(catalogue_file("good-rsa2048-server.csr"));
  ASSERT_TRUE(outcome.ok()) << describe(outcome);
  const CertificateRequest& r = outcome.value();
  EXPECT_EQ(r.key_type, "rsa-2048");
  EXPECT_TRUE(r.rsa);
  EXPECT_EQ(r.subject_text(), "CN=server.example.test,O=Example,C=DE");
  EXPECT_EQ(san_strings(r), (std::vector<std::string>{"DNS:server.example.test", "DNS:www.server.example.test"}));
}

TEST(CertificateRequestTest, ReadsAnEd25519ClientRequestWithEmailAndUri) {
  const auto outcome = parse_certificate_request(catalogue_file("good-ed25519-client.csr"));
  ASSERT_TRUE(outcome.ok()) << describe(outcome);
  EXPECT_EQ(outcome.value().key_type, "ed25519");
  EXPECT_FALSE(outcome.value().rsa);
  EXPECT_EQ(outcome.value().sans, (std::vector<SubjectAltName>{{Kind::email, "client@example.test"},
                                                               {Kind::uri, "spiffe://example.test/client"}}));
}

TEST(CertificateRequestTest, ReportsARequestForCaTrueWithoutGrantingAnything) {
  const auto outcome = parse_certificate_request(catalogue_file("bad-requests-ca.csr"));
  ASSERT_TRUE(outcome.ok()) << describe(outcome);
  EXPECT_TRUE(outcome.value().requests_ca);
  EXPECT_TRUE(outcome.value().sans.empty());
}

TEST(CertificateRequestTest, LeavesADisallowedDnsSuffixToTheProfile) {
  const auto outcome = parse_certificate_request(catalogue_file("bad-disallowed-dns-suffix.csr"));
  ASSERT_TRUE(outcome.ok()) << describe(outcome);
  EXPECT_EQ(san_strings(outcome.value()), std::vector<std::string>{"DNS:evil.example.org"});
  EXPECT_FALSE(outcome.value().requests_ca);
}

TEST(CertificateRequestTest, ReadsAnEmptySubjectAsEmpty) {
  const auto outcome = parse_certificate_request(catalogue_file("bad-empty-subject-no-san.csr"));
  ASSERT_TRUE(outcome.ok()) << describe(outcome);
  EXPECT_EQ(outcome.value().subject_text(), "");
  EXPECT_EQ(outcome.value().common_name(), "");
  EXPECT_TRUE(outcome.value().sans.empty());
}

TEST(CertificateRequestTest, NamesTheRsaKeySizeThatWasRefused) {
  const auto outcome = parse_certificate_request(catalogue_file("bad-rsa-1024.csr"));
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.rejection().message, "RSA key of 1024 bits: the minimum is 2048");
}

TEST(CertificateRequestTest, NamesTheRsaExponentThatWasRefused) {
  const auto outcome = parse_certificate_request(catalogue_file("bad-rsa-exponent-3.csr"));
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.rejection().message, "RSA public exponent 3: only 65537 is allowed");
}

TEST(CertificateRequestTest, NamesTheCurveThatWasRefused) {
  const auto outcome = parse_certificate_request(catalogue_file("bad-ec-secp256k1.csr"));
  ASSERT_FALSE(outcome.ok());
  EXPECT_NE(outcome.rejection().message.find("secp256k1"), std::string::npos) << outcome.rejection().message;
}

TEST(CertificateRequestTest, NamesTheKeyTypeThatWasRefused) {
  for (const auto& [file, type] : {std::pair{"bad-dsa.csr", "DSA"}, std::pair{"bad-ed448.csr", "ED448"},
                                   std::pair{"bad-rsa-pss-key.csr", "RSA-PSS"}}) {
    SCOPED_TRACE(file);
    const auto outcome = parse_certificate_request(catalogue_file(file));
    ASSERT_FALSE(outcome.ok());
    EXPECT_EQ(outcome.rejection().message.rfind(type, 0), 0u) << outcome.rejection().message;
  }
}

TEST(CertificateRequestTest, SaysAFailedSignatureIsAFailedProofOfPossession) {
  const auto outcome = parse_certificate_request(catalogue_file("bad-signature.csr"));
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.rejection().message, "the request's signature does not verify (proof of possession failed)");
}

TEST(CertificateRequestTest, ChecksTheSizeBeforeParsing) {
  // 64 KiB + 1 of zeros: refused for its size, not for what it holds.
  const Bytes too_large(kMaxRequestBytes + 1, 0);
  const auto outcome = parse_certificate_request(too_large);
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.rejection().code, "request_too_large");
  const Bytes at_limit(kMaxRequestBytes, 0);
  EXPECT_EQ(parse_certificate_request(at_limit).rejection().code, "malformed_request");
}

TEST(CertificateRequestTest, RefusesEmptyInput) {
  const auto outcome = parse_certificate_request(Bytes{});
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.rejection().code, "malformed_request");
}

TEST(CertificateRequestTest, AcceptsPemHeldInAString) {
  const auto outcome = parse_certificate_request(test::read_file(data_dir() / "good-p256-web.csr"));
  ASSERT_TRUE(outcome.ok()) << describe(outcome);
  EXPECT_EQ(outcome.value().key_type, "ec-p256");
}

TEST(CertificateRequestTest, RejectsEveryTruncationOfAGoodRequest) {
  const Bytes der = catalogue_file("good-p256-web.der");
  for (std::size_t n = 0; n < der.size(); ++n) {
    const auto outcome = parse_certificate_request(std::span(der.data(), n));
    ASSERT_FALSE(outcome.ok()) << n << " bytes";
    EXPECT_EQ(outcome.rejection().code, "malformed_request") << n << " bytes";
  }
}

TEST(CertificateRequestTest, RejectsEverySingleByteCorruptionOfAGoodRequest) {
  const Bytes der = catalogue_file("good-p256-web.der");
  for (std::size_t i = 0; i < der.size(); ++i) {
    Bytes corrupt = der;
    corrupt[i] ^= 0xff;
    const auto outcome = parse_certificate_request(corrupt);
    EXPECT_FALSE(outcome.ok()) << "byte " << i;
  }
}

// --- requests built in memory, for what openssl req cannot be made to write ---

using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, Free<GENERAL_NAMES_free>>;

struct FreeExtensions {
  void operator()(STACK_OF(X509_EXTENSION) * s) const noexcept { sk_X509_EXTENSION_pop_free(s, X509_EXTENSION_free); }
};

GENERAL_NAME* ia5_name(int type, const std::string& value) {
  GENERAL_NAME* gn = GENERAL_NAME_new();
  ASN1_IA5STRING* s = ASN1_IA5STRING_new();
  ASN1_STRING_set(s, value.data(), static_cast<int>(value.size()));
  GENERAL_NAME_set0_value(gn, type, s);
  return gn;
}

GENERAL_NAME* ip_name(const Bytes& octets) {
  GENERAL_NAME* gn = GENERAL_NAME_new();
  ASN1_OCTET_STRING* s = ASN1_OCTET_STRING_new();
  ASN1_OCTET_STRING_set(s, octets.data(), static_cast<int>(octets.size()));
  GENERAL_NAME_set0_value(gn, GEN_IPADD, s);
  return gn;
}

GENERAL_NAME* registered_id_name() {
  GENERAL_NAME* gn = GENERAL_NAME_new();
  GENERAL_NAME_set0_value(gn, GEN_RID, OBJ_txt2obj("1.3.6.1.4.1.99999.1", 1));
  return gn;
}

X509ExtensionPtr san_extension(std::vector<GENERAL_NAME*> names) {
  GeneralNamesPtr gens(GENERAL_NAMES_new());
  for (GENERAL_NAME* gn : names) sk_GENERAL_NAME_push(gens.get(), gn);
  return X509ExtensionPtr(X509V3_EXT_i2d(NID_subject_alt_name, 0, gens.get()));
}

// A P-256 request signed with OpenSSL's own X509_REQ_sign, carrying `extensions`.
Bytes request_with(const std::string& common_name, std::vector<X509ExtensionPtr> extensions) {
  EVP_PKEY* key = test::key_for(SignatureScheme::ecdsa_sha256).pkey();
  X509ReqPtr req(X509_REQ_new());
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(common_name.data()),
                             static_cast<int>(common_name.size()), -1, 0);
  X509_REQ_set_pubkey(req.get(), key);
  if (!extensions.empty()) {
    std::unique_ptr<STACK_OF(X509_EXTENSION), FreeExtensions> exts(sk_X509_EXTENSION_new_null());
    for (auto& e : extensions) sk_X509_EXTENSION_push(exts.get(), e.release());
    X509_REQ_add_extensions(req.get(), exts.get());
  }
  if (X509_REQ_sign(req.get(), key, EVP_sha256()) <= 0) throw OpenSslError("X509_REQ_sign");
  unsigned char* der = nullptr;
  const int len = i2d_X509_REQ(req.get(), &der);
  Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

Rejection rejection_of(const Bytes& der) {
  const auto outcome = parse_certificate_request(der);
  return outcome.ok() ? Rejection{"", "accepted"} : outcome.rejection();
}

TEST(CertificateRequestTest, AcceptsARequestBuiltByOpensslItself) {
  const auto outcome = parse_certificate_request(request_with("x.example.test", {}));
  ASSERT_TRUE(outcome.ok()) << describe(outcome);
  EXPECT_TRUE(outcome.value().sans.empty());
  EXPECT_EQ(outcome.value().common_name(), "x.example.test");
}

TEST(CertificateRequestTest, RefusesAnIpAddressOfTheWrongLength) {
  std::vector<X509ExtensionPtr> exts;
  exts.push_back(san_extension({ip_name({10, 0, 0, 1, 24})}));
  const Rejection r = rejection_of(request_with("x", std::move(exts)));
  EXPECT_EQ(r.code, "malformed_request") << r.message;
}

TEST(CertificateRequestTest, RefusesADnsNameWithAnEmbeddedNul) {
  std::vector<X509ExtensionPtr> exts;
  exts.push_back(san_extension({ia5_name(GEN_DNS, std::string("bank.example\0.evil.test", 23))}));
  const Rejection r = rejection_of(request_with("x", std::move(exts)));
  EXPECT_EQ(r.code, "malformed_request") << r.message;
}

TEST(CertificateRequestTest, RefusesARegisteredIdSan) {
  std::vector<X509ExtensionPtr> exts;
  exts.push_back(san_extension({ia5_name(GEN_DNS, "x.example.test"), registered_id_name()}));
  const Rejection r = rejection_of(request_with("x", std::move(exts)));
  EXPECT_EQ(r.code, "unsupported_san") << r.message;
  EXPECT_NE(r.message.find("registeredID"), std::string::npos) << r.message;
}

TEST(CertificateRequestTest, RefusesTwoSubjectAltNameExtensions) {
  std::vector<X509ExtensionPtr> exts;
  exts.push_back(san_extension({ia5_name(GEN_DNS, "a.example.test")}));
  exts.push_back(san_extension({ia5_name(GEN_DNS, "b.example.test")}));
  const Rejection r = rejection_of(request_with("x", std::move(exts)));
  EXPECT_EQ(r.code, "malformed_request") << r.message;
}

TEST(CertificateRequestTest, RefusesControlCharactersInTheSubject) {
  const Rejection r = rejection_of(request_with("a.example.test\nCN=b.example.test", {}));
  EXPECT_EQ(r.code, "malformed_request") << r.message;
}

TEST(CertificateRequestTest, DoesNotCountCaFalseAsARequestForCa) {
  BasicConstraintsPtr basic(BASIC_CONSTRAINTS_new());
  basic->ca = 0;
  std::vector<X509ExtensionPtr> exts;
  exts.emplace_back(X509V3_EXT_i2d(NID_basic_constraints, 1, basic.get()));
  const auto outcome = parse_certificate_request(request_with("x", std::move(exts)));
  ASSERT_TRUE(outcome.ok()) << describe(outcome);
  EXPECT_FALSE(outcome.value().requests_ca);
}

TEST(SubjectAltNameTest, PrintsAsOpensslConfigurationSpellsIt) {
  EXPECT_EQ((SubjectAltName{Kind::dns, "web.example.test"}.str()), "DNS:web.example.test");
  EXPECT_EQ((SubjectAltName{Kind::ip, "2001:db8::1"}.str()), "IP:2001:db8::1");
  EXPECT_EQ((SubjectAltName{Kind::email, "a@example.test"}.str()), "email:a@example.test");
  EXPECT_EQ((SubjectAltName{Kind::uri, "https://example.test/"}.str()), "URI:https://example.test/");
}

// --- proof of possession over the bytes received; DER only ---
//
// RFC 2986 4.2: the signature is over the DER encoding of the
// CertificationRequestInfo. A request whose info arrives in any other
// encoding is refused, whether it was signed over what was sent or over a
// DER re-encoding of it (which a reader that re-encodes would verify).

// good-p256-web's CertificationRequestInfo with `key`'s public key, in its
// parts: version, subject, subjectPKInfo, [0] attributes (an extensionRequest).
std::vector<Bytes> info_parts_for(const SigningKey& key) {
  auto parts = test::children(test::children(catalogue_file("good-p256-web.der"))[0]);
  parts[2] = key.spki_der();
  return parts;
}

// A request carrying `info`, with a signature over `signed_info`.
Bytes request_with(const SigningKey& key, const Bytes& info, const Bytes& signed_info) {
  // sign_tbs gives SEQUENCE { signed_info, AlgorithmIdentifier, BIT STRING }
  // with a DER header; signed_info itself may be anything.
  const Bytes signed_request = sign_tbs(key, signed_info);
  const std::size_t after_info = test::tlv_at(signed_request).header + signed_info.size();
  return test::wrap(0x30, {info, Bytes(signed_request.begin() + static_cast<std::ptrdiff_t>(after_info),
                                       signed_request.end())});
}

Bytes primitive_content(const Bytes& tlv) {
  const test::Tlv t = test::tlv_at(tlv);
  return Bytes(tlv.begin() + static_cast<std::ptrdiff_t>(t.header), tlv.end());
}

struct NonDerInfo {
  const char* what;
  Bytes (*make)(std::vector<Bytes> parts);
};

const NonDerInfo kNonDerInfos[] = {
    {"a version in long form (02 81 01 00)",
     [](std::vector<Bytes> p) {
       p[0] = {0x02, 0x81, 0x01, 0x00};
       return test::wrap(0x30, p);
     }},
    {"the info's length one octet longer than needed",
     [](std::vector<Bytes> p) { return test::wrap(0x30, p, test::Form::long_form); }},
    {"the info in indefinite length", [](std::vector<Bytes> p) { return test::wrap(0x30, p, test::Form::indefinite); }},
    {"the subject's length in long form",
     [](std::vector<Bytes> p) {
       p[1] = test::wrap(0x30, test::children(p[1]), test::Form::long_form);
       return test::wrap(0x30, p);
     }},
    {"the key's BIT STRING length in long form",
     [](std::vector<Bytes> p) {
       auto spki = test::children(p[2]);
       spki[1] = test::wrap(0x03, {primitive_content(spki[1])}, test::Form::long_form);
       p[2] = test::wrap(0x30, spki);
       return test::wrap(0x30, p);
     }},
    {"the attributes in indefinite length",
     [](std::vector<Bytes> p) {
       p[3] = test::wrap(0xa0, test::children(p[3]), test::Form::indefinite);
       return test::wrap(0x30, p);
     }},
    {"the attributes tagged [0] primitive (80), not constructed (a0)",
     [](std::vector<Bytes> p) {
       p[3][0] = 0x80;
       return test::wrap(0x30, p);
     }},
    {"the extensionRequest's SET in indefinite length",
     [](std::vector<Bytes> p) {
       auto attribute = test::children(test::children(p[3])[0]);  // type, SET OF values
       attribute[1] = test::wrap(0x31, test::children(attribute[1]), test::Form::indefinite);
       p[3] = test::wrap(0xa0, {test::wrap(0x30, attribute)});
       return test::wrap(0x30, p);
     }},
};

TEST(ProofOfPossessionTest, ADerRequestAroundTheTestInfoIsAcceptedForEveryKeyType) {
  for (const auto& c : test::every_key()) {
    SCOPED_TRACE(c.name);
    const Bytes info = test::wrap(0x30, info_parts_for(c.key));
    const auto outcome = parse_certificate_request(request_with(c.key, info, info));
    ASSERT_TRUE(outcome.ok()) << describe(outcome);
    EXPECT_EQ(outcome.value().spki_der, c.key.spki_der());
    EXPECT_EQ(san_strings(outcome.value()), (std::vector<std::string>{"DNS:web.example.test", "IP:10.0.0.1"}));
  }
}

TEST(ProofOfPossessionTest, AnInfoNotInDerIsRefusedWhenSignedAsSent) {
  for (const auto& c : test::every_key()) {
    for (const auto& bad : kNonDerInfos) {
      SCOPED_TRACE(c.name + ": " + bad.what);
      const Bytes info = bad.make(info_parts_for(c.key));
      const auto outcome = parse_certificate_request(request_with(c.key, info, info));
      ASSERT_FALSE(outcome.ok()) << "accepted";
      // The signature is good: only the encoding is wrong.
      EXPECT_EQ(outcome.rejection().code, "malformed_request") << outcome.rejection().message;
      EXPECT_EQ(outcome.rejection().message.find('\n'), std::string::npos);
    }
  }
}

TEST(ProofOfPossessionTest, AnInfoNotInDerIsRefusedWhenItsDerFormWasSigned) {
  const auto& key = test::key_for(SignatureScheme::ecdsa_sha256);
  const Bytes der_info = test::wrap(0x30, info_parts_for(key));
  for (const auto& bad : kNonDerInfos) {
    SCOPED_TRACE(bad.what);
    const Bytes info = bad.make(info_parts_for(key));
    const auto outcome = parse_certificate_request(request_with(key, info, der_info));
    ASSERT_FALSE(outcome.ok()) << "accepted";
    EXPECT_TRUE(outcome.rejection().code == "malformed_request" || outcome.rejection().code == "bad_signature")
        << outcome.rejection().code;
  }
}

TEST(ProofOfPossessionTest, TheOuterSequenceMustBeDerToo) {
  const auto& key = test::key_for(SignatureScheme::ecdsa_sha256);
  const Bytes info = test::wrap(0x30, info_parts_for(key));
  const auto parts = test::children(request_with(key, info, info));
  for (const auto form : {test::Form::long_form, test::Form::indefinite}) {
    const auto outcome = parse_certificate_request(test::wrap(0x30, parts, form));
    ASSERT_FALSE(outcome.ok()) << "accepted";
    EXPECT_EQ(outcome.rejection().code, "malformed_request") << outcome.rejection().message;
  }
}

// --- make_certificate_request ---

DistinguishedName csr_subject() {
  return {.country = "DE", .organization = "Example", .common_name = "Example Issuing CA"};
}

const char* expected_key_type(token::SignatureScheme scheme) {
  switch (scheme) {
    case SignatureScheme::ecdsa_sha256: return "ec-p256";
    case SignatureScheme::ecdsa_sha384: return "ec-p384";
    case SignatureScheme::ed25519: return "ed25519";
    default: return "rsa-2048";
  }
}

TEST(MakeCertificateRequestTest, ProducesARequestThatParsesForEveryKeyType) {
  for (const auto& c : test::every_key()) {
    SCOPED_TRACE(c.name);
    const Bytes der = make_certificate_request(c.key, csr_subject());
    const auto outcome = parse_certificate_request(der);
    ASSERT_TRUE(outcome.ok()) << describe(outcome);
    const CertificateRequest& r = outcome.value();
    EXPECT_EQ(r.spki_der, c.key.spki_der());
    EXPECT_EQ(r.key_type, expected_key_type(c.key.scheme()));
    EXPECT_EQ(r.subject_text(), "CN=Example Issuing CA,O=Example,C=DE");
    EXPECT_EQ(r.common_name(), "Example Issuing CA");
    EXPECT_TRUE(r.sans.empty());
    EXPECT_FALSE(r.requests_ca);
    EXPECT_EQ(X509_REQ_get_version(r.request.get()), 0);
    // Labelled with the AlgorithmIdentifier certificates from this key carry.
    const X509_ALGOR* alg = nullptr;
    X509_REQ_get0_signature(r.request.get(), nullptr, &alg);
    unsigned char* alg_der = nullptr;
    const int alg_len = i2d_X509_ALGOR(alg, &alg_der);
    const Bytes got(alg_der, alg_der + alg_len);
    OPENSSL_free(alg_der);
    const auto want = signature_algorithm_der(c.key.scheme());
    EXPECT_EQ(got, Bytes(want.begin(), want.end()));
  }
}

TEST(MakeCertificateRequestTest, IsVerifiedByOpensslForEveryKeyType) {
  const test::TempDir dir;
  const std::string path = (dir / "request.der").string();
  for (const auto& c : test::every_key()) {
    SCOPED_TRACE(c.name);
    const Bytes der = make_certificate_request(c.key, csr_subject());
    test::write_file(path, std::string(der.begin(), der.end()));
    const auto r = test::run_process({"openssl", "req", "-inform", "DER", "-in", path, "-verify", "-noout"});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE((r.out + r.err).find("verify OK"), std::string::npos) << r.out << r.err;
  }
}

TEST(MakeCertificateRequestTest, IsVerifiedByGnutlsForEveryKeyType) {
  const test::TempDir dir;
  const std::string path = (dir / "request.der").string();
  for (const auto& c : test::every_key()) {
    SCOPED_TRACE(c.name);
    const Bytes der = make_certificate_request(c.key, csr_subject());
    test::write_file(path, std::string(der.begin(), der.end()));
    const auto r = test::run_process({"certtool", "--crq-info", "--inder", "--infile", path});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("Self signature: verified"), std::string::npos) << r.out << r.err;
  }
}

TEST(MakeCertificateRequestTest, RefusesToHandOutARequestSignedByAnotherKey) {
  const auto& claimed = test::key_for(SignatureScheme::ecdsa_sha256);
  const auto other = SoftwareSigningKey::generate(token::KeyType::ec_p256);
  const MismatchedKey key(claimed, other);
  EXPECT_THROW(make_certificate_request(key, csr_subject()), VerificationError);
}

TEST(MakeCertificateRequestTest, RefusesAnInvalidSubject) {
  DistinguishedName subject = csr_subject();
  subject.common_name.clear();
  EXPECT_THROW(make_certificate_request(test::key_for(SignatureScheme::ecdsa_sha256), subject),
               std::invalid_argument);
}

}  // namespace
}  // namespace hsmca::signer
