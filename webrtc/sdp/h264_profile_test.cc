#include "webrtc/sdp/h264_profile.h"

#include "gtest/gtest.h"

namespace cascade::sdp {
namespace {

ProfileLevelId Id(const char* hex) {
  absl::StatusOr<ProfileLevelId> id = ParseProfileLevelId(hex);
  EXPECT_TRUE(id.ok()) << hex;
  return id.value_or(ProfileLevelId());
}

TEST(H264ProfileTest, ParsesSixHexDigits) {
  const ProfileLevelId id = Id("42E01F");
  EXPECT_EQ(id.profile_idc, 0x42);
  EXPECT_EQ(id.profile_iop, 0xe0);
  EXPECT_EQ(id.level_idc, 0x1f);
  EXPECT_EQ(id.ToString(), "42e01f");
  EXPECT_FALSE(ParseProfileLevelId("42e01").ok());
  EXPECT_FALSE(ParseProfileLevelId("42e01f0").ok());
  EXPECT_FALSE(ParseProfileLevelId("42g01f").ok());
  EXPECT_FALSE(ParseProfileLevelId("").ok());
}

// RFC 6184 section 8.1 and H.264 A.2: which constraint flags make which
// profile.
TEST(H264ProfileTest, ClassifiesProfiles) {
  EXPECT_EQ(ProfileOf(Id("42e01f")), H264Profile::kConstrainedBaseline);
  EXPECT_EQ(ProfileOf(Id("42c01f")), H264Profile::kConstrainedBaseline);
  EXPECT_EQ(ProfileOf(Id("4d801f")), H264Profile::kConstrainedBaseline);
  EXPECT_EQ(ProfileOf(Id("58c01f")), H264Profile::kConstrainedBaseline);
  EXPECT_EQ(ProfileOf(Id("42001f")), H264Profile::kBaseline);
  EXPECT_EQ(ProfileOf(Id("42801f")), H264Profile::kBaseline);
  EXPECT_EQ(ProfileOf(Id("58801f")), H264Profile::kBaseline);
  EXPECT_EQ(ProfileOf(Id("4d001f")), H264Profile::kMain);
  EXPECT_EQ(ProfileOf(Id("58001f")), H264Profile::kExtended);
  EXPECT_EQ(ProfileOf(Id("64001f")), H264Profile::kHigh);
  EXPECT_EQ(ProfileOf(Id("640c1f")), H264Profile::kConstrainedHigh);
  EXPECT_EQ(ProfileOf(Id("f4001f")), H264Profile::kOther);
}

TEST(H264ProfileTest, MatchesAsTheRelaysStreamAllows) {
  const ProfileLevelId relay = Id("42e01f");
  EXPECT_EQ(MatchProfile(Id("42e01f"), relay), ProfileMatch::kExact);
  EXPECT_EQ(MatchProfile(Id("42e034"), relay), ProfileMatch::kExact);
  EXPECT_EQ(MatchProfile(Id("4d801f"), relay), ProfileMatch::kExact);
  EXPECT_EQ(MatchProfile(Id("42001f"), relay), ProfileMatch::kSubset);
  EXPECT_EQ(MatchProfile(Id("4d001f"), relay), ProfileMatch::kNone);
  EXPECT_EQ(MatchProfile(Id("64001f"), relay), ProfileMatch::kNone);
  // A Baseline stream is not Constrained Baseline.
  EXPECT_EQ(MatchProfile(Id("42e01f"), Id("42001f")), ProfileMatch::kNone);
  EXPECT_EQ(MatchProfile(Id("f4001f"), Id("f4001f")), ProfileMatch::kExact);
  EXPECT_EQ(MatchProfile(Id("f4001f"), Id("f4101f")), ProfileMatch::kNone);
}

TEST(H264ProfileTest, AnswersTheOffersProfileAtAnAllowedLevel) {
  const ProfileLevelId relay = Id("42e01f");  // level 3.1
  // Asymmetry: the relay's level, the offer's profile bytes.
  EXPECT_EQ(AnswerProfileLevelId(Id("42e00a"), relay, true).ToString(),
            "42e01f");
  EXPECT_EQ(AnswerProfileLevelId(Id("4d8034"), relay, true).ToString(),
            "4d801f");
  // Without it the answer stays at or below the offer's level.
  EXPECT_EQ(AnswerProfileLevelId(Id("42e00a"), relay, false).ToString(),
            "42e00a");
  EXPECT_EQ(AnswerProfileLevelId(Id("42e034"), relay, false).ToString(),
            "42e01f");
  // Level 1b (level_idc 11 with constraint_set3) is below 1.1.
  EXPECT_EQ(AnswerProfileLevelId(Id("42f00b"), relay, false).ToString(),
            "42f00b");
  EXPECT_EQ(AnswerProfileLevelId(Id("42f00b"), relay, true).ToString(),
            "42e01f");
  EXPECT_EQ(AnswerProfileLevelId(Id("42e01f"), Id("42f00b"), true).ToString(),
            "42f00b");
}

}  // namespace
}  // namespace cascade::sdp
