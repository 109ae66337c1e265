// A source that numbers its stream afresh (a new WHIP session at the other
// root after a failover, behind the dead one's numbers) is followed after
// a short run of refused packets; copies and stray old packets are not
// taken for it.
#include <gtest/gtest.h>

#include <vector>

#include "relay/core_test_support.h"
#include "relay/relay_core.h"
#include "testing/fake_clock.h"

namespace cascade::relay {
namespace {

const media::Endpoint kParent = Ep("127.0.0.1:5000");
const media::Endpoint kPush = Ep("127.0.0.1:6000");
constexpr uint32_t kVideo = 0x1111;

RelayOptions Options() {
  RelayOptions o;
  o.node_id = "r1";
  o.listen = Ep("127.0.0.1:0");
  o.parents.push_back({"p0", kParent, std::string(32, 'p')});
  ChildOptions push;
  push.id = "push";
  push.address = kPush;
  push.static_push = true;
  o.children.push_back(push);
  StreamOptions video;
  video.ssrc = kVideo;
  video.h264 = true;
  o.streams.push_back(video);
  return o;
}

class StreamRenumberTest : public ::testing::Test {
 protected:
  StreamRenumberTest()
      : pool_(4096), core_(Options(), &clock_, &pool_, &out_) {}

  // One packet from the parent, `payload` its byte after the slice header,
  // its timestamp on the clock of `session` (another session: another
  // random offset).
  void Receive(uint16_t seq, uint8_t payload, uint32_t session = 0) {
    core_.OnDatagram(
        kParent,
        pool_.Copy(RtpPacket(kVideo, seq, seq * 3000u + session * 0x40000000u,
                             {0x41, 0x9a, payload})));
  }
  // The sequence numbers the static push child got, in order.
  std::vector<uint16_t> Forwarded() const {
    std::vector<uint16_t> seqs;
    for (const Sent& s : out_.To(kPush)) {
      if (s.bytes.size() >= 12 && (s.bytes[1] & 0x7f) == 96) {
        seqs.push_back(static_cast<uint16_t>(s.bytes[2] << 8 | s.bytes[3]));
      }
    }
    return seqs;
  }
  uint64_t Renumbered() const {
    return core_.stream_counters(kVideo)->renumbered;
  }

  FakeClock clock_;
  PacketPool pool_;
  FakeTransport out_;
  RelayCore core_;
};

TEST_F(StreamRenumberTest, AFreshNumberingBehindIsFollowedAfterARun) {
  for (uint16_t seq = 40000; seq < 40100; ++seq) Receive(seq, 1);
  ASSERT_EQ(Forwarded().size(), 100u);
  // The other root's session: numbered from 30000, far behind (too old for
  // the ring).
  for (uint16_t seq = 30000; seq < 30020; ++seq) Receive(seq, 2, 1);
  const std::vector<uint16_t> seqs = Forwarded();
  // The first kRenumberedRun - 1 are dropped, then the stream follows.
  ASSERT_EQ(seqs.size(), 100u + 20 - (kRenumberedRun - 1));
  EXPECT_EQ(seqs[100], 30000 + kRenumberedRun - 1);
  EXPECT_EQ(seqs.back(), 30019);
  EXPECT_EQ(Renumbered(), 1u);
}

// Behind by less than the ring holds: the numbers are in the ring, but the
// packets are not the ones it holds under them.
TEST_F(StreamRenumberTest, AFreshNumberingWithinTheRingIsFollowedToo) {
  for (uint16_t seq = 1000; seq < 1200; ++seq) Receive(seq, 1);
  for (uint16_t seq = 1150; seq < 1170; ++seq) Receive(seq, 2, 1);
  EXPECT_EQ(Renumbered(), 1u);
  EXPECT_EQ(Forwarded().back(), 1169);
  EXPECT_EQ(Forwarded().size(), 200u + 20 - (kRenumberedRun - 1));
}

TEST_F(StreamRenumberTest, CopiesStrayAndCachedOldPacketsAreNotARenumbering) {
  for (uint16_t seq = 1000; seq < 1200; ++seq) Receive(seq, 1);
  // The same packets again (a retransmission, or both roots sending the
  // same source's packets): duplicates.
  for (uint16_t seq = 1100; seq < 1150; ++seq) Receive(seq, 1);
  // Old packets that are not consecutive, from another clock: stray.
  for (uint16_t seq = 100; seq < 300; seq += 2) Receive(seq, 3, 1);
  // A new parent's keyframe cache: consecutive packets older than the ring
  // holds, on the stream's own clock.
  for (uint16_t seq = 600; seq < 640; ++seq) Receive(seq, 4);
  EXPECT_EQ(Renumbered(), 0u);
  EXPECT_EQ(Forwarded().size(), 200u);
  // The stream goes on where it was.
  Receive(1200, 1);
  EXPECT_EQ(Forwarded().back(), 1200);
}

}  // namespace
}  // namespace cascade::relay
