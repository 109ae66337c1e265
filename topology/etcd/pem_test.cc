#include "topology/etcd/pem.h"

#include <string>

#include "gtest/gtest.h"

namespace cascade::topology::etcd {
namespace {

// A self-signed EC certificate, its key and another key: test fixtures,
// made once with the openssl CLI (validity is not what is checked here).
constexpr char kCertificate[] = R"(-----BEGIN CERTIFICATE-----
MIIBfTCCASOgAwIBAgIUKGqeo/63y7fNIEAEcSa5ScHcBPIwCgYIKoZIzj0EAwIw
EzERMA8GA1UEAwwIcGVtLXRlc3QwIBcNMjYxMjA2MjMwMDQwWhgPMjEyNjExMTIy
MzAwNDBaMBMxETAPBgNVBAMMCHBlbS10ZXN0MFkwEwYHKoZIzj0CAQYIKoZIzj0D
AQcDQgAE0iVHexcJ+OrHQHLPpMqTga3KuqnEtzciLJ5OhfAf0IUfNGpKRe6E6oHv
JleN8lbeNN17FcWXPHNrVjAF1PRDf6NTMFEwHQYDVR0OBBYEFHkHN79LItnvzn5M
+oo2XE+wDu82MB8GA1UdIwQYMBaAFHkHN79LItnvzn5M+oo2XE+wDu82MA8GA1Ud
EwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIgTlFQcKwdPLwZZPFAwGwHS1q2
4+OxOa6epPznrWUxPa4CIQDei+TS2mUaU+DEZ8qu5XPvXPEzZTcGLo9sSpWzNQGC
7Q==
-----END CERTIFICATE-----
)";
constexpr char kKey[] = R"(-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgn+3RZbi0lgnZloES
ge7WG4a3GrAF+MQqlacGrglbb4mhRANCAATSJUd7Fwn46sdAcs+kypOBrcq6qcS3
NyIsnk6F8B/QhR80akpF7oTqge8mV43yVt403XsVxZc8c2tWMAXU9EN/
-----END PRIVATE KEY-----
)";
constexpr char kOtherKey[] = R"(-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgpv5Z2bCyZvXr8ZDt
JiWLtqRDlnAcgI9OkGEYCxJ/S32hRANCAARqrsWRzeGhWG85N79wnjKnOohEIsU5
0HUs13M3x+ouek3p/ym/Ey+BmLSlvQwvq2nk26FkR4b4GHWITQzSKdB9
-----END PRIVATE KEY-----
)";

TEST(CheckCertificatesPemTest, AcceptsOneOrSeveralCertificates) {
  EXPECT_TRUE(CheckCertificatesPem(kCertificate).ok());
  EXPECT_TRUE(
      CheckCertificatesPem(std::string(kCertificate) + kCertificate).ok());
}

TEST(CheckCertificatesPemTest, RefusesWhatIsNoCertificate) {
  for (const std::string& bad :
       {std::string(), std::string("not pem\n"), std::string(kKey)}) {
    absl::Status status = CheckCertificatesPem(bad);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(status.message().find("no PEM certificate"), std::string::npos)
        << status;
  }
  // A certificate block whose body is damaged.
  std::string damaged = kCertificate;
  damaged.replace(damaged.find("MIIB"), 4, "AAAA");
  absl::Status status = CheckCertificatesPem(damaged);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("is not a certificate"), std::string::npos)
      << status;
}

TEST(CheckKeyPairPemTest, AcceptsTheCertificatesKeyOnly) {
  EXPECT_TRUE(CheckKeyPairPem(kCertificate, kKey).ok());
  absl::Status other = CheckKeyPairPem(kCertificate, kOtherKey);
  EXPECT_EQ(other.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(other.message().find("not the key of the certificate"),
            std::string::npos)
      << other;
  absl::Status junk = CheckKeyPairPem(kCertificate, "junk");
  EXPECT_NE(junk.message().find("not an unencrypted PEM private key"),
            std::string::npos)
      << junk;
  absl::Status no_certificate = CheckKeyPairPem(kKey, kKey);
  EXPECT_NE(no_certificate.message().find("no PEM certificate"),
            std::string::npos)
      << no_certificate;
}

}  // namespace
}  // namespace cascade::topology::etcd
