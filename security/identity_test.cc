#include "security/identity.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <string>
#include <vector>

#include "security/pki.h"

namespace cascade::security {
namespace {

Identity Node(const std::string& id) {
  return Identity{IdentityKind::kNode, id, Role::kNone};
}

// A self-signed certificate with exactly the given URI SANs and OUs, for
// what the PKI itself refuses to issue. IdentityFromPem does not verify,
// so no CA is needed.
std::string RawCertificate(const std::vector<std::string>& uris,
                           const std::vector<std::string>& ous) {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  X509* cert = X509_new();
  X509_set_version(cert, X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("test"), -1,
                             -1, 0);
  for (const std::string& ou : ous) {
    X509_NAME_add_entry_by_txt(
        name, "OU", MBSTRING_ASC,
        reinterpret_cast<const unsigned char*>(ou.c_str()), -1, -1, 0);
  }
  X509_set_issuer_name(cert, name);
  if (!uris.empty()) {
    GENERAL_NAMES* names = sk_GENERAL_NAME_new_null();
    for (const std::string& uri : uris) {
      ASN1_IA5STRING* value = ASN1_IA5STRING_new();
      ASN1_STRING_set(value, uri.data(), static_cast<int>(uri.size()));
      GENERAL_NAME* general = GENERAL_NAME_new();
      GENERAL_NAME_set0_value(general, GEN_URI, value);
      sk_GENERAL_NAME_push(names, general);
    }
    X509_add1_ext_i2d(cert, NID_subject_alt_name, names, 0, X509V3_ADD_DEFAULT);
    GENERAL_NAMES_free(names);
  }
  X509_sign(cert, key, EVP_sha256());
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(size));
  BIO_free(bio);
  X509_free(cert);
  EVP_PKEY_free(key);
  return pem;
}

TEST(IdentityTest, UrisRoundTrip) {
  EXPECT_EQ(IdentityUri(Node("p1-sb")), "spiffe://cascade/node/p1-sb");
  Identity alice{IdentityKind::kOperator, "alice", Role::kAdmin};
  EXPECT_EQ(IdentityUri(alice), "spiffe://cascade/operator/alice");
  auto parsed = ParseIdentityUri("spiffe://cascade/operator/alice");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->kind, IdentityKind::kOperator);
  EXPECT_EQ(parsed->name, "alice");
  EXPECT_EQ(parsed->role, Role::kNone);
}

TEST(IdentityTest, NodeIdsAPathCannotHoldArePercentEncodedOneWay) {
  const Identity odd = Node("a/b%c?#\"");
  const std::string uri = IdentityUri(odd);
  EXPECT_EQ(uri, "spiffe://cascade/node/a%2Fb%25c%3F%23%22");
  auto parsed = ParseIdentityUri(uri);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, odd);
  // Other spellings of the same name are refused.
  EXPECT_FALSE(
      ParseIdentityUri("spiffe://cascade/node/a%2fb%25c%3F%23%22").ok());
  EXPECT_FALSE(ParseIdentityUri("spiffe://cascade/node/%41").ok());
  EXPECT_FALSE(ParseIdentityUri("spiffe://cascade/node/a%2").ok());
}

TEST(IdentityTest, InvalidUrisAreRefusedWithAReason) {
  for (const char* uri :
       {"", "spiffe://cascade/node/", "spiffe://other/node/p1",
        "https://cascade/node/p1", "spiffe://cascade/relay/p1",
        "spiffe://cascade/node/a%20b",  // a space
        "spiffe://cascade/operator/bob/x",
        "spiffe://cascade/operator/.hidden"}) {
    auto parsed = ParseIdentityUri(uri);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument)
        << uri;
  }
  const std::string long_id(65, 'x');
  auto too_long = ParseIdentityUri("spiffe://cascade/node/" + long_id);
  EXPECT_NE(too_long.status().message().find("more than 64"),
            absl::string_view::npos)
      << too_long.status();
}

TEST(IdentityTest, RolesByName) {
  EXPECT_EQ(*ParseRole("viewer"), Role::kViewer);
  EXPECT_EQ(*ParseRole("operator"), Role::kOperator);
  EXPECT_EQ(*ParseRole("admin"), Role::kAdmin);
  EXPECT_FALSE(ParseRole("root").ok());
  EXPECT_FALSE(ParseRole("none").ok());
  EXPECT_EQ(Describe({IdentityKind::kOperator, "bob", Role::kViewer}),
            "operator bob (viewer)");
  EXPECT_EQ(Describe(Node("d1")), "node d1");
}

TEST(IdentityTest, ValidateIdentity) {
  EXPECT_TRUE(ValidateIdentity(Node("d1")).ok());
  EXPECT_FALSE(ValidateIdentity(Node("")).ok());
  EXPECT_FALSE(ValidateIdentity(Node("has space")).ok());
  EXPECT_FALSE(
      ValidateIdentity({IdentityKind::kNode, "d1", Role::kAdmin}).ok());
  EXPECT_FALSE(
      ValidateIdentity({IdentityKind::kOperator, "bob", Role::kNone}).ok());
  EXPECT_TRUE(
      ValidateIdentity({IdentityKind::kOperator, "bob.b_2-x", Role::kViewer})
          .ok());
}

TEST(IdentityTest, FromCertificatesThePkiWouldNotIssue) {
  auto node = IdentityFromPem(RawCertificate({"spiffe://cascade/node/d1"}, {}));
  ASSERT_TRUE(node.ok()) << node.status();
  EXPECT_EQ(*node, Node("d1"));

  auto op = IdentityFromPem(
      RawCertificate({"spiffe://cascade/operator/bob"}, {"operator"}));
  ASSERT_TRUE(op.ok()) << op.status();
  EXPECT_EQ(op->role, Role::kOperator);

  struct Case {
    std::vector<std::string> uris, ous;
    const char* says;
  };
  for (const Case& c : std::vector<Case>{
           {{}, {}, "no subjectAltName"},
           {{"spiffe://cascade/node/a", "spiffe://cascade/operator/b"},
            {"admin"},
            "only a node's certificate names several"},
           {{"spiffe://cascade/node/a", "spiffe://cascade/node/a"},
            {},
            "node a named twice"},
           {{"spiffe://cascade/node/a", "spiffe://other/node/b"},
            {},
            "is not spiffe://cascade/node/ID"},
           {{"spiffe://cascade/node/bad id"}, {}, "not printable ASCII"},
           {{"spiffe://cascade/node/" + std::string(65, 'x')},
            {},
            "more than 64"},
           {{"spiffe://cascade/operator/bob"}, {}, "has no role"},
           {{"spiffe://cascade/operator/bob"}, {"root"}, "is not viewer"},
           {{"spiffe://cascade/operator/bob"},
            {"admin", "viewer"},
            "more than one OU"},
       }) {
    auto parsed = IdentityFromPem(RawCertificate(c.uris, c.ous));
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument)
        << c.says;
    EXPECT_NE(parsed.status().message().find(c.says), absl::string_view::npos)
        << parsed.status();
  }
}

TEST(IdentityTest, ANodeCertificateMayNameSeveralNodes) {
  const Identity group(IdentityKind::kNode, "p1", Role::kNone,
                       {"p1-d01", "p1-d02", "p1-d03"});
  EXPECT_TRUE(ValidateIdentity(group).ok());
  EXPECT_EQ(
      IdentityUris(group),
      (std::vector<std::string>{
          "spiffe://cascade/node/p1", "spiffe://cascade/node/p1-d01",
          "spiffe://cascade/node/p1-d02", "spiffe://cascade/node/p1-d03"}));
  EXPECT_EQ(Describe(group), "nodes p1, p1-d01, p1-d02 and 1 more");
  EXPECT_EQ(Describe(Identity(IdentityKind::kNode, "a", Role::kNone, {"b"})),
            "nodes a and b");
  EXPECT_TRUE(group.SpeaksFor("p1"));
  EXPECT_TRUE(group.SpeaksFor("p1-d03"));
  EXPECT_FALSE(group.SpeaksFor("p1-d04"));
  EXPECT_FALSE(
      Identity(IdentityKind::kOperator, "p1", Role::kAdmin).SpeaksFor("p1"));

  auto parsed = IdentityFromPem(RawCertificate(IdentityUris(group), {}));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, group);

  EXPECT_FALSE(ValidateIdentity(
                   Identity(IdentityKind::kNode, "a", Role::kNone, {"b", "a"}))
                   .ok());
  EXPECT_FALSE(ValidateIdentity(Identity(IdentityKind::kOperator, "bob",
                                         Role::kAdmin, {"d1"}))
                   .ok());
  std::vector<std::string> many(kMaxNodesPerCertificate);
  for (size_t i = 0; i < many.size(); ++i) many[i] = "n" + std::to_string(i);
  EXPECT_NE(
      ValidateIdentity(Identity(IdentityKind::kNode, "x", Role::kNone, many))
          .message()
          .find("more than 256"),
      absl::string_view::npos);
}

TEST(IdentityTest, MalformedPemIsAnErrorNotACrash) {
  for (const std::string& pem :
       {std::string(), std::string("not pem"),
        std::string("-----BEGIN CERTIFICATE-----\nAAAA\n"
                    "-----END CERTIFICATE-----\n"),
        std::string(100 << 10, 'A')}) {
    auto parsed = IdentityFromPem(pem);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  }
  // A truncated certificate.
  const std::string whole = RawCertificate({"spiffe://cascade/node/d1"}, {});
  EXPECT_FALSE(IdentityFromPem(whole.substr(0, whole.size() / 2)).ok());
}

TEST(IdentityTest, CertificateInfoHasTheSerialAndExpiryOfTheCertificate) {
  const absl::Time now = absl::FromUnixSeconds(1790000000);
  absl::StatusOr<Credentials> ca = MakeCa({.now = now});
  ASSERT_TRUE(ca.ok()) << ca.status();
  IssueOptions options;
  options.identity = Node("p1");
  options.now = now;
  options.validity = absl::Hours(48);
  absl::StatusOr<Credentials> issued = Issue(*ca, options);
  ASSERT_TRUE(issued.ok()) << issued.status();
  absl::StatusOr<CertificateInfo> info =
      CertificateInfoFromPem(issued->certificate);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->identity, Node("p1"));
  EXPECT_EQ(info->not_after, now + absl::Hours(48));
  // 128 random bits, high bit clear: up to 32 lowercase hex digits.
  ASSERT_FALSE(info->serial.empty());
  EXPECT_LE(info->serial.size(), 32u);
  EXPECT_EQ(NormalizeSerial(info->serial).value_or(""), info->serial);

  // Another certificate of the same node has another serial.
  absl::StatusOr<Credentials> again = Issue(*ca, options);
  ASSERT_TRUE(again.ok());
  EXPECT_NE(CertificateInfoFromPem(again->certificate)->serial, info->serial);

  const std::string raw = RawCertificate({"spiffe://cascade/node/d1"}, {});
  EXPECT_EQ(CertificateInfoFromPem(raw)->serial, "1");
  EXPECT_FALSE(CertificateInfoFromPem("not pem").ok());
  EXPECT_FALSE(CertificateInfoFromPem(RawCertificate({}, {})).ok());
}

TEST(IdentityTest, SerialsAreNormalisedAndJunkIsRefused) {
  EXPECT_EQ(NormalizeSerial("0A:1b:FF").value_or(""), "a1bff");
  EXPECT_EQ(NormalizeSerial(" 0x00ff\n").value_or(""), "ff");
  EXPECT_EQ(NormalizeSerial("000").value_or(""), "0");
  for (const char* junk : {"", "0x", ":", "12g4", "-1", "1 2"}) {
    EXPECT_EQ(NormalizeSerial(junk).status().code(),
              absl::StatusCode::kInvalidArgument)
        << junk;
  }
  EXPECT_TRUE(NormalizeSerial(std::string(40, 'f')).ok());
  EXPECT_NE(NormalizeSerial(std::string(42, 'f'))
                .status()
                .message()
                .find("at most 20"),
            absl::string_view::npos);
}

}  // namespace
}  // namespace cascade::security
