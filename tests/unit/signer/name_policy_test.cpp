#include "hsmca/signer/name_policy.hpp"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <string>
#include <vector>

#include "hsmca/signer/leaf.hpp"
#include "test_certificates.hpp"
#include "test_keys.hpp"
#include "test_requests.hpp"

namespace hsmca::signer {
namespace {

using Kind = SubjectAltName::Kind;
using CommonName = NamePolicy::CommonName;
using test::make_request;
using test::RequestSpec;

IpRange range(const char* text) {
  auto parsed = IpRange::parse(text);
  if (!parsed) throw std::invalid_argument(std::string("not a range: ") + text);
  return *parsed;
}

// "ok NAME" with the name as granted, or "refused MESSAGE".
std::string verdict(Kind kind, const std::string& value, const NamePolicy& policy) {
  const auto checked = check_name({kind, value}, policy, "server");
  if (checked.ok()) return "ok " + checked.value().value;
  EXPECT_EQ(checked.rejection().code, "name_policy");
  return "refused " + checked.rejection().message;
}

bool allowed(Kind kind, const std::string& value, const NamePolicy& policy) {
  return verdict(kind, value, policy).starts_with("ok ");
}

const NamePolicy kUnrestricted{};

NamePolicy only_dns(std::vector<std::string> dns, bool wildcards = false) {
  return {.restricted = true, .dns = std::move(dns), .wildcards = wildcards};
}

// The policy a profile's YAML block gives, read as the CA file reads it.
NamePolicy from_yaml(const std::string& block) {
  StrictMap profile(YAML::Load(block), "profiles.dev");
  return read_name_policy(profile);
}

// --- IP ranges ---------------------------------------------------------------

TEST(IpRangeTest, ParsesIpv4AndIpv6RangesAndTakesABareAddressAsOneAddress) {
  EXPECT_EQ(range("10.0.0.0/8").str(), "10.0.0.0/8");
  EXPECT_EQ(range("fd00::/8").str(), "fd00::/8");
  EXPECT_EQ(range("FD00:0:0::/16").str(), "fd00::/16");
  EXPECT_EQ(range("0.0.0.0/0").str(), "0.0.0.0/0");
  EXPECT_EQ(range("192.0.2.7").str(), "192.0.2.7/32");
  EXPECT_EQ(range("2001:db8::1").str(), "2001:db8::1/128");
  EXPECT_EQ(range("10.0.0.0/8").size, 4u);
  EXPECT_EQ(range("fd00::/8").size, 16u);
}

TEST(IpRangeTest, RefusesWhatIsNoRange) {
  for (const char* text : {"", "10.1", "10.0.0.0/", "/8", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/08",
                           "10.0.0.0/8/8", "fd00::/129", "fe80::1%eth0", "example.test", " 10.0.0.0/8"}) {
    SCOPED_TRACE(text);
    EXPECT_FALSE(IpRange::parse(text));
  }
}

TEST(IpRangeTest, KnowsWhenBitsAreSetBeyondThePrefix) {
  EXPECT_TRUE(range("10.0.0.1/8").has_host_bits());
  EXPECT_EQ(range("10.0.0.1/8").without_host_bits().str(), "10.0.0.0/8");
  EXPECT_TRUE(range("192.168.1.0/23").has_host_bits());
  EXPECT_EQ(range("192.168.1.0/23").without_host_bits().str(), "192.168.0.0/23");
  EXPECT_TRUE(range("fd00::1/8").has_host_bits());
  EXPECT_FALSE(range("10.0.0.0/8").has_host_bits());
  EXPECT_FALSE(range("192.168.0.0/23").has_host_bits());
  EXPECT_FALSE(range("10.0.0.1").has_host_bits());
  EXPECT_FALSE(range("::/0").has_host_bits());
}

TEST(NamePolicyTest, AllowsAnIpv4AddressExactlyWhenItIsInsideARange) {
  const NamePolicy policy{.restricted = true, .ip = {range("10.0.0.0/8"), range("192.168.0.0/23"), range("192.0.2.7")}};
  for (const char* ip : {"10.0.0.0", "10.0.0.1", "10.255.255.255", "192.168.0.0", "192.168.1.255", "192.0.2.7"}) {
    SCOPED_TRACE(ip);
    EXPECT_TRUE(allowed(Kind::ip, ip, policy));
  }
  for (const char* ip : {"11.0.0.0", "9.255.255.255", "192.168.2.0", "192.167.255.255", "192.0.2.6", "192.0.2.8"}) {
    SCOPED_TRACE(ip);
    EXPECT_FALSE(allowed(Kind::ip, ip, policy));
  }
}

TEST(NamePolicyTest, AllowsAnIpv6AddressExactlyWhenItIsInsideARange) {
  const NamePolicy policy{.restricted = true, .ip = {range("fd00::/8"), range("2001:db8::1")}};
  for (const char* ip : {"fd00::", "fd12:3456::1", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db8::1"}) {
    SCOPED_TRACE(ip);
    EXPECT_TRUE(allowed(Kind::ip, ip, policy));
  }
  for (const char* ip : {"fe00::", "fc00::1", "2001:db8::2", "::"}) {
    SCOPED_TRACE(ip);
    EXPECT_FALSE(allowed(Kind::ip, ip, policy));
  }
}

TEST(NamePolicyTest, AllowsEveryAddressOfOneFamilyUnderASlashZero) {
  const NamePolicy v4{.restricted = true, .ip = {range("0.0.0.0/0")}};
  EXPECT_TRUE(allowed(Kind::ip, "0.0.0.0", v4));
  EXPECT_TRUE(allowed(Kind::ip, "255.255.255.255", v4));
  EXPECT_FALSE(allowed(Kind::ip, "2001:db8::1", v4)) << "an IPv4 range holds no IPv6 address";
  const NamePolicy v6{.restricted = true, .ip = {range("::/0")}};
  EXPECT_TRUE(allowed(Kind::ip, "ffff::1", v6));
  EXPECT_FALSE(allowed(Kind::ip, "10.0.0.1", v6)) << "an IPv6 range holds no IPv4 address";
}

TEST(NamePolicyTest, TreatsAnIpv4MappedIpv6AddressAsIpv6) {
  const NamePolicy v4{.restricted = true, .ip = {range("10.0.0.0/8")}};
  EXPECT_EQ(verdict(Kind::ip, "::ffff:10.0.0.1", v4),
            "refused IP ::ffff:10.0.0.1 is outside profile \"server\" (allowed: 10.0.0.0/8)");
  const NamePolicy mapped{.restricted = true, .ip = {range("::ffff:0:0/96")}};
  EXPECT_TRUE(allowed(Kind::ip, "::ffff:10.0.0.1", mapped));
  EXPECT_FALSE(allowed(Kind::ip, "10.0.0.1", mapped));
}

TEST(NamePolicyTest, SaysWhatTheProfileAllowsWhenItRefusesAnAddress) {
  const NamePolicy ranges{.restricted = true, .ip = {range("10.0.0.0/8")}};
  EXPECT_EQ(verdict(Kind::ip, "8.8.8.8", ranges),
            "refused IP 8.8.8.8 is outside profile \"server\" (allowed: 10.0.0.0/8)");
  EXPECT_EQ(verdict(Kind::ip, "8.8.8.8", only_dns({"example.test"})),
            "refused IP 8.8.8.8 is outside profile \"server\" (it allows no IP addresses)");
}

TEST(NamePolicyTest, GrantsAddressesInCanonicalTextAndRefusesWhatIsNoAddress) {
  EXPECT_EQ(verdict(Kind::ip, "2001:DB8:0:0::1", kUnrestricted), "ok 2001:db8::1");
  EXPECT_EQ(verdict(Kind::ip, "192.0.2.7", kUnrestricted), "ok 192.0.2.7");
  for (const char* ip : {"999.0.0.1", "10.1", "fe80::1%eth0", "example.test", ""}) {
    SCOPED_TRACE(ip);
    EXPECT_FALSE(allowed(Kind::ip, ip, kUnrestricted));
  }
}

// --- DNS names ---------------------------------------------------------------

TEST(NamePolicyTest, UnrestrictedAllowsEveryValidDnsNameWithSingleLabelsAndWildcards) {
  for (const char* name : {"localhost", "build01", "registry", "www.example.test", "*.example.test",
                           "xn--bcher-kva.example", "a-b.example.test", "4chan.example", "a.b.c.d.e.f"}) {
    SCOPED_TRACE(name);
    EXPECT_EQ(verdict(Kind::dns, name, kUnrestricted), std::string("ok ") + name);
  }
  const std::string longest_label(63, 'a');
  EXPECT_TRUE(allowed(Kind::dns, longest_label + ".test", kUnrestricted));
  // 253 octets in all: four labels of 63 and "a" with four dots between them.
  const std::string longest = longest_label + "." + longest_label + "." + longest_label + "." + longest_label + ".a";
  ASSERT_EQ(longest.size(), 257u);
  const std::string name253 = longest.substr(4);
  ASSERT_EQ(name253.size(), 253u);
  EXPECT_TRUE(allowed(Kind::dns, name253, kUnrestricted));
  EXPECT_FALSE(allowed(Kind::dns, "a" + name253, kUnrestricted)) << "254 octets";
  EXPECT_FALSE(allowed(Kind::dns, std::string(64, 'a') + ".test", kUnrestricted)) << "a label of 64 octets";
}

TEST(NamePolicyTest, RefusesWhatIsNoDnsNameEvenWhenUnrestricted) {
  for (const char* name : {"", ".", "exa mple.example.test", "-a.example.test", "a-.example.test", "a..example.test",
                           ".example.test", "a_b.example.test", "10.0.0.1", "12345", "*", "*.", "a.*.example.test",
                           "*a.example.test", "**.example.test", "*.*.example.test", "www.example.test/x"}) {
    SCOPED_TRACE(name);
    const std::string result = verdict(Kind::dns, name, kUnrestricted);
    EXPECT_TRUE(result.starts_with("refused ")) << result;
  }
}

TEST(NamePolicyTest, RefusesATrailingDotSayingSo) {
  EXPECT_EQ(verdict(Kind::dns, "a.example.test.", kUnrestricted),
            "refused DNS name \"a.example.test.\" ends with a dot: a certificate's dNSName is written without the "
            "trailing dot");
  EXPECT_FALSE(allowed(Kind::dns, "localhost.", kUnrestricted));
}

TEST(NamePolicyTest, RefusesAWildcardOverASingleLabelWhateverTheProfile) {
  for (const char* name : {"*.com", "*.localhost", "*.test"}) {
    SCOPED_TRACE(name);
    EXPECT_FALSE(allowed(Kind::dns, name, kUnrestricted));
    EXPECT_FALSE(allowed(Kind::dns, name, only_dns({"com", "localhost", "test"}, true)));
  }
}

TEST(NamePolicyTest, RefusesRawNonAsciiAndAcceptsItsPunycode) {
  const std::string message = verdict(Kind::dns, "b\xc3\xbc" "cher.example", kUnrestricted);
  EXPECT_TRUE(message.starts_with("refused ")) << message;
  EXPECT_NE(message.find("punycode"), std::string::npos) << message;
  const NamePolicy policy = only_dns({"xn--bcher-kva.example"});
  EXPECT_EQ(verdict(Kind::dns, "www.XN--BCHER-KVA.example", policy), "ok www.xn--bcher-kva.example");
}

TEST(NamePolicyTest, GrantsDnsNamesLowercaseAndMatchesEntriesCaseInsensitively) {
  EXPECT_EQ(verdict(Kind::dns, "WWW.Example.TEST", kUnrestricted), "ok www.example.test");
  EXPECT_EQ(verdict(Kind::dns, "WWW.Example.TEST", only_dns({"example.test"})), "ok www.example.test");
  EXPECT_EQ(verdict(Kind::dns, "www.example.test", only_dns({"EXAMPLE.test"})), "ok www.example.test");
}

TEST(NamePolicyTest, MatchesADnsEntryOnlyOnALabelBoundary) {
  const NamePolicy policy = only_dns({"example.test"});
  for (const char* name : {"example.test", "a.example.test", "b.a.example.test"}) {
    SCOPED_TRACE(name);
    EXPECT_TRUE(allowed(Kind::dns, name, policy));
  }
  for (const char* name : {"badexample.test", "example.test.evil", "test", "xexample.test", "example.tes"}) {
    SCOPED_TRACE(name);
    EXPECT_EQ(verdict(Kind::dns, name, policy),
              "refused DNS name \"" + std::string(name) + "\" is outside profile \"server\" (allowed: example.test)");
  }
}

TEST(NamePolicyTest, AllowsASingleLabelNameInARestrictedProfileOnlyWhenListed) {
  EXPECT_FALSE(allowed(Kind::dns, "localhost", only_dns({"example.test"})));
  EXPECT_FALSE(allowed(Kind::dns, "build01", only_dns({"example.test"})));
  const NamePolicy local = only_dns({"localhost", "example.test"});
  EXPECT_TRUE(allowed(Kind::dns, "localhost", local));
  EXPECT_TRUE(allowed(Kind::dns, "app.localhost", local));
  EXPECT_FALSE(allowed(Kind::dns, "localhost.evil", local));
  EXPECT_FALSE(allowed(Kind::dns, "build01", local));
}

TEST(NamePolicyTest, MatchesLocalhostWrittenInTheOlderSpelling) {
  // allowed_dns_suffixes: [localhost] could never match before: single-label
  // names were refused as not being DNS names.
  const NamePolicy policy = from_yaml("{allowed_dns_suffixes: [localhost]}");
  EXPECT_TRUE(policy.restricted);
  EXPECT_EQ(verdict(Kind::dns, "localhost", policy), "ok localhost");
  EXPECT_FALSE(allowed(Kind::dns, "example.test", policy));
  EXPECT_FALSE(allowed(Kind::ip, "127.0.0.1", policy)) << "a restricted policy lists no IP addresses";
}

TEST(NamePolicyTest, AllowsAWildcardInARestrictedProfileOnlyWhenItSaysWildcards) {
  EXPECT_EQ(verdict(Kind::dns, "*.example.test", only_dns({"example.test"})),
            "refused DNS name \"*.example.test\" is a wildcard, which profile \"server\" does not allow "
            "(names.wildcards)");
  EXPECT_EQ(verdict(Kind::dns, "*.Example.test", only_dns({"example.test"}, true)), "ok *.example.test");
  EXPECT_EQ(verdict(Kind::dns, "*.a.example.test", only_dns({"example.test"}, true)), "ok *.a.example.test");
  EXPECT_FALSE(allowed(Kind::dns, "*.other.test", only_dns({"example.test"}, true)));
  EXPECT_FALSE(allowed(Kind::dns, "*.test", only_dns({"example.test"}, true)));
}

TEST(NamePolicyTest, RefusesEveryDnsNameInARestrictedProfileThatListsNone) {
  const NamePolicy policy{.restricted = true, .ip = {range("10.0.0.0/8")}};
  EXPECT_EQ(verdict(Kind::dns, "a.example.test", policy),
            "refused DNS name \"a.example.test\" is outside profile \"server\" (it allows no DNS names)");
}

// --- email addresses ---------------------------------------------------------

TEST(NamePolicyTest, GrantsEmailAddressesWithALowercaseDomainAndRefusesMalformedOnes) {
  EXPECT_EQ(verdict(Kind::email, "Ops@Example.TEST", kUnrestricted), "ok Ops@example.test");
  EXPECT_EQ(verdict(Kind::email, "root@localhost", kUnrestricted), "ok root@localhost");
  for (const char* email : {"ops", "@example.test", "ops@", "a@b@example.test", "o ps@example.test",
                            "ops@-x.example.test", "ops@example.test.", "ops@10.0.0.1", "ops@*.example.test"}) {
    SCOPED_TRACE(email);
    EXPECT_FALSE(allowed(Kind::email, email, kUnrestricted));
  }
}

TEST(NamePolicyTest, MatchesAnEmailDomainEntryOnALabelBoundary) {
  const NamePolicy policy{.restricted = true, .email = {"example.test"}};
  EXPECT_TRUE(allowed(Kind::email, "ops@example.test", policy));
  EXPECT_TRUE(allowed(Kind::email, "ops@mail.EXAMPLE.test", policy));
  EXPECT_EQ(verdict(Kind::email, "ops@badexample.test", policy),
            "refused email address \"ops@badexample.test\" is outside profile \"server\" (allowed: example.test)");
  EXPECT_FALSE(allowed(Kind::email, "ops@example.test.evil", policy));
}

TEST(NamePolicyTest, MatchesAnEmailAddressEntryExactlyButForTheDomainsCase) {
  const NamePolicy policy{.restricted = true, .email = {"Ops@example.test"}};
  EXPECT_EQ(verdict(Kind::email, "Ops@EXAMPLE.test", policy), "ok Ops@example.test");
  EXPECT_FALSE(allowed(Kind::email, "ops@example.test", policy)) << "the local part is the mailbox owner's";
  EXPECT_FALSE(allowed(Kind::email, "other@example.test", policy));
  EXPECT_FALSE(allowed(Kind::email, "Ops@mail.example.test", policy));
}

TEST(NamePolicyTest, RefusesEveryEmailAddressInARestrictedProfileThatListsNone) {
  EXPECT_EQ(verdict(Kind::email, "ops@example.test", only_dns({"example.test"})),
            "refused email address \"ops@example.test\" is outside profile \"server\" (it allows no email addresses)");
}

// --- URIs --------------------------------------------------------------------

TEST(NamePolicyTest, UnrestrictedAllowsAnyUriWithASchemeAsGiven) {
  for (const char* uri : {"urn:example:a", "spiffe://prod/ns/web", "HTTPS://Example.test/Path", "a+b.c-d:x"}) {
    SCOPED_TRACE(uri);
    EXPECT_EQ(verdict(Kind::uri, uri, kUnrestricted), std::string("ok ") + uri);
  }
  for (const char* uri : {"", "no-scheme/path", "1http://x", ":x", "https://exa mple.test/", "//host/path"}) {
    SCOPED_TRACE(uri);
    EXPECT_FALSE(allowed(Kind::uri, uri, kUnrestricted));
  }
}

TEST(NamePolicyTest, MatchesAUriEntryBySchemeHostAndPathPrefix) {
  const NamePolicy policy{.restricted = true, .uri = {"spiffe://prod/"}};
  EXPECT_EQ(verdict(Kind::uri, "spiffe://prod/ns/web", policy), "ok spiffe://prod/ns/web");
  EXPECT_EQ(verdict(Kind::uri, "SPIFFE://PROD/ns/web", policy), "ok SPIFFE://PROD/ns/web")
      << "scheme and host compared case-insensitively; the URI kept as asked";
  EXPECT_FALSE(allowed(Kind::uri, "spiffe://prod:8443/ns/web", policy)) << "entries name no port, so none is allowed";
  for (const char* uri : {"spiffe://prod.evil/x", "spiffe://evil.prod/x", "spiffe://pro/x", "https://prod/",
                          "spiffe://prod", "spiffe:prod/x", "urn:spiffe:prod", "spiffe://prod:x/ns"}) {
    SCOPED_TRACE(uri);
    EXPECT_FALSE(allowed(Kind::uri, uri, policy));
  }
  EXPECT_EQ(verdict(Kind::uri, "https://prod/", policy),
            "refused URI \"https://prod/\" is outside profile \"server\" (allowed: spiffe://prod/)");
}

TEST(NamePolicyTest, RefusesUserinfoInARestrictedUriEitherWayRound) {
  const NamePolicy policy{.restricted = true, .uri = {"spiffe://prod/"}};
  for (const char* uri : {"spiffe://evil@prod/", "spiffe://prod@evil/", "spiffe://a:b@prod/x"}) {
    SCOPED_TRACE(uri);
    const std::string message = verdict(Kind::uri, uri, policy);
    EXPECT_TRUE(message.starts_with("refused ")) << message;
    EXPECT_NE(message.find("userinfo"), std::string::npos) << message;
  }
}

TEST(NamePolicyTest, ComparesTheWholePathPrefixAndRefusesDotSegments) {
  const NamePolicy policy{.restricted = true, .uri = {"https://example.test/api/"}};
  EXPECT_TRUE(allowed(Kind::uri, "https://example.test/api/v1", policy));
  EXPECT_TRUE(allowed(Kind::uri, "https://example.test/api/?x=1", policy));
  for (const char* uri : {"https://example.test/apiv1", "https://example.test/", "https://example.test",
                          "https://example.test/API/v1", "https://example.test/api/../admin",
                          "https://example.test/api/%2E%2E/admin", "https://example.test/api/./x"}) {
    SCOPED_TRACE(uri);
    EXPECT_FALSE(allowed(Kind::uri, uri, policy));
  }
  const NamePolicy any_path{.restricted = true, .uri = {"https://example.test"}};
  EXPECT_TRUE(allowed(Kind::uri, "https://example.test", any_path));
  EXPECT_TRUE(allowed(Kind::uri, "https://example.test/anything", any_path));
  EXPECT_FALSE(allowed(Kind::uri, "https://example.test.evil/", any_path));
}

TEST(NamePolicyTest, MatchesAnIpv6LiteralUriHost) {
  const NamePolicy policy{.restricted = true, .uri = {"https://[2001:db8::1]/"}};
  EXPECT_TRUE(allowed(Kind::uri, "https://[2001:DB8::1]/x", policy));
  EXPECT_FALSE(allowed(Kind::uri, "https://[2001:db8::1]:8443/x", policy)) << "no port";
  EXPECT_FALSE(allowed(Kind::uri, "https://[2001:db8::2]/x", policy));
}

TEST(NamePolicyTest, RefusesEveryUriInARestrictedProfileThatListsNone) {
  EXPECT_EQ(verdict(Kind::uri, "https://example.test/", only_dns({"example.test"})),
            "refused URI \"https://example.test/\" is outside profile \"server\" (it allows no URIs)");
}

// --- reading the policy ------------------------------------------------------

TEST(NamePolicyTest, IsRestrictedByANamesBlockWhateverItLists) {
  EXPECT_FALSE(from_yaml("{}").restricted);
  EXPECT_TRUE(from_yaml("{names: {common_name: text, wildcards: true}}").restricted);
  EXPECT_TRUE(from_yaml("{names: {}}").restricted);
  EXPECT_TRUE(from_yaml("{names: {uri: [\"spiffe://prod/\"]}}").restricted);
  EXPECT_TRUE(from_yaml("{names: {ip: []}}").restricted);
  const NamePolicy text = from_yaml("{names: {common_name: text}}");
  EXPECT_EQ(text.common_name, CommonName::text);
  // A client profile for people: a free-text CN, and no name of any kind.
  EXPECT_FALSE(allowed(Kind::uri, "spiffe://prod/ns/admin", text));
  EXPECT_FALSE(allowed(Kind::email, "ceo@bank.com", text));
  EXPECT_FALSE(allowed(Kind::dns, "www.bank.com", text));
  EXPECT_FALSE(allowed(Kind::ip, "8.8.8.8", text));
  EXPECT_TRUE(allowed(Kind::dns, "*.example.test", kUnrestricted)) << "an unrestricted profile allows wildcards";
}

TEST(NamePolicyTest, RefusesUriSpellingsThatResolveElsewhereInARestrictedProfile) {
  NamePolicy spiffe{.restricted = true, .uri = {"spiffe://prod/ns/"}};
  EXPECT_TRUE(allowed(Kind::uri, "spiffe://prod/ns/web", spiffe));
  for (const char* uri : {"spiffe://prod/ns/..%2fadmin", "spiffe://prod/ns/..\\admin", "spiffe://prod/ns/x/..;/admin",
                          "spiffe://prod:443/ns/x", "spiffe://prod/ns/%61dmin"}) {
    SCOPED_TRACE(uri);
    EXPECT_FALSE(allowed(Kind::uri, uri, spiffe));
  }
}

// --- the subject's common name -----------------------------------------------

const SoftwareSigningKey& key() { return test::key_for(token::SignatureScheme::ecdsa_sha256); }

// "DNS:...,IP:..." as granted, or "refused MESSAGE".
std::string granted(const RequestSpec& spec, const NamePolicy& policy) {
  const auto names = grant_names(make_request(key().pkey(), spec), policy, "server");
  if (!names.ok()) {
    EXPECT_EQ(names.rejection().code, "name_policy");
    return "refused " + names.rejection().message;
  }
  std::string out;
  for (const auto& name : names.value()) out += (out.empty() ? "" : ",") + name.str();
  return out;
}

NamePolicy server_names(CommonName common_name = CommonName::name) {
  return {.restricted = true,
          .dns = {"example.test"},
          .ip = {range("10.0.0.0/8"), range("2001:db8::/32")},
          .email = {"example.test"},
          .common_name = common_name};
}

TEST(NamePolicyTest, RefusesARequestWithTwoCommonNamesInEitherMode) {
  // The CA would check the last; a client may read the first.
  const RequestSpec spec{{{NID_commonName, "evil.other.test"}, {NID_commonName, "www.example.test"}}, {}};
  for (CommonName mode : {CommonName::name, CommonName::text}) {
    EXPECT_EQ(granted(spec, server_names(mode)), "refused the request has 2 common names; at most one is allowed");
  }
  EXPECT_EQ(granted(spec, kUnrestricted), "refused the request has 2 common names; at most one is allowed");
}

TEST(NamePolicyTest, RefusesACommonNameLongerThanRfc5280Allows) {
  // OpenSSL's own name builder refuses such a CN; a hostile requester's does not.
  for (std::size_t length : {64u, 65u}) {
    auto request = make_request(key().pkey(), {{}, {}});
    const std::string cn(length, 'a');
    X509_NAME_ENTRY* entry = X509_NAME_ENTRY_create_by_NID(
        nullptr, NID_commonName, V_ASN1_UTF8STRING, reinterpret_cast<const unsigned char*>(cn.data()),
        static_cast<int>(cn.size()));
    ASSERT_NE(entry, nullptr);
    ASSERT_EQ(X509_NAME_add_entry(X509_REQ_get_subject_name(request.request.get()), entry, -1, 0), 1);
    X509_NAME_ENTRY_free(entry);
    const auto names = grant_names(request, server_names(CommonName::text), "client");
    if (length == 64) {
      EXPECT_TRUE(names.ok()) << names.rejection().message;
    } else {
      ASSERT_FALSE(names.ok());
      EXPECT_EQ(names.rejection().message, "the common name is longer than 64 characters (RFC 5280 ub-common-name)");
    }
  }
}

TEST(NamePolicyTest, ChecksASubjectEmailAddressAgainstTheEmailPolicy) {
  // S/MIME clients and name constraints read it as an address.
  const RequestSpec outside{{{NID_commonName, "www.example.test"}, {NID_pkcs9_emailAddress, "ceo@bank.com"}}, {}};
  EXPECT_TRUE(granted(outside, server_names()).starts_with("refused subject emailAddress:")) << granted(outside, server_names());
  const RequestSpec inside{{{NID_commonName, "www.example.test"}, {NID_pkcs9_emailAddress, "ops@example.test"}}, {}};
  EXPECT_EQ(granted(inside, server_names()), "DNS:www.example.test");
}

TEST(NamePolicyTest, AddsACommonNameThatIsAnAllowedDnsNameAsASubjectAltName) {
  EXPECT_EQ(granted({{{NID_commonName, "WWW.Example.test"}}, {{Kind::dns, "api.example.test"}}}, server_names()),
            "DNS:api.example.test,DNS:www.example.test");
  EXPECT_EQ(granted({{{NID_commonName, "build01"}}, {}}, kUnrestricted), "DNS:build01");
}

TEST(NamePolicyTest, AddsACommonNameThatIsAnAllowedAddressAsAnIpSubjectAltName) {
  EXPECT_EQ(granted({{{NID_commonName, "10.1.2.3"}}, {}}, server_names()), "IP:10.1.2.3");
  EXPECT_EQ(granted({{{NID_commonName, "2001:DB8::5"}}, {}}, server_names()), "IP:2001:db8::5");
}

TEST(NamePolicyTest, AddsNothingForACommonNameEqualToARequestedName) {
  EXPECT_EQ(granted({{{NID_commonName, "WWW.EXAMPLE.TEST"}}, {{Kind::dns, "www.example.test"}}}, server_names()),
            "DNS:www.example.test");
  EXPECT_EQ(granted({{{NID_commonName, "2001:DB8:0::1"}}, {{Kind::ip, "2001:db8::1"}}}, server_names()),
            "IP:2001:db8::1");
  EXPECT_EQ(granted({{{NID_commonName, "ops@example.test"}}, {{Kind::email, "ops@example.test"}}}, server_names()),
            "email:ops@example.test");
  EXPECT_EQ(granted({{{NID_commonName, "urn:example:svc"}}, {{Kind::uri, "urn:example:svc"}}}, kUnrestricted),
            "URI:urn:example:svc");
}

TEST(NamePolicyTest, AcceptsAnEmptyCommonNameOrNone) {
  EXPECT_EQ(granted({{{NID_commonName, ""}}, {{Kind::dns, "www.example.test"}}}, server_names()),
            "DNS:www.example.test");
  EXPECT_EQ(granted({{{NID_organizationName, "Example"}}, {{Kind::dns, "www.example.test"}}}, server_names()),
            "DNS:www.example.test");
}

TEST(NamePolicyTest, RefusesACommonNameThatIsNeitherARequestedNameNorAnAllowedOne) {
  for (const char* cn : {"evil.com.", "*.com", "Alice Example", "12345"}) {
    SCOPED_TRACE(cn);
    EXPECT_EQ(granted({{{NID_commonName, cn}}, {{Kind::dns, "www.example.test"}}}, server_names()),
              "refused common name \"" + std::string(cn) +
                  "\" is neither one of the request's subjectAltNames nor a name profile \"server\" allows (a "
                  "profile without server_auth may allow free text: names: {common_name: text})");
  }
  EXPECT_TRUE(granted({{{NID_commonName, "evil.com."}}, {}}, kUnrestricted).starts_with("refused "))
      << "not a DNS name, so not a name an unrestricted profile allows either";
}

TEST(NamePolicyTest, RefusesACommonNameOutsideThePolicySayingWhy) {
  EXPECT_EQ(granted({{{NID_commonName, "www.other.test"}}, {{Kind::dns, "www.example.test"}}}, server_names()),
            "refused common name: DNS name \"www.other.test\" is outside profile \"server\" (allowed: example.test)");
  EXPECT_EQ(granted({{{NID_commonName, "8.8.8.8"}}, {}}, server_names()),
            "refused common name: IP 8.8.8.8 is outside profile \"server\" (allowed: 10.0.0.0/8, 2001:db8::/32)");
  EXPECT_TRUE(granted({{{NID_commonName, "*.example.test"}}, {}}, server_names()).starts_with("refused "))
      << "a wildcard CN needs names.wildcards like a wildcard SAN";
}

TEST(NamePolicyTest, CopiesATextCommonNameWithoutCheckingOrGrantingIt) {
  for (const char* cn : {"evil.com.", "Alice Example", "www.other.test", "8.8.8.8"}) {
    SCOPED_TRACE(cn);
    EXPECT_EQ(granted({{{NID_commonName, cn}}, {{Kind::dns, "www.example.test"}}}, server_names(CommonName::text)),
              "DNS:www.example.test");
  }
}

TEST(NamePolicyTest, RefusesTheWholeRequestForOneNameOutsideThePolicy) {
  EXPECT_EQ(granted({{}, {{Kind::dns, "www.example.test"}, {Kind::ip, "10.0.0.1"}, {Kind::ip, "8.8.8.8"}}},
                    server_names()),
            "refused IP 8.8.8.8 is outside profile \"server\" (allowed: 10.0.0.0/8, 2001:db8::/32)");
}

// --- through plan_leaf ---------------------------------------------------------

// A root of the test key and a server profile with server_names(): what
// plan_leaf is given for a request.
struct ServerCa {
  IssuedCertificate root = test::make_root(key());
  IssuerContext issuer{root.x509(), &key(), {}, {}, {}};
  Profile profile{.name = "server",
                  .validity_days = 30,
                  .extended_key_usage = {ExtendedKeyUsage::server_auth},
                  .names = server_names()};
  Outcome<LeafPlan> plan(const RequestSpec& spec) const {
    return plan_leaf(make_request(key().pkey(), spec), profile, issuer, std::nullopt, std::chrono::system_clock::now());
  }
};

TEST(NamePolicyTest, PutsTheGrantedCommonNameIntoTheCertificateAndKeepsTheSubject) {
  const ServerCa ca;
  auto plan = ca.plan({{{NID_commonName, "10.0.0.9"}}, {{Kind::dns, "a.example.test"}}});
  ASSERT_TRUE(plan.ok()) << plan.rejection().message;
  EXPECT_EQ(plan.value().sans, (std::vector<std::string>{"DNS:a.example.test", "IP:10.0.0.9"}));
  EXPECT_EQ(plan.value().subject, "CN=10.0.0.9");
  const IssuedCertificate leaf = sign_planned(plan.value(), ca.issuer);
  EXPECT_EQ(X509_check_ip_asc(leaf.x509(), "10.0.0.9", 0), 1);
  EXPECT_EQ(X509_check_host(leaf.x509(), "a.example.test", 0, 0, nullptr), 1);
}

TEST(NamePolicyTest, PlansNoCertificateForARequestTheNamePolicyRefuses) {
  const auto plan = ServerCa().plan({{{NID_commonName, "evil.com."}}, {}});
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.rejection().code, "name_policy");
}

// A leaf named as its issuer reads, to a path builder, as the CA itself.
TEST(NamePolicyTest, PlansNoCertificateWhoseSubjectIsTheIssuersName) {
  const ServerCa ca;
  RequestSpec spec;
  const X509_NAME* issuer_name = X509_get_subject_name(ca.root.x509());
  for (int i = 0; i < X509_NAME_entry_count(issuer_name); ++i) {
    const X509_NAME_ENTRY* e = X509_NAME_get_entry(issuer_name, i);
    const ASN1_STRING* data = X509_NAME_ENTRY_get_data(e);
    spec.subject.emplace_back(OBJ_obj2nid(X509_NAME_ENTRY_get_object(e)),
                              std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(data)),
                                          static_cast<std::size_t>(ASN1_STRING_length(data))));
  }
  spec.sans = {{Kind::dns, "a.example.test"}};
  const auto plan = ca.plan(spec);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.rejection().message, "the request's subject is the issuing CA's own name");
}

}  // namespace
}  // namespace hsmca::signer
