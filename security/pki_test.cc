#include "security/pki.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "base/files.h"
#include "security/identity.h"
#include "security/pki_files.h"

namespace cascade::security {
namespace {

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};

std::unique_ptr<X509, X509Free> Parse(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return std::unique_ptr<X509, X509Free>(cert);
}

std::string Serial(const std::string& pem) {
  auto cert = Parse(pem);
  BIGNUM* number =
      ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert.get()), nullptr);
  char* hex = BN_bn2hex(number);
  std::string out(hex);
  OPENSSL_free(hex);
  BN_free(number);
  return out;
}

std::string TempDir() {
  std::string dir = std::string(std::getenv("TEST_TMPDIR")) + "/pkiXXXXXX";
  EXPECT_NE(mkdtemp(dir.data()), nullptr);
  return dir;
}

class PkiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CaOptions options;
    options.name = "test";
    auto ca = MakeCa(options);
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = *std::move(ca);
  }

  Credentials IssueNode(const std::string& id) {
    IssueOptions options;
    options.identity = {IdentityKind::kNode, id, Role::kNone};
    auto issued = Issue(ca_, options);
    EXPECT_TRUE(issued.ok()) << issued.status();
    return issued.value_or(Credentials());
  }

  Credentials ca_;
};

TEST_F(PkiTest, CaIsACa) {
  auto cert = Parse(ca_.certificate);
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(X509_check_ca(cert.get()), 1);
  EXPECT_EQ(X509_get_key_usage(cert.get()), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
  char cn[64];
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_commonName,
                            cn, sizeof(cn));
  EXPECT_STREQ(cn, "Cascade CA test");
  EXPECT_EQ(EVP_PKEY_get_bits(X509_get0_pubkey(cert.get())), 256);
  // Valid for ten years by default.
  int days = 0, seconds = 0;
  ASSERT_EQ(ASN1_TIME_diff(&days, &seconds, X509_get0_notBefore(cert.get()),
                           X509_get0_notAfter(cert.get())),
            1);
  EXPECT_EQ(days, 3650);
  EXPECT_TRUE(Verify(ca_.certificate, ca_.certificate, absl::Now()).ok());
}

TEST_F(PkiTest, IssuedNodeCertificateRoundTrips) {
  IssueOptions options;
  options.identity = {IdentityKind::kNode, "topologyd", Role::kNone};
  options.dns_names = {"controller.example"};
  options.ip_addresses = {"127.0.0.1", "::1"};
  auto issued = Issue(ca_, options);
  ASSERT_TRUE(issued.ok()) << issued.status();
  EXPECT_TRUE(Verify(issued->certificate, ca_.certificate, absl::Now()).ok());
  auto identity = IdentityFromPem(issued->certificate);
  ASSERT_TRUE(identity.ok()) << identity.status();
  EXPECT_EQ(*identity, options.identity);

  auto cert = Parse(issued->certificate);
  EXPECT_EQ(X509_check_ca(cert.get()), 0);
  EXPECT_EQ(X509_get_extended_key_usage(cert.get()),
            static_cast<uint32_t>(XKU_SSL_CLIENT | XKU_SSL_SERVER));
  EXPECT_EQ(X509_check_host(cert.get(), "controller.example", 0, 0, nullptr),
            1);
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "::1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "127.0.0.2", 0), 0);
  EXPECT_EQ(X509_get_signature_nid(cert.get()), NID_ecdsa_with_SHA256);
  int days = 0, seconds = 0;
  ASN1_TIME_diff(&days, &seconds, X509_get0_notBefore(cert.get()),
                 X509_get0_notAfter(cert.get()));
  EXPECT_EQ(days, 365);
  // The key is the certificate's.
  BIO* bio =
      BIO_new_mem_buf(issued->key.data(), static_cast<int>(issued->key.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ASSERT_NE(key, nullptr);
  EXPECT_EQ(X509_check_private_key(cert.get(), key), 1);
  EVP_PKEY_free(key);
}

TEST_F(PkiTest, OneCertificateForTheRelaysOfOneProcess) {
  IssueOptions options;
  options.identity =
      Identity(IdentityKind::kNode, "p1", Role::kNone, {"p1-d01", "p1-d02"});
  auto issued = Issue(ca_, options);
  ASSERT_TRUE(issued.ok()) << issued.status();
  auto identity = IdentityFromPem(issued->certificate);
  ASSERT_TRUE(identity.ok()) << identity.status();
  EXPECT_EQ(*identity, options.identity);
  EXPECT_TRUE(identity->SpeaksFor("p1-d02"));
  options.identity.more_nodes.push_back("p1");
  EXPECT_EQ(Issue(ca_, options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(PkiTest, OperatorCarriesItsRoleInTheOu) {
  IssueOptions options;
  options.identity = {IdentityKind::kOperator, "alice", Role::kViewer};
  auto issued = Issue(ca_, options);
  ASSERT_TRUE(issued.ok()) << issued.status();
  auto identity = IdentityFromPem(issued->certificate);
  ASSERT_TRUE(identity.ok()) << identity.status();
  EXPECT_EQ(*identity, options.identity);
  char ou[32];
  X509_NAME_get_text_by_NID(
      X509_get_subject_name(Parse(issued->certificate).get()),
      NID_organizationalUnitName, ou, sizeof(ou));
  EXPECT_STREQ(ou, "viewer");
  // Operators do not serve.
  options.ip_addresses = {"127.0.0.1"};
  EXPECT_FALSE(Issue(ca_, options).ok());
}

TEST_F(PkiTest, SerialsAreRandom128Bit) {
  const std::string a = Serial(IssueNode("d1").certificate);
  const std::string b = Serial(IssueNode("d1").certificate);
  EXPECT_NE(a, b);
  EXPECT_LE(a.size(), 32u);
  EXPECT_GE(a.size(), 24u);  // a 128-bit draw with 8 leading zero nibbles is
                             // 1 in 4 billion
}

TEST_F(PkiTest, AnotherCasCertificateFailsVerification) {
  auto other = MakeCa(CaOptions{});
  ASSERT_TRUE(other.ok());
  const Credentials leaf = IssueNode("d1");
  absl::Status status =
      Verify(leaf.certificate, other->certificate, absl::Now());
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(status.message().find("unable to get local issuer certificate"),
            absl::string_view::npos)
      << status;
}

TEST_F(PkiTest, ExpiredAndNotYetValidAreDetected) {
  CaOptions ca_options;
  ca_options.now = absl::Now() - absl::Hours(72);
  auto ca = MakeCa(ca_options);
  ASSERT_TRUE(ca.ok());
  ca_ = *ca;
  IssueOptions options;
  options.identity = {IdentityKind::kNode, "d1", Role::kNone};
  options.now = absl::Now() - absl::Hours(48);
  options.validity = absl::Hours(24);
  auto expired = Issue(ca_, options);
  ASSERT_TRUE(expired.ok());
  absl::Status status =
      Verify(expired->certificate, ca_.certificate, absl::Now());
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(status.message().find("certificate has expired"),
            absl::string_view::npos)
      << status;
  // Valid within its window, and a little before it (clock skew).
  EXPECT_TRUE(Verify(expired->certificate, ca_.certificate,
                     options.now + absl::Hours(1))
                  .ok());
  EXPECT_TRUE(Verify(expired->certificate, ca_.certificate,
                     options.now - absl::Minutes(1))
                  .ok());
  status = Verify(expired->certificate, ca_.certificate,
                  options.now - absl::Hours(1));
  EXPECT_NE(status.message().find("not yet valid"), absl::string_view::npos)
      << status;
}

TEST_F(PkiTest, MalformedInputIsAnError) {
  EXPECT_EQ(Verify("junk", ca_.certificate, absl::Now()).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(IdentityFromPem("junk").status().code(),
            absl::StatusCode::kInvalidArgument);
  IssueOptions options;
  options.identity = {IdentityKind::kNode, "d1", Role::kNone};
  EXPECT_FALSE(Issue(Credentials{"junk", ca_.key}, options).ok());
  EXPECT_FALSE(Issue(Credentials{ca_.certificate, "junk"}, options).ok());
  // A leaf is not a CA; another CA's key does not fit.
  const Credentials leaf = IssueNode("d1");
  EXPECT_FALSE(Issue(leaf, options).ok());
  auto other = MakeCa(CaOptions{});
  absl::StatusOr<Credentials> mixed =
      Issue(Credentials{ca_.certificate, other->key}, options);
  EXPECT_NE(mixed.status().message().find("does not belong"),
            absl::string_view::npos)
      << mixed.status();
  // Invalid identities and names.
  options.identity.name = "bad id";
  EXPECT_EQ(Issue(ca_, options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.identity.name = "d1";
  options.ip_addresses = {"300.1.1.1"};
  EXPECT_NE(Issue(ca_, options).status().message().find("not an IP address"),
            absl::string_view::npos);
  options.ip_addresses.clear();
  options.dns_names = {"bad_name.example"};
  EXPECT_NE(Issue(ca_, options).status().message().find("not a DNS name"),
            absl::string_view::npos);
}

TEST_F(PkiTest, FilesHaveTheirModesAndAreNotReplacedUnlessAsked) {
  const std::string dir = TempDir() + "/run/pki";
  ASSERT_TRUE(WriteCredentials(dir, kCaName, ca_, false).ok());
  struct stat st;
  ASSERT_EQ(stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  const CredentialFiles files = FilesOf(dir, kCaName);
  ASSERT_EQ(stat(files.key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(stat(files.certificate.c_str(), &st), 0);
  const mode_t mask = umask(0);
  umask(mask);
  EXPECT_EQ(st.st_mode & 0777, 0644u & ~mask);

  auto back = ReadCredentials(dir, kCaName);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->certificate, ca_.certificate);
  EXPECT_EQ(back->key, ca_.key);

  auto other = MakeCa(CaOptions{});
  absl::Status refused = WriteCredentials(dir, kCaName, *other, false);
  EXPECT_EQ(refused.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(ReadCredentials(dir, kCaName)->key, ca_.key);
  ASSERT_TRUE(WriteCredentials(dir, kCaName, *other, true).ok());
  EXPECT_EQ(ReadCredentials(dir, kCaName)->key, other->key);

  for (const char* bad : {"", ".", "..", "a/b"}) {
    EXPECT_EQ(WriteCredentials(dir, bad, ca_, false).code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
  EXPECT_EQ(ReadCredentials(dir, "missing").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace cascade::security
