#include "media/rtp/activation.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "media/rtp/rtcp.h"

namespace cascade::rtp {
namespace {

using Bytes = std::vector<uint8_t>;

const Bytes kKey = {'s', 'e', 'c', 'r', 'e', 't', '-', 'k', 'e', 'y'};
const Bytes kOtherKey = {'o', 't', 'h', 'e', 'r'};

ActivationRequest Sample() {
  ActivationRequest request;
  request.kind = ActivationKind::kActivate;
  request.sender_ssrc = 0x11223344;
  request.node_id = "district-hcm-07";
  request.timestamp_ms = 1'700'000'000'123;
  request.nonce = 0x0123456789abcdefULL;
  request.requested_ssrc = 0xdeadbeef;
  return request;
}

Bytes Build(const ActivationRequest& request, const Bytes& key = kKey) {
  Bytes out(kMaxActivationSize + 16);
  const size_t size = BuildActivation(request, key, absl::MakeSpan(out));
  out.resize(size);
  return out;
}

// Runs the compound parser and captures the single APP packet.
bool ParseApp(const Bytes& packet, AppView* app) {
  struct Capture : RtcpVisitor {
    AppView app;
    int count = 0;
    void OnApp(const AppView& v) override {
      app = v;
      ++count;
    }
  } capture;
  if (ParseRtcpCompound(absl::MakeConstSpan(packet), &capture) !=
          RtcpError::kOk ||
      capture.count != 1) {
    return false;
  }
  *app = capture.app;
  return true;
}

ActivationResult Verify(const Bytes& packet, const Bytes& key,
                        ActivationRequest* out = nullptr) {
  AppView app;
  if (!ParseApp(packet, &app)) return ActivationResult::kMalformed;
  ActivationRequest local;
  return VerifyActivation(app, key, out ? out : &local);
}

TEST(ActivationTest, RoundTrip) {
  const ActivationRequest request = Sample();
  const Bytes packet = Build(request);
  ASSERT_FALSE(packet.empty());
  EXPECT_EQ(packet.size(), 12u + 24 + 16 + 32);  // 15-byte id padded to 16
  AppView app;
  ASSERT_TRUE(ParseApp(packet, &app));
  EXPECT_TRUE(IsActivation(app));
  ActivationRequest parsed;
  ASSERT_EQ(VerifyActivation(app, kKey, &parsed), ActivationResult::kOk);
  EXPECT_EQ(parsed.kind, ActivationKind::kActivate);
  EXPECT_EQ(parsed.sender_ssrc, request.sender_ssrc);
  EXPECT_EQ(parsed.node_id, request.node_id);
  EXPECT_EQ(parsed.timestamp_ms, request.timestamp_ms);
  EXPECT_EQ(parsed.nonce, request.nonce);
  EXPECT_EQ(parsed.requested_ssrc, request.requested_ssrc);
}

TEST(ActivationTest, DeactivateWithoutRequestedSsrc) {
  ActivationRequest request = Sample();
  request.kind = ActivationKind::kDeactivate;
  request.requested_ssrc.reset();
  request.node_id = "abcd";  // already a multiple of 4
  ActivationRequest parsed;
  ASSERT_EQ(Verify(Build(request), kKey, &parsed), ActivationResult::kOk);
  EXPECT_EQ(parsed.kind, ActivationKind::kDeactivate);
  EXPECT_FALSE(parsed.requested_ssrc.has_value());
  EXPECT_EQ(parsed.node_id, "abcd");
}

TEST(ActivationTest, LongestNodeIdFitsMaxSize) {
  ActivationRequest request = Sample();
  const std::string id(kMaxNodeIdSize, 'n');
  request.node_id = id;
  const Bytes packet = Build(request);
  EXPECT_EQ(packet.size(), kMaxActivationSize);
  EXPECT_EQ(Verify(packet, kKey), ActivationResult::kOk);
}

TEST(ActivationTest, ParseWithoutKeyFindsNodeId) {
  const Bytes packet = Build(Sample());
  AppView app;
  ASSERT_TRUE(ParseApp(packet, &app));
  ActivationRequest parsed;
  ASSERT_EQ(ParseActivation(app, &parsed), ActivationResult::kOk);
  EXPECT_EQ(parsed.node_id, "district-hcm-07");
}

TEST(ActivationTest, WrongKeyIsBadMac) {
  EXPECT_EQ(Verify(Build(Sample()), kOtherKey), ActivationResult::kBadMac);
  EXPECT_EQ(Verify(Build(Sample()), {}), ActivationResult::kBadMac);
}

TEST(ActivationTest, EveryFlippedBitIsRejected) {
  const Bytes packet = Build(Sample());
  // Flip each bit of the packet except the RTCP header's version, P and
  // length bits (those break framing, covered below): nothing verifies.
  for (size_t byte = 0; byte < packet.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      if (byte == 0 && bit >= 5) continue;
      if (byte == 2 || byte == 3) continue;
      Bytes tampered = packet;
      tampered[byte] ^= static_cast<uint8_t>(1 << bit);
      EXPECT_NE(Verify(tampered, kKey), ActivationResult::kOk)
          << "byte " << byte << " bit " << bit;
    }
  }
}

TEST(ActivationTest, MalformedCases) {
  const Bytes good = Build(Sample());
  AppView app;
  ASSERT_TRUE(ParseApp(good, &app));
  ActivationRequest out;

  AppView other_name = app;
  other_name.name = "XXXX";
  EXPECT_FALSE(IsActivation(other_name));
  EXPECT_EQ(VerifyActivation(other_name, kKey, &out),
            ActivationResult::kMalformed);

  AppView bad_subtype = app;
  bad_subtype.subtype = 3;
  EXPECT_EQ(VerifyActivation(bad_subtype, kKey, &out),
            ActivationResult::kMalformed);

  // Field-level corruption: (offset in packet, new value).
  const std::vector<std::pair<size_t, uint8_t>> corruptions = {
      {12, 2},     // version
      {13, 0},     // empty node id
      {13, 65},    // node id too long
      {13, 14},    // id size disagrees with the packet length
      {14, 0x02},  // unknown flag
      {15, 1},     // reserved byte
      {51, 'x'},   // padding after the 15-byte id not zero
  };
  for (const auto& [offset, value] : corruptions) {
    Bytes bad = good;
    bad[offset] = value;
    AppView bad_app;
    ASSERT_TRUE(ParseApp(bad, &bad_app));
    EXPECT_EQ(ParseActivation(bad_app, &out), ActivationResult::kMalformed)
        << "offset " << offset;
  }

  // Requested SSRC present while the flag says absent.
  Bytes no_flag = good;
  no_flag[14] = 0;
  AppView no_flag_app;
  ASSERT_TRUE(ParseApp(no_flag, &no_flag_app));
  EXPECT_EQ(ParseActivation(no_flag_app, &out), ActivationResult::kMalformed);

  // Truncated: shorter data, length field adjusted.
  for (size_t cut = 4; cut <= 48; cut += 4) {
    Bytes shorter(good.begin(), good.end() - cut);
    shorter[3] = static_cast<uint8_t>(shorter.size() / 4 - 1);
    AppView short_app;
    ASSERT_TRUE(ParseApp(shorter, &short_app)) << cut;
    EXPECT_EQ(ParseActivation(short_app, &out), ActivationResult::kMalformed)
        << "cut " << cut;
  }

  // RTCP padding appended (P bit): refused, the MAC must end the packet.
  Bytes padded = good;
  padded.insert(padded.end(), {0, 0, 0, 4});
  padded[0] |= 0x20;
  padded[3] = static_cast<uint8_t>(padded.size() / 4 - 1);
  AppView padded_app;
  ASSERT_TRUE(ParseApp(padded, &padded_app));
  EXPECT_EQ(ParseActivation(padded_app, &out), ActivationResult::kMalformed);
}

TEST(ActivationTest, BuilderRejectsInvalidRequests) {
  Bytes out(kMaxActivationSize);
  ActivationRequest request = Sample();
  request.node_id = "";
  EXPECT_EQ(BuildActivation(request, kKey, absl::MakeSpan(out)), 0u);
  const std::string too_long(kMaxNodeIdSize + 1, 'n');
  request.node_id = too_long;
  EXPECT_EQ(BuildActivation(request, kKey, absl::MakeSpan(out)), 0u);
  request = Sample();
  EXPECT_EQ(BuildActivation(request, {}, absl::MakeSpan(out)), 0u);
  request.kind = static_cast<ActivationKind>(7);
  EXPECT_EQ(BuildActivation(request, kKey, absl::MakeSpan(out)), 0u);
  request = Sample();
  EXPECT_EQ(BuildActivation(request, kKey, absl::MakeSpan(out).subspan(0, 83)),
            0u);
  EXPECT_EQ(BuildActivation(request, kKey, absl::MakeSpan(out).subspan(0, 84)),
            84u);
}

TEST(ActivationTest, ResultNames) {
  EXPECT_EQ(ErrorName(ActivationResult::kOk), "ok");
  EXPECT_EQ(ErrorName(ActivationResult::kBadMac), "bad_mac");
  EXPECT_EQ(ErrorName(ActivationResult::kMalformed), "malformed");
  EXPECT_EQ(ErrorName(ReplayVerdict::kAccepted), "accepted");
  EXPECT_EQ(ErrorName(ReplayVerdict::kOutsideWindow), "outside_window");
  EXPECT_EQ(ErrorName(ReplayVerdict::kReplayed), "replayed");
  EXPECT_EQ(ErrorName(ReplayVerdict::kStale), "stale");
}

// ---- ReplayGuard ----

const absl::Time kNow = absl::FromUnixMillis(1'700'000'000'000);

int64_t Ms(absl::Time t) { return absl::ToUnixMillis(t); }

TEST(ReplayGuardTest, AcceptsOnceThenRefusesReplay) {
  ReplayGuard guard;
  EXPECT_EQ(guard.Check("a", Ms(kNow), 1, kNow), ReplayVerdict::kAccepted);
  EXPECT_EQ(guard.Check("a", Ms(kNow), 1, kNow), ReplayVerdict::kReplayed);
  EXPECT_EQ(guard.Check("a", Ms(kNow), 1, kNow + absl::Seconds(10)),
            ReplayVerdict::kReplayed);
  // Same timestamp, new nonce: a distinct request.
  EXPECT_EQ(guard.Check("a", Ms(kNow), 2, kNow), ReplayVerdict::kAccepted);
  // Another node may use the same values.
  EXPECT_EQ(guard.Check("b", Ms(kNow), 1, kNow), ReplayVerdict::kAccepted);
  EXPECT_EQ(guard.node_count(), 2u);
}

TEST(ReplayGuardTest, WindowBothWays) {
  ReplayGuard guard;  // default 30 s
  EXPECT_EQ(guard.Check("a", Ms(kNow - absl::Seconds(31)), 1, kNow),
            ReplayVerdict::kOutsideWindow);
  EXPECT_EQ(guard.Check("a", Ms(kNow + absl::Seconds(31)), 2, kNow),
            ReplayVerdict::kOutsideWindow);
  EXPECT_EQ(guard.Check("a", Ms(kNow - absl::Seconds(30)), 3, kNow),
            ReplayVerdict::kAccepted);
  EXPECT_EQ(guard.Check("a", Ms(kNow + absl::Seconds(30)), 4, kNow),
            ReplayVerdict::kAccepted);
  EXPECT_EQ(guard.Check("a", INT64_MIN, 5, kNow),
            ReplayVerdict::kOutsideWindow);
  EXPECT_EQ(guard.Check("a", INT64_MAX, 6, kNow),
            ReplayVerdict::kOutsideWindow);
}

TEST(ReplayGuardTest, CustomWindow) {
  ReplayGuardOptions options;
  options.window = absl::Seconds(2);
  ReplayGuard guard(options);
  EXPECT_EQ(guard.Check("a", Ms(kNow - absl::Seconds(3)), 1, kNow),
            ReplayVerdict::kOutsideWindow);
  EXPECT_EQ(guard.Check("a", Ms(kNow - absl::Seconds(1)), 1, kNow),
            ReplayVerdict::kAccepted);
}

TEST(ReplayGuardTest, ReorderedWithinTheSetIsAccepted) {
  ReplayGuard guard;
  EXPECT_EQ(guard.Check("a", Ms(kNow), 1, kNow), ReplayVerdict::kAccepted);
  EXPECT_EQ(guard.Check("a", Ms(kNow) - 500, 2, kNow),
            ReplayVerdict::kAccepted);
  EXPECT_EQ(guard.Check("a", Ms(kNow) - 500, 2, kNow),
            ReplayVerdict::kReplayed);
}

TEST(ReplayGuardTest, MemoryIsBoundedAndEvictionNeverLetsAReplayIn) {
  ReplayGuardOptions options;
  options.nonces_per_node = 4;
  ReplayGuard guard(options);
  // Ten requests 1 ms apart; only the newest four pairs are kept.
  for (uint64_t i = 0; i < 10; ++i) {
    ASSERT_EQ(guard.Check("a", Ms(kNow) + static_cast<int64_t>(i), i, kNow),
              ReplayVerdict::kAccepted);
  }
  // Every earlier request, replayed, is refused: forgotten ones as stale.
  for (uint64_t i = 0; i < 10; ++i) {
    const ReplayVerdict verdict =
        guard.Check("a", Ms(kNow) + static_cast<int64_t>(i), i, kNow);
    EXPECT_EQ(verdict, i < 6 ? ReplayVerdict::kStale : ReplayVerdict::kReplayed)
        << i;
  }
  // An honest request older than everything kept is refused too (the
  // documented cost of bounded memory); a new one is accepted.
  EXPECT_EQ(guard.Check("a", Ms(kNow) + 3, 100, kNow), ReplayVerdict::kStale);
  EXPECT_EQ(guard.Check("a", Ms(kNow) + 20, 101, kNow),
            ReplayVerdict::kAccepted);
}

TEST(ReplayGuardTest, ClockSteppingBackCannotRevivePrunedRequests) {
  ReplayGuard guard;
  const int64_t ts = Ms(kNow);
  EXPECT_EQ(guard.Check("a", ts, 1, kNow), ReplayVerdict::kAccepted);
  // A minute later the pair leaves the window and is pruned by any check.
  const absl::Time later = kNow + absl::Seconds(60);
  EXPECT_EQ(guard.Check("a", Ms(later), 2, later), ReplayVerdict::kAccepted);
  // The clock steps back: the old request is in the window again, but the
  // floor still refuses it.
  EXPECT_EQ(guard.Check("a", ts, 1, kNow), ReplayVerdict::kStale);
}

TEST(ReplayGuardTest, ForgetDropsANode) {
  ReplayGuard guard;
  EXPECT_EQ(guard.Check("a", Ms(kNow), 1, kNow), ReplayVerdict::kAccepted);
  guard.Forget("a");
  EXPECT_EQ(guard.node_count(), 0u);
  EXPECT_EQ(guard.Check("a", Ms(kNow), 1, kNow), ReplayVerdict::kAccepted);
}

}  // namespace
}  // namespace cascade::rtp
