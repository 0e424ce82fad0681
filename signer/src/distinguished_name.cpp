#include "hsmca/signer/certificate.hpp"

#include <openssl/objects.h>

#include <string>

namespace hsmca::signer {
namespace {

struct Attribute {
  const char* field;
  int nid;
  long max_chars;  // RFC 5280 appendix A upper bounds
  const std::string* value;  // nullptr when absent
};

const std::string* present(const std::optional<std::string>& value) { return value ? &*value : nullptr; }

[[noreturn]] void reject(const char* field, const std::string& why) {
  throw std::invalid_argument("subject " + std::string(field) + " " + why);
}

void add(X509_NAME* name, int nid, int type, const std::string& value) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(value.data());
  if (X509_NAME_add_entry_by_NID(name, nid, type, bytes, static_cast<int>(value.size()), -1, 0) != 1) {
    throw OpenSslError("X509_NAME_add_entry_by_NID");
  }
}

}  // namespace

X509NamePtr to_x509_name(const DistinguishedName& dn) {
  X509NamePtr name(X509_NAME_new());
  if (!name) throw OpenSslError("X509_NAME_new");

  if (dn.country) {
    const std::string& c = *dn.country;
    // X.520 countryName is PrintableString (SIZE (2)) holding an ISO 3166 code.
    if (c.size() != 2 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z') {
      reject("country", "must be two capital letters (ISO 3166-1 alpha-2, e.g. \"DE\"), not \"" + c + "\"");
    }
    add(name.get(), NID_countryName, V_ASN1_PRINTABLESTRING, c);
  }

  if (dn.common_name.empty()) reject("common_name", "is required");
  const Attribute attributes[] = {
      {"state", NID_stateOrProvinceName, 128, present(dn.state)},
      {"locality", NID_localityName, 128, present(dn.locality)},
      {"organization", NID_organizationName, 64, present(dn.organization)},
      {"organizational_unit", NID_organizationalUnitName, 64, present(dn.organizational_unit)},
      {"common_name", NID_commonName, 64, &dn.common_name},
  };
  for (const Attribute& a : attributes) {
    if (!a.value) continue;
    const std::string& v = *a.value;
    if (v.empty()) reject(a.field, "must not be empty (leave it out instead)");
    // An embedded NUL or line break makes a name read differently to different parsers.
    for (unsigned char ch : v) {
      if (ch < 0x20 || ch == 0x7f) reject(a.field, "must not contain control characters");
    }
    // Validates UTF-8 and counts characters, not bytes, as the bounds do;
    // with no output it only checks.
    if (v.size() > 4 * static_cast<std::size_t>(a.max_chars) ||
        ASN1_mbstring_ncopy(nullptr, reinterpret_cast<const unsigned char*>(v.data()),
                            static_cast<int>(v.size()), MBSTRING_UTF8, B_ASN1_UTF8STRING, 1,
                            a.max_chars) < 0) {
      drain_openssl_errors();
      reject(a.field, "must be valid UTF-8 of at most " + std::to_string(a.max_chars) + " characters");
    }
    // UTF8String set explicitly: OpenSSL's choice for MBSTRING_UTF8 follows a
    // process-wide mask any library may change (ASN1_STRING_set_default_mask).
    add(name.get(), a.nid, V_ASN1_UTF8STRING, v);
  }
  return name;
}

}  // namespace hsmca::signer
