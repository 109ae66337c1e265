#include "webrtc/dtls/certificate.h"

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstdio>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace cascade::dtls {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1800000000);

std::unique_ptr<Certificate> Make() {
  auto certificate = Certificate::Generate({kNow});
  EXPECT_TRUE(certificate.ok()) << certificate.status();
  return certificate.ok() ? *std::move(certificate) : nullptr;
}

// Seconds from `now` to `time` (ASN1_TIME_diff counts days and seconds).
int64_t SecondsFrom(absl::Time now, const ASN1_TIME* time) {
  ASN1_TIME* at = ASN1_TIME_set(nullptr, absl::ToTimeT(now));
  int days = 0;
  int seconds = 0;
  EXPECT_EQ(ASN1_TIME_diff(&days, &seconds, at, time), 1);
  ASN1_TIME_free(at);
  return int64_t{days} * 86400 + seconds;
}

TEST(CertificateTest, SelfSignedP256WithItsValidity) {
  std::unique_ptr<Certificate> certificate = Make();
  ASSERT_NE(certificate, nullptr);
  X509* x509 = certificate->x509();
  EXPECT_EQ(X509_verify(x509, certificate->key()), 1);
  EXPECT_EQ(
      X509_NAME_cmp(X509_get_subject_name(x509), X509_get_issuer_name(x509)),
      0);
  EXPECT_EQ(EVP_PKEY_get_base_id(certificate->key()), EVP_PKEY_EC);
  char group[32] = {};
  size_t length = 0;
  ASSERT_EQ(EVP_PKEY_get_group_name(certificate->key(), group, sizeof(group),
                                    &length),
            1);
  EXPECT_EQ(std::string(group), "prime256v1");
  EXPECT_EQ(SecondsFrom(kNow, X509_get0_notBefore(x509)), -86400);
  EXPECT_EQ(SecondsFrom(kNow, X509_get0_notAfter(x509)), 30 * 86400);
}

TEST(CertificateTest, FingerprintIsTheSha256OfTheDer) {
  std::unique_ptr<Certificate> certificate = Make();
  ASSERT_NE(certificate, nullptr);
  unsigned char* der = nullptr;
  const int size = i2d_X509(certificate->x509(), &der);
  ASSERT_GT(size, 0);
  unsigned char digest[32];
  unsigned int digest_size = 0;
  ASSERT_EQ(EVP_Digest(der, static_cast<size_t>(size), digest, &digest_size,
                       EVP_sha256(), nullptr),
            1);
  OPENSSL_free(der);
  std::string expected;
  for (unsigned int i = 0; i < digest_size; ++i) {
    char byte[4];
    std::snprintf(byte, sizeof(byte), i == 0 ? "%02X" : ":%02X", digest[i]);
    expected += byte;
  }
  EXPECT_EQ(certificate->fingerprint().algorithm, "sha-256");
  EXPECT_EQ(certificate->fingerprint().value, expected);
  EXPECT_EQ(expected.size(), 32u * 3 - 1);
}

TEST(CertificateTest, EachOneIsNew) {
  std::unique_ptr<Certificate> a = Make();
  std::unique_ptr<Certificate> b = Make();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_NE(a->fingerprint(), b->fingerprint());
  EXPECT_NE(ASN1_INTEGER_cmp(X509_get0_serialNumber(a->x509()),
                             X509_get0_serialNumber(b->x509())),
            0);
  EXPECT_EQ(EVP_PKEY_eq(a->key(), b->key()), 0);
}

TEST(CertificateTest, DtlsContextIsMadeOnceThenShared) {
  auto certificate = Certificate::Generate({absl::Now()});
  ASSERT_TRUE(certificate.ok());
  int made = 0;
  auto make = [&made]() -> SSL_CTX* {
    ++made;
    return SSL_CTX_new(DTLS_method());
  };
  auto fail = [&made]() -> SSL_CTX* {
    ++made;
    return nullptr;
  };
  // A failure is not kept: the next transport tries again.
  EXPECT_EQ((*certificate)->DtlsContext(fail), nullptr);
  SSL_CTX* first = (*certificate)->DtlsContext(make);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ((*certificate)->DtlsContext(make), first);
  EXPECT_EQ(made, 2);
}

TEST(CertificateTest, RefusesANonPositiveLifetime) {
  EXPECT_FALSE(Certificate::Generate({kNow, absl::ZeroDuration()}).ok());
}

TEST(FingerprintTest, ParseNormalizesCase) {
  std::unique_ptr<Certificate> certificate = Make();
  ASSERT_NE(certificate, nullptr);
  const Fingerprint& own = certificate->fingerprint();
  auto parsed = ParseFingerprint("SHA-256", absl::AsciiStrToLower(own.value));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, own);
}

TEST(FingerprintTest, ParseRefusesWhatIsNotAFingerprint) {
  const std::string colons(32 * 3 - 1, ':');
  std::string valid;
  for (int i = 0; i < 32; ++i) valid += i == 0 ? "AB" : ":AB";
  ASSERT_TRUE(ParseFingerprint("sha-256", valid).ok());
  EXPECT_FALSE(ParseFingerprint("sha-256", valid.substr(3)).ok());  // short
  EXPECT_FALSE(ParseFingerprint("sha-256", valid + ":AB").ok());    // long
  EXPECT_FALSE(ParseFingerprint("sha-384", valid).ok());  // wrong length
  EXPECT_FALSE(ParseFingerprint("md5", valid.substr(0, 47)).ok());
  EXPECT_FALSE(ParseFingerprint("sha-1", valid.substr(0, 59)).ok());
  std::string bad_hex = valid;
  bad_hex[4] = 'G';
  EXPECT_FALSE(ParseFingerprint("sha-256", bad_hex).ok());
  std::string bad_separator = valid;
  bad_separator[2] = '-';
  EXPECT_FALSE(ParseFingerprint("sha-256", bad_separator).ok());
  EXPECT_FALSE(ParseFingerprint("sha-256", colons).ok());
  EXPECT_FALSE(ParseFingerprint("sha-256", "").ok());
}

TEST(FingerprintTest, OfACertificateUnderEachAlgorithm) {
  std::unique_ptr<Certificate> certificate = Make();
  ASSERT_NE(certificate, nullptr);
  for (const auto& [name, bytes] :
       {std::pair{"sha-256", 32}, std::pair{"sha-384", 48},
        std::pair{"sha-512", 64}}) {
    auto fingerprint = FingerprintOf(certificate->x509(), name);
    ASSERT_TRUE(fingerprint.ok()) << fingerprint.status();
    EXPECT_EQ(fingerprint->value.size(), size_t(bytes) * 3 - 1) << name;
    EXPECT_TRUE(ParseFingerprint(name, fingerprint->value).ok()) << name;
  }
  EXPECT_FALSE(FingerprintOf(certificate->x509(), "sha-1").ok());
}

}  // namespace
}  // namespace cascade::dtls
