// A plain endpoint with an audio port of its own (ChildOptions.audio_address):
// a player such as ffmpeg binds one port per SDP m= line, so the relay sends
// each audio stream, RTP and its SRs, there, and video to the child's
// address.
#include <gtest/gtest.h>

#include <vector>

#include "absl/container/flat_hash_map.h"
#include "media/rtp/demux.h"
#include "media/rtp/rtcp.h"
#include "media/rtp/rtp.h"
#include "relay/relay_core.h"
#include "testing/fake_clock.h"

namespace cascade::relay {
namespace {

using Bytes = std::vector<uint8_t>;

class FakeTransport : public Transport {
 public:
  void Send(const media::Endpoint& to, const PacketRef& packet) override {
    sent[to].emplace_back(packet.bytes().begin(), packet.bytes().end());
  }
  absl::flat_hash_map<media::Endpoint, std::vector<Bytes>> sent;
};

media::Endpoint Ep(const char* text) { return *media::Endpoint::Parse(text); }

const media::Endpoint kParent = Ep("127.0.0.1:5000");
const media::Endpoint kVideoPort = Ep("127.0.0.1:6000");
const media::Endpoint kAudioPort = Ep("127.0.0.1:6002");
const media::Endpoint kOnePort = Ep("127.0.0.1:7000");
constexpr uint32_t kVideo = 0x1111;
constexpr uint32_t kAudio = 0x2222;

// Relay "r1" fed by a plain source; a player with separate ports and one
// with a single port.
RelayOptions Options(bool audio_port) {
  RelayOptions o;
  o.node_id = "r1";
  o.listen = Ep("127.0.0.1:0");
  o.parents.push_back({"src", kParent, ""});
  ChildOptions player;
  player.id = "player";
  player.address = kVideoPort;
  if (audio_port) player.audio_address = kAudioPort;
  player.static_push = true;
  o.children.push_back(player);
  ChildOptions one;
  one.id = "one";
  one.address = kOnePort;
  one.static_push = true;
  o.children.push_back(one);
  StreamOptions video;
  video.ssrc = kVideo;
  video.h264 = true;
  StreamOptions audio;
  audio.ssrc = kAudio;
  audio.audio = true;
  o.streams = {video, audio};
  return o;
}

Bytes Rtp(uint32_t ssrc, uint16_t seq) {
  rtp::RtpHeader h;
  h.payload_type = ssrc == kVideo ? 96 : 111;
  h.sequence_number = seq;
  h.timestamp = seq * 960u;
  h.ssrc = ssrc;
  const Bytes payload = {0x41, 0x9a, 0x00, 0x00};
  Bytes out(1500);
  out.resize(rtp::WriteRtpPacket(h, payload, absl::MakeSpan(out)));
  return out;
}

Bytes Sr(uint32_t ssrc) {
  Bytes out(64);
  out.resize(
      rtp::BuildSenderReport(ssrc, rtp::SenderInfo{}, {}, absl::MakeSpan(out)));
  return out;
}

// The SSRC of every RTP packet and SR in `sent`, in order.
std::vector<uint32_t> Ssrcs(const std::vector<Bytes>& sent) {
  std::vector<uint32_t> out;
  for (const Bytes& b : sent) {
    // Both carry the sender's SSRC at bytes 8 (RTP) or 4 (SR).
    const size_t at = rtp::Classify(b) == rtp::PacketKind::kRtp ? 8 : 4;
    out.push_back(b[at] << 24 | b[at + 1] << 16 | b[at + 2] << 8 | b[at + 3]);
  }
  return out;
}

class AudioPortTest : public ::testing::Test {
 protected:
  AudioPortTest() : pool_(256), core_(Options(true), &clock_, &pool_, &out_) {}

  // Video 1, audio 1, an SR of each, audio 2: each call with new sequence
  // numbers (the relay drops duplicates).
  void Feed() {
    const uint16_t seq = next_seq_;
    next_seq_ += 2;
    for (const Bytes& b : {Rtp(kVideo, seq), Rtp(kAudio, seq), Sr(kVideo),
                           Sr(kAudio), Rtp(kAudio, seq + 1)}) {
      core_.OnDatagram(kParent, pool_.Copy(b));
    }
  }

  FakeClock clock_;
  PacketPool pool_;
  FakeTransport out_;
  RelayCore core_;
  uint16_t next_seq_ = 1;
};

TEST_F(AudioPortTest, AudioAndItsReportsGoToTheAudioPortVideoToTheAddress) {
  Feed();
  EXPECT_EQ(Ssrcs(out_.sent[kVideoPort]),
            (std::vector<uint32_t>{kVideo, kVideo}));
  EXPECT_EQ(Ssrcs(out_.sent[kAudioPort]),
            (std::vector<uint32_t>{kAudio, kAudio, kAudio}));
  // Without an audio port everything shares the one address, as before.
  EXPECT_EQ(Ssrcs(out_.sent[kOnePort]),
            (std::vector<uint32_t>{kVideo, kAudio, kVideo, kAudio, kAudio}));
  EXPECT_EQ(core_.stream_counters(kAudio)->packets_out, 4u);
}

TEST_F(AudioPortTest, NewSettingsMoveTheAudioAtOnce) {
  core_.Apply(Options(false));
  Feed();
  EXPECT_TRUE(out_.sent[kAudioPort].empty());
  EXPECT_EQ(Ssrcs(out_.sent[kVideoPort]),
            (std::vector<uint32_t>{kVideo, kAudio, kVideo, kAudio, kAudio}));
  core_.Apply(Options(true));
  out_.sent.clear();
  Feed();
  EXPECT_EQ(Ssrcs(out_.sent[kAudioPort]),
            (std::vector<uint32_t>{kAudio, kAudio, kAudio}));
}

}  // namespace
}  // namespace cascade::relay
