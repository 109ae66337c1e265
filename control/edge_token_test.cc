#include "control/edge_token.h"

#include <openssl/x509.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace cascade::control {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

class EdgeTokenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<KeyPtr> key = NewEcdsaKey();
    ASSERT_TRUE(key.ok()) << key.status();
    key_ = *std::move(key);
    absl::StatusOr<std::string> der = PublicKeyDer(key_.get());
    ASSERT_TRUE(der.ok()) << der.status();
    public_key_ = *der;
  }

  EdgeToken Claims() const {
    EdgeToken token;
    token.relay = "p1-d01";
    token.stream = "program";
    token.action = EdgeAction::kWatch;
    token.issued = kNow - absl::Minutes(1);
    token.expires = kNow + absl::Hours(2);
    token.holder = "p1-d01-s003";
    return token;
  }

  std::string Mint(const EdgeToken& token) {
    absl::StatusOr<std::string> text = MintEdgeToken(key_.get(), token);
    EXPECT_TRUE(text.ok()) << text.status();
    return text.value_or("");
  }

  EdgeTokenVerifier Verifier(std::vector<std::string> keys) {
    absl::StatusOr<EdgeTokenVerifier> verifier =
        EdgeTokenVerifier::FromPublicKeys(keys);
    EXPECT_TRUE(verifier.ok()) << verifier.status();
    return *std::move(verifier);
  }

  absl::StatusCode Code(const std::string& text,
                        EdgeAction action = EdgeAction::kWatch,
                        absl::string_view relay = "p1-d01") {
    return Verifier({public_key_})
        .Verify(text, relay, "program", action, kNow)
        .status()
        .code();
  }

  KeyPtr key_;
  std::string public_key_;
};

TEST_F(EdgeTokenTest, MintedTokenVerifiesWithItsClaims) {
  const std::string text = Mint(Claims());
  EXPECT_EQ(text.rfind(kEdgeTokenPrefix, 0), 0u);
  absl::StatusOr<EdgeToken> token =
      Verifier({public_key_})
          .Verify(text, "p1-d01", "program", EdgeAction::kWatch, kNow);
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(token->holder, "p1-d01-s003");
  EXPECT_EQ(token->id.size(), 32u);
  EXPECT_EQ(token->expires, kNow + absl::Hours(2));
  // Each mint gets its own id.
  EXPECT_NE(Mint(Claims()), text);
}

TEST_F(EdgeTokenTest, AnotherRelayStreamOrActionIsDenied) {
  const std::string text = Mint(Claims());
  EXPECT_EQ(Code(text, EdgeAction::kPublish),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Code(text, EdgeAction::kWatch, "p1-d02"),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Verifier({public_key_})
                .Verify(text, "p1-d01", "other", EdgeAction::kWatch, kNow)
                .status()
                .code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(EdgeTokenTest, ExpiredAndFutureTokensAreRefused) {
  EdgeToken expired = Claims();
  expired.issued = kNow - absl::Hours(3);
  expired.expires = kNow;
  EXPECT_EQ(Code(Mint(expired)), absl::StatusCode::kUnauthenticated);
  EdgeToken early = Claims();
  early.issued = kNow + kEdgeClockSkew + absl::Seconds(1);
  early.expires = early.issued + absl::Hours(1);
  EXPECT_EQ(Code(Mint(early)), absl::StatusCode::kUnauthenticated);
  // Within the skew: the relay's clock may be behind.
  early.issued = kNow + kEdgeClockSkew - absl::Seconds(1);
  EXPECT_EQ(Code(Mint(early)), absl::StatusCode::kOk);
}

TEST_F(EdgeTokenTest, ForgedTokensAreRefused) {
  const std::string text = Mint(Claims());
  absl::StatusOr<SignedClaims> sealed =
      OpenClaims(text, kEdgeTokenPrefix, kMaxEdgeTokenChars, 1024);
  ASSERT_TRUE(sealed.ok()) << sealed.status();
  // A bit flipped in the signature, then in the claims.
  SignedClaims forged = *sealed;
  forged.signature.back() ^= 1;
  EXPECT_EQ(Code(SealClaims(kEdgeTokenPrefix, forged)),
            absl::StatusCode::kUnauthenticated);
  forged = *sealed;
  forged.claims[forged.claims.size() / 2] ^= 1;
  EXPECT_EQ(Code(SealClaims(kEdgeTokenPrefix, forged)),
            absl::StatusCode::kUnauthenticated);
  // Signed by a key the relay was not given (a relay cannot mint tokens).
  absl::StatusOr<KeyPtr> other = NewEcdsaKey();
  ASSERT_TRUE(other.ok());
  absl::StatusOr<std::string> foreign = MintEdgeToken(other->get(), Claims());
  ASSERT_TRUE(foreign.ok());
  EXPECT_EQ(Code(*foreign), absl::StatusCode::kUnauthenticated);
  // An operator's token signature does not pass for an edge token's: the
  // signing context differs.
  absl::StatusOr<std::string> cross =
      SignEcdsa(key_.get(), "cascade-token-v1", sealed->claims);
  ASSERT_TRUE(cross.ok());
  EXPECT_EQ(Code(SealClaims(kEdgeTokenPrefix, {sealed->claims, *cross})),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(EdgeTokenTest, RotatedOutKeyVerifiesOnlyWhileListed) {
  const std::string old_token = Mint(Claims());
  absl::StatusOr<KeyPtr> next = NewEcdsaKey();
  ASSERT_TRUE(next.ok());
  absl::StatusOr<std::string> next_der = PublicKeyDer(next->get());
  ASSERT_TRUE(next_der.ok());
  EXPECT_TRUE(
      Verifier({*next_der, public_key_})
          .Verify(old_token, "p1-d01", "program", EdgeAction::kWatch, kNow)
          .ok());
  EXPECT_EQ(
      Verifier({*next_der})
          .Verify(old_token, "p1-d01", "program", EdgeAction::kWatch, kNow)
          .status()
          .code(),
      absl::StatusCode::kUnauthenticated);
}

TEST_F(EdgeTokenTest, MalformedTextIsRefusedBeforeAnySignatureCheck) {
  const std::string text = Mint(Claims());
  for (const std::string& bad :
       {std::string(), std::string("Bearer"), std::string("ce1."),
        absl::StrCat("ct1.", text.substr(4)), text + "=", text + "!",
        std::string(kMaxEdgeTokenChars + 1, 'a'),
        absl::StrCat(kEdgeTokenPrefix, std::string(2000, 'A')),
        std::string("ce1.\xff\xfe")}) {
    absl::Status status =
        Verifier({public_key_})
            .Verify(bad, "p1-d01", "program", EdgeAction::kWatch, kNow)
            .status();
    EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated) << bad;
    EXPECT_LT(status.message().size(), 200u);
  }
}

TEST_F(EdgeTokenTest, MintRefusesInvalidClaims) {
  EdgeToken token = Claims();
  token.expires = token.issued + kMaxEdgeTokenTtl + absl::Seconds(1);
  EXPECT_EQ(MintEdgeToken(key_.get(), token).status().code(),
            absl::StatusCode::kInvalidArgument);
  token = Claims();
  token.expires = token.issued;
  EXPECT_FALSE(MintEdgeToken(key_.get(), token).ok());
  token = Claims();
  token.relay = "";
  EXPECT_FALSE(MintEdgeToken(key_.get(), token).ok());
  token = Claims();
  token.id = "not-hex";
  EXPECT_FALSE(MintEdgeToken(key_.get(), token).ok());
}

TEST_F(EdgeTokenTest, VerifierTakesOnlyP256Keys) {
  EXPECT_FALSE(EdgeTokenVerifier::FromPublicKeys({}).ok());
  EXPECT_FALSE(EdgeTokenVerifier::FromPublicKeys({"not a key"}).ok());
  KeyPtr p384(EVP_EC_gen("P-384"));
  ASSERT_NE(p384, nullptr);
  unsigned char* der = nullptr;
  const int length = i2d_PUBKEY(p384.get(), &der);
  ASSERT_GT(length, 0);
  std::string p384_der(reinterpret_cast<char*>(der), length);
  OPENSSL_free(der);
  EXPECT_EQ(EdgeTokenVerifier::FromPublicKeys({p384_der}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SignatureTest, KeysSurviveTheirDerForms) {
  absl::StatusOr<KeyPtr> key = NewEcdsaKey();
  ASSERT_TRUE(key.ok());
  absl::StatusOr<std::string> private_der = PrivateKeyDer(key->get());
  absl::StatusOr<std::string> public_der = PublicKeyDer(key->get());
  ASSERT_TRUE(private_der.ok() && public_der.ok());
  absl::StatusOr<KeyPtr> restored = PrivateKeyFromDer(*private_der);
  absl::StatusOr<KeyPtr> verifier = PublicKeyFromDer(*public_der);
  ASSERT_TRUE(restored.ok() && verifier.ok());
  absl::StatusOr<std::string> signature =
      SignEcdsa(restored->get(), "context", "message");
  ASSERT_TRUE(signature.ok());
  EXPECT_TRUE(VerifyEcdsa(verifier->get(), "context", "message", *signature));
  EXPECT_FALSE(VerifyEcdsa(verifier->get(), "context", "massage", *signature));
  EXPECT_FALSE(
      VerifyEcdsa(verifier->get(), "other context", "message", *signature));
  EXPECT_FALSE(PrivateKeyFromDer(*public_der).ok());
  EXPECT_FALSE(PublicKeyFromDer("").ok());
}

}  // namespace
}  // namespace cascade::control
