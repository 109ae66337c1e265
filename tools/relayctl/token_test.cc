#include "tools/relayctl/token.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <sstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "base/files.h"
#include "security/pki.h"
#include "security/pki_files.h"
#include "security/token.h"
#include "tools/relayctl/relayctl.h"

namespace cascade::relayctl {
namespace {

struct Result {
  int code;
  std::string out, err;
};

class TokenCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::string(std::getenv("TEST_TMPDIR")) + "/tokenXXXXXX";
    ASSERT_NE(mkdtemp(dir_.data()), nullptr);
    auto ca = security::MakeCa(security::CaOptions{});
    ASSERT_TRUE(ca.ok());
    ca_ = *std::move(ca);
    ASSERT_TRUE(
        security::WriteCredentials(dir_ + "/ca", security::kCaName, ca_, false)
            .ok());
    options_.operator_name = "tom";
    options_.role = "operator";
    options_.ttl = absl::Hours(8);
    options_.ca = dir_ + "/ca";
  }

  Result Run(const TokenOptions& options) {
    std::ostringstream out, err;
    const int code = RunTokenIssue(options, {"token", "issue"}, out, err);
    return {code, out.str(), err.str()};
  }

  std::string dir_;
  security::Credentials ca_;
  TokenOptions options_;
};

TEST_F(TokenCommandTest, IssuesAVerifiableTokenIntoAPrivateFile) {
  options_.out = dir_ + "/tom.token";
  Result issued = Run(options_);
  ASSERT_EQ(issued.code, kExitDone) << issued.err;
  EXPECT_TRUE(absl::StartsWith(
      issued.out, "wrote " + options_.out + " (mode 0600): token "))
      << issued.out;
  EXPECT_TRUE(absl::StrContains(issued.out, "for operator tom (operator)"));
  struct stat st;
  ASSERT_EQ(stat(options_.out.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto verifier = security::TokenVerifier::FromCaPem(ca_.certificate);
  ASSERT_TRUE(verifier.ok());
  security::Token token;
  const std::string text(absl::StripAsciiWhitespace(*ReadFile(options_.out)));
  ASSERT_TRUE(verifier->Verify(text, absl::Now(), &token).ok());
  EXPECT_EQ(token.operator_name, "tom");
  EXPECT_EQ(token.role, security::Role::kOperator);
  EXPECT_EQ(token.expires - token.issued, absl::Hours(8));

  // Kept unless --force.
  Result again = Run(options_);
  EXPECT_EQ(again.code, kExitRefused);
  EXPECT_TRUE(absl::StrContains(again.err, "exists (--force replaces it)"));
  options_.force = true;
  EXPECT_EQ(Run(options_).code, kExitDone);
}

TEST_F(TokenCommandTest, WithoutOutTheTokenAloneGoesToStdout) {
  Result issued = Run(options_);
  ASSERT_EQ(issued.code, kExitDone) << issued.err;
  EXPECT_TRUE(security::LooksLikeToken(issued.out));
  EXPECT_EQ(issued.out.find('\n'), issued.out.size() - 1);
  EXPECT_TRUE(absl::StrContains(issued.err, "for operator tom (operator)"));
}

TEST_F(TokenCommandTest, BadFlagsSayWhich) {
  TokenOptions options = options_;
  options.role = "root";
  EXPECT_EQ(Run(options).code, kExitUsage);
  options = options_;
  options.ttl = absl::Hours(24 * 400);
  Result too_long = Run(options);
  EXPECT_EQ(too_long.code, kExitUsage);
  EXPECT_TRUE(absl::StrContains(too_long.err, "may live at most"))
      << too_long.err;
  options = options_;
  options.operator_name = "no spaces";
  EXPECT_EQ(Run(options).code, kExitUsage);
  options = options_;
  options.ttl = absl::ZeroDuration();
  EXPECT_EQ(Run(options).code, kExitUsage);
  options = options_;
  options.ca = dir_ + "/nowhere";
  EXPECT_EQ(Run(options).code, kExitNotFound);
}

}  // namespace
}  // namespace cascade::relayctl
