#include "control/tls.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "base/files.h"

namespace cascade::control {
namespace {

std::string TempDir() {
  std::string dir = std::string(std::getenv("TEST_TMPDIR")) + "/tlsXXXXXX";
  EXPECT_NE(mkdtemp(dir.data()), nullptr);
  return dir;
}

TEST(TlsTest, NoFilesIsPlaintext) {
  auto credentials = ClientCredentials({});
  ASSERT_TRUE(credentials.ok());
  EXPECT_EQ(*credentials, nullptr);
}

TEST(TlsTest, FilesThatGoTogether) {
  EXPECT_EQ(ClientCredentials({"", "c.pem", ""}).status().message(),
            "--tls-cert and --tls-key go together");
  EXPECT_EQ(ClientCredentials({"", "c.pem", "c.key"}).status().message(),
            "--tls-cert needs --tls-ca");
}

TEST(TlsTest, ErrorsNameTheFlagAndFile) {
  const std::string dir = TempDir();
  auto missing = ClientCredentials({dir + "/none.pem", "", ""});
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(missing.status().message(),
            "--tls-ca: " + dir + "/none.pem: no such file");
  ASSERT_TRUE(WriteFileAtomically(dir + "/junk", "junk").ok());
  auto junk = ClientCredentials({dir + "/junk", "", ""});
  EXPECT_EQ(junk.status().message(),
            "--tls-ca: " + dir + "/junk holds no PEM block");
  const std::string pem = "-----BEGIN CERTIFICATE-----\n";
  ASSERT_TRUE(WriteFileAtomically(dir + "/ca.pem", pem).ok());
  auto ca_only = ClientCredentials({dir + "/ca.pem", "", ""});
  ASSERT_TRUE(ca_only.ok()) << ca_only.status();
  EXPECT_NE(*ca_only, nullptr);
  auto no_key =
      ClientCredentials({dir + "/ca.pem", dir + "/ca.pem", dir + "/none.key"});
  EXPECT_EQ(no_key.status().message(),
            "--tls-key: " + dir + "/none.key: no such file");
}

TEST(TlsTest, HandshakeHintFitsTheFiles) {
  EXPECT_NE(HandshakeHint({}).find("plaintext"), std::string::npos);
  EXPECT_NE(HandshakeHint({"ca.pem", "", ""}).find("--tls-cert"),
            std::string::npos);
  EXPECT_NE(HandshakeHint({"ca.pem", "c.pem", "c.key"}).find("expired"),
            std::string::npos);
}

TEST(TlsTest, ForNode) {
  EXPECT_EQ(ForNode("pki/{id}.pem", "p1-sb"), "pki/p1-sb.pem");
  EXPECT_EQ(ForNode("pki/node.pem", "p1"), "pki/node.pem");
}

}  // namespace
}  // namespace cascade::control
