#include "security/token.h"

#include <gtest/gtest.h>

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "proto/token.pb.h"
#include "security/pki.h"

namespace cascade::security {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1800000000);

class TokenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = MakeCa(CaOptions{});
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = *std::move(ca);
    auto verifier = TokenVerifier::FromCaPem(ca_.certificate);
    ASSERT_TRUE(verifier.ok()) << verifier.status();
    verifier_ = std::make_unique<TokenVerifier>(*std::move(verifier));
  }

  static Token Claims(Role role = Role::kOperator) {
    Token token;
    token.operator_name = "alice";
    token.role = role;
    token.issued = kNow;
    token.expires = kNow + absl::Hours(1);
    return token;
  }

  std::string Mint(const Token& token) {
    absl::StatusOr<std::string> minted = MintToken(ca_, token);
    EXPECT_TRUE(minted.ok()) << minted.status();
    return minted.ok() ? *minted : "";
  }

  absl::Status Verify(const std::string& text, absl::Time at = kNow,
                      Token* out = nullptr) {
    Token token;
    return verifier_->Verify(text, at, out != nullptr ? out : &token);
  }

  Credentials ca_;
  std::unique_ptr<TokenVerifier> verifier_;
};

TEST_F(TokenTest, RoundTrip) {
  const std::string text = Mint(Claims(Role::kViewer));
  EXPECT_TRUE(LooksLikeToken(text));
  EXPECT_LE(text.size(), kMaxTokenChars);
  Token token;
  ASSERT_TRUE(Verify(text, kNow + absl::Minutes(59), &token).ok());
  EXPECT_EQ(token.operator_name, "alice");
  EXPECT_EQ(token.role, Role::kViewer);
  EXPECT_EQ(token.issued, kNow);
  EXPECT_EQ(token.expires, kNow + absl::Hours(1));
  EXPECT_EQ(token.id.size(), 32u);
  // Each token its own id.
  absl::StatusOr<Token> again = ParseToken(Mint(Claims()));
  ASSERT_TRUE(again.ok());
  EXPECT_NE(again->id, token.id);
}

TEST_F(TokenTest, ExpiredAndNotYetValid) {
  const std::string text = Mint(Claims());
  Token token;
  absl::Status expired = Verify(text, kNow + absl::Hours(1), &token);
  EXPECT_TRUE(absl::IsUnauthenticated(expired));
  EXPECT_TRUE(absl::StrContains(expired.message(), "expired")) << expired;
  // The claims of a signed, expired token are known (for the audit).
  EXPECT_EQ(token.operator_name, "alice");
  // Issued within the clock skew of `now`: accepted; further ahead: not.
  EXPECT_TRUE(Verify(text, kNow - kClockSkew).ok());
  absl::Status early = Verify(text, kNow - kClockSkew - absl::Seconds(1));
  EXPECT_TRUE(absl::StrContains(early.message(), "not valid yet")) << early;
}

TEST_F(TokenTest, AnotherCasTokenIsRefused) {
  auto other = MakeCa(CaOptions{});
  ASSERT_TRUE(other.ok());
  auto minted = MintToken(*other, Claims());
  ASSERT_TRUE(minted.ok());
  absl::Status refused = Verify(*minted);
  EXPECT_TRUE(absl::IsUnauthenticated(refused));
  EXPECT_EQ(refused.message(), "token not signed by this controller's CA");
}

TEST_F(TokenTest, AlteredClaimsOrSignatureAreRefused) {
  const std::string text = Mint(Claims(Role::kViewer));
  std::string bytes;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(text.substr(4), &bytes));
  cascade::v1::SignedToken signed_token;
  ASSERT_TRUE(signed_token.ParseFromString(bytes));
  auto encode = [](const cascade::v1::SignedToken& t) {
    return absl::StrCat(kTokenPrefix,
                        absl::WebSafeBase64Escape(t.SerializeAsString()));
  };
  // A viewer's token made an admin's: the signature no longer holds.
  cascade::v1::TokenClaims claims;
  ASSERT_TRUE(claims.ParseFromString(signed_token.claims()));
  claims.set_role("admin");
  cascade::v1::SignedToken promoted = signed_token;
  promoted.set_claims(claims.SerializeAsString());
  EXPECT_EQ(Verify(encode(promoted)).message(),
            "token not signed by this controller's CA");
  cascade::v1::SignedToken forged = signed_token;
  forged.mutable_signature()->back() ^= 1;
  EXPECT_TRUE(absl::IsUnauthenticated(Verify(encode(forged))));
}

TEST_F(TokenTest, MalformedTokensSayWhy) {
  const std::string text = Mint(Claims());
  struct Case {
    std::string text;
    std::string says;
  };
  const Case cases[] = {
      {"", "does not start with ct1."},
      {"let-me-in", "does not start with ct1."},
      {"ct1.", "claims or signature missing"},
      {"ct1.a+b/", "not base64url"},
      {text + "=", "not base64url"},
      {"ct1." + std::string(kMaxTokenChars, 'A'), "longer than"},
      {text.substr(0, text.size() - 8), "malformed token"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Token> parsed = ParseToken(c.text);
    EXPECT_TRUE(absl::IsInvalidArgument(parsed.status())) << c.text;
    EXPECT_TRUE(absl::StrContains(parsed.status().message(), c.says))
        << c.text << ": " << parsed.status();
    EXPECT_TRUE(absl::IsUnauthenticated(Verify(c.text))) << c.text;
  }
}

TEST_F(TokenTest, MintingChecksTheClaims) {
  Token token = Claims();
  token.operator_name = "no spaces";
  EXPECT_TRUE(absl::IsInvalidArgument(MintToken(ca_, token).status()));
  token = Claims(Role::kNone);
  EXPECT_TRUE(absl::IsInvalidArgument(MintToken(ca_, token).status()));
  token = Claims();
  token.expires = token.issued;
  EXPECT_TRUE(absl::IsInvalidArgument(MintToken(ca_, token).status()));
  token.expires = token.issued + kMaxTokenTtl + absl::Seconds(1);
  EXPECT_TRUE(absl::IsInvalidArgument(MintToken(ca_, token).status()));
  token = Claims();
  token.id = "ABCD";
  EXPECT_TRUE(absl::IsInvalidArgument(MintToken(ca_, token).status()));
  // A key that is not the certificate's.
  auto other = MakeCa(CaOptions{});
  ASSERT_TRUE(other.ok());
  Credentials mixed = {ca_.certificate, other->key};
  EXPECT_TRUE(absl::IsInvalidArgument(MintToken(mixed, Claims()).status()));
}

TEST_F(TokenTest, VerifierNeedsAnEcCertificate) {
  EXPECT_FALSE(TokenVerifier::FromCaPem("not pem").ok());
  // A bundle: the second CA's tokens verify too.
  auto other = MakeCa(CaOptions{});
  ASSERT_TRUE(other.ok());
  auto bundle = TokenVerifier::FromCaPem(ca_.certificate + other->certificate);
  ASSERT_TRUE(bundle.ok());
  auto minted = MintToken(*other, Claims());
  ASSERT_TRUE(minted.ok());
  Token token;
  EXPECT_TRUE(bundle->Verify(*minted, kNow, &token).ok());
}

}  // namespace
}  // namespace cascade::security
