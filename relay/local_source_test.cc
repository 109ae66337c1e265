// A stream published on the relay itself (the browser edge's WHIP): taken
// as its source's, fanned out and cached, its keyframe requests sent to the
// local publisher; an up stream goes to the parent only while selected, and
// the root's local viewers see it.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "media/rtp/rtcp.h"
#include "relay/core_test_support.h"
#include "relay/relay_core.h"
#include "testing/fake_clock.h"

namespace cascade::relay {
namespace {

const media::Endpoint kParent = Ep("127.0.0.1:5000");
const media::Endpoint kPush = Ep("127.0.0.1:6000");
constexpr uint32_t kProgram = 0x1111;
constexpr uint32_t kCamera = 0x2222;
const std::vector<uint8_t> kIdr = {0x65, 0x88, 0x84, 0x00};

struct Viewers : LocalViewers {
  void OnStreamPacket(const StreamOptions& stream, const PacketRef&) override {
    packets.push_back(stream.ssrc);
  }
  void OnDownSenderReport(const StreamOptions& stream,
                          const rtp::SenderReportView&) override {
    reports.push_back(stream.ssrc);
  }
  void OnPublishedKeyframeRequest(const StreamOptions& stream) override {
    keyframe_requests.push_back(stream.ssrc);
  }
  std::vector<uint32_t> packets, reports, keyframe_requests;
};

// Relay "r1" with parent p0 and a static push child; the program and a
// site's camera may both be published here.
RelayOptions Options(bool camera_selected) {
  RelayOptions o;
  o.node_id = "r1";
  o.listen = Ep("127.0.0.1:0");
  o.parents.push_back({"p0", kParent, std::string(32, 'p')});
  ChildOptions push;
  push.id = "push";
  push.address = kPush;
  push.static_push = true;
  o.children.push_back(push);
  StreamOptions program;
  program.ssrc = kProgram;
  program.h264 = true;
  program.publishable = true;
  o.streams.push_back(program);
  StreamOptions camera;
  camera.ssrc = kCamera;
  camera.direction = Direction::kUp;
  camera.h264 = true;
  camera.publishable = true;
  camera.selected = camera_selected;
  o.streams.push_back(camera);
  return o;
}

std::vector<uint8_t> Pli(uint32_t media) {
  std::vector<uint8_t> out(64);
  out.resize(rtp::BuildPli(0x99, media, absl::MakeSpan(out)));
  return out;
}

class LocalSourceTest : public ::testing::Test {
 protected:
  explicit LocalSourceTest(bool camera_selected = true)
      : pool_(256), core_(Options(camera_selected), &clock_, &pool_, &out_) {
    core_.set_local_viewers(&viewers_);
  }
  void Publish(uint32_t ssrc, uint16_t seq) {
    core_.OnLocalSource(pool_.Copy(RtpPacket(ssrc, seq, seq * 3000u, kIdr)));
  }

  FakeClock clock_;
  PacketPool pool_;
  FakeTransport out_;
  RelayCore core_;
  Viewers viewers_;
};

TEST_F(LocalSourceTest, PublishedProgramIsFannedOutCachedAndAskedForKeyframes) {
  Publish(kProgram, 1);
  Publish(kProgram, 2);
  ASSERT_EQ(out_.To(kPush).size(), 2u);
  EXPECT_EQ(viewers_.packets, (std::vector<uint32_t>{kProgram, kProgram}));
  // The newest keyframe (every test packet is one).
  EXPECT_EQ(core_.CachedKeyframe(kProgram).size(), 1u);
  EXPECT_EQ(core_.stream_counters(kProgram)->packets_in, 2u);
  // A local viewer's keyframe request goes to the publisher, not the
  // parent, and is coalesced like every other.
  core_.RequestKeyframe(kProgram);
  core_.RequestKeyframe(kProgram);
  EXPECT_EQ(viewers_.keyframe_requests, (std::vector<uint32_t>{kProgram}));
  EXPECT_TRUE(out_.To(kParent).empty());
  // Once the publisher has been silent a while, the parent is asked again.
  clock_.Advance(absl::Seconds(3));
  core_.RequestKeyframe(kProgram);
  EXPECT_EQ(viewers_.keyframe_requests.size(), 1u);
  EXPECT_EQ(out_.To(kParent).size(), 1u);
}

TEST_F(LocalSourceTest, PublishedCameraGoesUpWhileSelected) {
  // Up streams wait for the parent to have answered.
  core_.OnDatagram(kParent, pool_.Copy(RtpPacket(kProgram, 1, 0, kIdr)));
  out_.sent.clear();
  viewers_.packets.clear();
  Publish(kCamera, 7);
  const std::vector<Sent> up = out_.To(kParent);
  ASSERT_EQ(up.size(), 1u);
  EXPECT_EQ(up[0].bytes, RtpPacket(kCamera, 7, 21000u, kIdr));
  EXPECT_TRUE(out_.To(kPush).empty()) << "an up stream never goes down";
  // The root's local viewers (the center) see it.
  EXPECT_EQ(viewers_.packets, (std::vector<uint32_t>{kCamera}));
  // The parent's PLI reaches the publisher.
  core_.OnDatagram(kParent, pool_.Copy(Pli(kCamera)));
  EXPECT_EQ(viewers_.keyframe_requests, (std::vector<uint32_t>{kCamera}));
}

TEST_F(LocalSourceTest, UnpublishableAndMalformedPacketsAreDropped) {
  core_.OnLocalSource(pool_.Copy(RtpPacket(0x7777, 1, 0, kIdr)));
  core_.OnLocalSource(pool_.Copy({0x80, 0x60}));
  EXPECT_TRUE(out_.sent.empty());
  EXPECT_EQ(core_.drops("relay", "unknown_ssrc"), 1u);
  EXPECT_EQ(core_.total_drops(), 2u);
}

class DeselectedCameraTest : public LocalSourceTest {
 protected:
  DeselectedCameraTest() : LocalSourceTest(/*camera_selected=*/false) {}
};

TEST_F(DeselectedCameraTest, NothingOfItLeavesTheRelay) {
  Publish(kCamera, 1);
  EXPECT_TRUE(out_.sent.empty());
  EXPECT_EQ(core_.drops("relay", "not_selected"), 1u);
}

}  // namespace
}  // namespace cascade::relay
