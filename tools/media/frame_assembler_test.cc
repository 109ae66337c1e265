#include "tools/media/frame_assembler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "tools/media/h264_packetizer.h"

namespace cascade {
namespace media {
namespace {

using Bytes = std::vector<uint8_t>;

const absl::Time kStart = absl::FromUnixSeconds(1000);

// Frames of 30 fps at 90 kHz; each frame's packets are an H.264 access unit
// packetised at a small MTU so frames span several packets.
struct Stream {
  std::vector<MediaPacket> packets;
  std::vector<Bytes> access_units;  // Annex B, per frame
};

Stream MakeStream(int frames, size_t mtu) {
  Stream stream;
  int64_t seq = 100;
  for (int f = 0; f < frames; ++f) {
    Bytes nal(200 + 97 * f);
    nal[0] = f == 0 ? 0x65 : 0x41;
    for (size_t i = 1; i < nal.size(); ++i) nal[i] = 1 + (i + f) % 200;
    Bytes annexb = {0, 0, 0, 1};
    annexb.insert(annexb.end(), nal.begin(), nal.end());
    auto payloads = PacketizeH264(SplitAnnexB(annexb), mtu);
    for (size_t p = 0; p < payloads.size(); ++p) {
      MediaPacket packet;
      packet.ext_seq = seq++;
      packet.timestamp = 3000 * f;
      packet.marker = p + 1 == payloads.size();
      packet.arrival = kStart + absl::Milliseconds(33 * f);
      packet.send_time = kStart + absl::Milliseconds(33 * f - 5);
      packet.payload = payloads[p];
      stream.packets.push_back(packet);
    }
    stream.access_units.push_back(annexb);
  }
  return stream;
}

Bytes Rebuild(const AssembledFrame& frame) {
  std::vector<absl::Span<const uint8_t>> views;
  for (const Bytes& p : frame.payloads) views.emplace_back(p);
  DepacketizedFrame out;
  EXPECT_EQ(DepacketizeH264(views, &out), DepacketizeError::kNone);
  return out.annexb;
}

TEST(FrameAssemblerTest, InOrderStreamGivesEveryFrame) {
  Stream stream = MakeStream(10, 300);
  FrameAssembler assembler;
  std::vector<AssembledFrame> frames;
  for (const MediaPacket& p : stream.packets) {
    ASSERT_EQ(assembler.Insert(p), InsertResult::kAccepted);
    assembler.Poll(p.arrival, &frames);
  }
  ASSERT_EQ(frames.size(), 10u);
  for (size_t f = 0; f < frames.size(); ++f) {
    EXPECT_EQ(frames[f].timestamp, 3000u * f);
    EXPECT_EQ(Rebuild(frames[f]), stream.access_units[f]);
    ASSERT_TRUE(frames[f].send_time.has_value());
    EXPECT_EQ(frames[f].completed - *frames[f].send_time,
              absl::Milliseconds(5));
  }
  EXPECT_EQ(assembler.lost_packets(), 0);
}

TEST(FrameAssemblerTest, ReorderedAndDuplicatedPacketsStillGiveEveryFrame) {
  Stream stream = MakeStream(20, 200);
  std::vector<MediaPacket> shuffled = stream.packets;
  std::mt19937 rng(7);
  // Reorder within windows of 6 packets and duplicate every 5th.
  for (size_t i = 0; i + 6 <= shuffled.size(); i += 6) {
    std::shuffle(shuffled.begin() + i, shuffled.begin() + i + 6, rng);
  }
  std::vector<MediaPacket> arrivals;
  for (size_t i = 0; i < shuffled.size(); ++i) {
    arrivals.push_back(shuffled[i]);
    if (i % 5 == 0) arrivals.push_back(shuffled[i]);
  }
  // Keep the first packet first: the cursor starts at the first arrival.
  std::iter_swap(
      arrivals.begin(),
      std::find_if(arrivals.begin(), arrivals.end(),
                   [](const MediaPacket& p) { return p.ext_seq == 100; }));
  FrameAssembler assembler;
  std::vector<AssembledFrame> frames;
  int duplicates = 0;
  for (const MediaPacket& p : arrivals) {
    InsertResult r = assembler.Insert(p);
    if (r != InsertResult::kAccepted) ++duplicates;
    assembler.Poll(kStart, &frames);
  }
  EXPECT_GT(duplicates, 0);
  ASSERT_EQ(frames.size(), 20u);
  for (size_t f = 0; f < frames.size(); ++f) {
    EXPECT_EQ(Rebuild(frames[f]), stream.access_units[f]) << f;
  }
  EXPECT_EQ(assembler.lost_packets(), 0);
}

TEST(FrameAssemblerTest, LostPacketDropsOnlyItsFrameAfterTheWait) {
  Stream stream = MakeStream(6, 150);
  // Drop the middle packet of frame 2's three.
  int64_t lost_seq = -1;
  int seen_in_frame2 = 0;
  for (const MediaPacket& p : stream.packets) {
    if (p.timestamp == 6000 && ++seen_in_frame2 == 2) lost_seq = p.ext_seq;
  }
  ASSERT_GE(lost_seq, 0);
  FrameAssemblerOptions options;
  options.max_wait = absl::Milliseconds(100);
  FrameAssembler assembler(options);
  std::vector<AssembledFrame> frames;
  for (const MediaPacket& p : stream.packets) {
    if (p.ext_seq == lost_seq) continue;
    assembler.Insert(p);
    assembler.Poll(p.arrival, &frames);
  }
  // Frames 0 and 1 are out; 2..5 wait behind the gap.
  EXPECT_EQ(frames.size(), 2u);
  assembler.Poll(kStart + absl::Milliseconds(400), &frames);
  ASSERT_EQ(frames.size(), 5u);
  EXPECT_EQ(frames[2].timestamp, 9000u);
  EXPECT_EQ(assembler.lost_packets(), 1);
  EXPECT_EQ(assembler.dropped_frames(), 1);
  EXPECT_EQ(Rebuild(frames[4]), stream.access_units[5]);
}

TEST(FrameAssemblerTest, RepairedGapLosesNothing) {
  Stream stream = MakeStream(4, 300);
  const MediaPacket held = stream.packets[3];
  FrameAssembler assembler;
  std::vector<AssembledFrame> frames;
  for (const MediaPacket& p : stream.packets) {
    if (p.ext_seq == held.ext_seq) continue;
    assembler.Insert(p);
    assembler.Poll(kStart, &frames);
  }
  EXPECT_EQ(frames.size(), 2u);  // frames 0 and 1; the others wait
  assembler.Insert(held);        // the retransmission
  assembler.Poll(kStart, &frames);
  EXPECT_EQ(frames.size(), 4u);
  EXPECT_EQ(assembler.lost_packets(), 0);
  EXPECT_EQ(assembler.Insert(held), InsertResult::kTooLate);
}

TEST(FrameAssemblerTest, FullBufferGivesUpAtOnce) {
  FrameAssemblerOptions options;
  options.max_buffered_packets = 4;
  options.max_wait = absl::Seconds(10);
  FrameAssembler assembler(options);
  std::vector<AssembledFrame> frames;
  MediaPacket p;
  p.arrival = kStart;
  p.marker = true;
  p.payload = {0x41, 1};
  p.ext_seq = 0;
  assembler.Insert(p);
  for (int64_t seq = 2; seq < 10; ++seq) {
    p.ext_seq = seq;
    p.timestamp = static_cast<uint32_t>(seq);
    assembler.Insert(p);
  }
  assembler.Poll(kStart, &frames);
  EXPECT_EQ(assembler.lost_packets(), 1);
  // Frame 0, then the frame that lost seq 1 (seq 2 ends it) is dropped.
  EXPECT_EQ(frames.size(), 1u + 7u);
}

}  // namespace
}  // namespace media
}  // namespace cascade
