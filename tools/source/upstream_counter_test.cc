#include "tools/source/upstream_counter.h"

#include <array>
#include <cstdint>
#include <vector>

#include "gtest/gtest.h"
#include "media/rtp/rtp.h"
#include "media/srtp/keys.h"
#include "media/srtp/srtp.h"
#include "tools/media/sdp.h"
#include "tools/media/send_time.h"

namespace cascade {
namespace source {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

// An upstream packet as a site sends it, sent at `sent` (none: without the
// send-time extension).
std::vector<uint8_t> Packet(uint32_t ssrc, uint16_t seq,
                            std::optional<absl::Time> sent) {
  rtp::RtpHeader header;
  header.payload_type = media::kVideoPayloadType;
  header.sequence_number = seq;
  header.ssrc = ssrc;
  std::array<uint8_t, 8> send_time{};
  const rtp::ExtensionElement extensions[] = {
      {media::kSendTimeExtensionId, send_time}};
  if (sent.has_value()) {
    send_time = media::EncodeSendTime(*sent);
    header.extensions = extensions;
  }
  const uint8_t payload[] = {12, 0xff, 0x80};
  std::vector<uint8_t> packet(200);
  packet.resize(rtp::WriteRtpPacket(header, payload, absl::MakeSpan(packet)));
  return packet;
}

srtp::StreamKey Key(uint8_t id, uint8_t fill) {
  srtp::StreamKey key;
  key.id = {id};
  key.material.fill(fill);
  return key;
}

// An upstream packet as an encrypting site sends it (send time, rollover
// counter), protected by `sender`.
std::vector<uint8_t> Encrypted(srtp::SrtpSender& sender, uint32_t ssrc,
                               uint16_t seq, absl::Time sent) {
  rtp::RtpHeader header;
  header.payload_type = media::kVideoPayloadType;
  header.sequence_number = seq;
  header.ssrc = ssrc;
  const std::array<uint8_t, 8> send_time = media::EncodeSendTime(sent);
  const uint8_t roc[srtp::kRocExtensionSize] = {};
  const rtp::ExtensionElement extensions[] = {
      {media::kSendTimeExtensionId, send_time}, {srtp::kRocExtensionId, roc}};
  header.extensions = extensions;
  const uint8_t payload[] = {12, 0xff, 0x80};
  std::vector<uint8_t> packet(200);
  const size_t size =
      rtp::WriteRtpPacket(header, payload, absl::MakeSpan(packet));
  auto protected_size = sender.Protect(absl::MakeSpan(packet), size);
  EXPECT_TRUE(protected_size.ok()) << protected_size.status();
  packet.resize(protected_size.value_or(0));
  return packet;
}

TEST(UpstreamCounterTest, EncryptedStreamsCountOnlyWhatAuthenticates) {
  UpstreamCounter counter(/*encrypted=*/true);
  auto seven = srtp::SrtpSender::Create(7, Key(1, 0x11), 0);
  auto nine = srtp::SrtpSender::Create(9, Key(1, 0x22), 0);
  ASSERT_TRUE(seven.ok() && nine.ok());
  // No keys yet: nothing counts, not even plain RTP.
  EXPECT_EQ(counter.OnRtp(Encrypted(**seven, 7, 1, kT0), kT0),
            UpstreamCounter::Result::kNotAuthenticated);
  UpstreamKeys keys;
  keys.by_ssrc[7] = {Key(1, 0x11)};
  keys.by_ssrc[9] = {Key(1, 0x22)};
  counter.SetKeys(keys);
  EXPECT_EQ(counter.OnRtp(Encrypted(**seven, 7, 2, kT0), kT0),
            UpstreamCounter::Result::kCounted);
  EXPECT_EQ(counter.OnRtp(Encrypted(**nine, 9, 1, kT0), kT0),
            UpstreamCounter::Result::kCounted);
  // Plain RTP, another stream's key under this SSRC, an SSRC without keys,
  // an altered packet, a replay: bad packets.
  EXPECT_EQ(counter.OnRtp(Packet(7, 3, kT0), kT0),
            UpstreamCounter::Result::kNotAuthenticated);
  auto impostor = srtp::SrtpSender::Create(7, Key(1, 0x22), 0);
  ASSERT_TRUE(impostor.ok());
  EXPECT_EQ(counter.OnRtp(Encrypted(**impostor, 7, 4, kT0), kT0),
            UpstreamCounter::Result::kNotAuthenticated);
  auto stranger = srtp::SrtpSender::Create(8, Key(1, 0x11), 0);
  ASSERT_TRUE(stranger.ok());
  EXPECT_EQ(counter.OnRtp(Encrypted(**stranger, 8, 1, kT0), kT0),
            UpstreamCounter::Result::kNotAuthenticated);
  std::vector<uint8_t> altered = Encrypted(**seven, 7, 5, kT0);
  altered[altered.size() - 20] ^= 1;
  EXPECT_EQ(counter.OnRtp(altered, kT0),
            UpstreamCounter::Result::kNotAuthenticated);
  const std::vector<uint8_t> sixth = Encrypted(**seven, 7, 6, kT0);
  EXPECT_EQ(counter.OnRtp(sixth, kT0), UpstreamCounter::Result::kCounted);
  EXPECT_EQ(counter.OnRtp(sixth, kT0),
            UpstreamCounter::Result::kNotAuthenticated);
  EXPECT_EQ(counter.bad_packets(), 6);

  // A rotation: the new key added, then the sender moves to it; both
  // authenticate, nothing is lost.
  keys.by_ssrc[7] = {Key(2, 0x33), Key(1, 0x11)};
  counter.SetKeys(keys);
  EXPECT_EQ(counter.OnRtp(Encrypted(**seven, 7, 7, kT0), kT0),
            UpstreamCounter::Result::kCounted);
  ASSERT_TRUE((*seven)->SetKey(Key(2, 0x33)).ok());
  EXPECT_EQ(counter.OnRtp(Encrypted(**seven, 7, 8, kT0), kT0),
            UpstreamCounter::Result::kCounted);
  EXPECT_EQ(counter.streams().at(7).packets, 4);
  EXPECT_EQ(counter.streams().at(9).packets, 1);
  EXPECT_EQ(counter.streams().count(8), 0u);
  EXPECT_EQ(counter.bad_packets(), 6);
}

TEST(UpstreamCounterTest, CountsEachSsrcWithFirstArrivalAndLatency) {
  UpstreamCounter counter;
  // SSRC 7: 100 packets, latency 1..100 ms; SSRC 9: two packets, one
  // without a send time.
  for (int i = 1; i <= 100; ++i) {
    const absl::Time sent = kT0 + absl::Milliseconds(50 * i);
    EXPECT_EQ(counter.OnRtp(Packet(7, static_cast<uint16_t>(i), sent),
                            sent + absl::Milliseconds(i)),
              UpstreamCounter::Result::kCounted);
  }
  EXPECT_EQ(counter.OnRtp(Packet(9, 1, kT0), kT0 + absl::Seconds(3)),
            UpstreamCounter::Result::kCounted);
  EXPECT_EQ(counter.OnRtp(Packet(9, 2, std::nullopt), kT0 + absl::Seconds(4)),
            UpstreamCounter::Result::kCounted);

  ASSERT_EQ(counter.streams().size(), 2u);
  const UpstreamCounter::Stream& seven = counter.streams().at(7);
  EXPECT_EQ(seven.packets, 100);
  EXPECT_EQ(seven.bytes, 100 * static_cast<int64_t>(Packet(7, 1, kT0).size()));
  EXPECT_EQ(seven.first_arrival, kT0 + absl::Milliseconds(51));
  EXPECT_EQ(seven.without_send_time, 0);
  // The NTP timestamp's fraction rounds to well under a millisecond.
  EXPECT_NEAR(absl::ToDoubleMilliseconds(seven.latency.Percentile(0.5)), 50,
              0.01);
  EXPECT_NEAR(absl::ToDoubleMilliseconds(seven.latency.Percentile(0.99)), 99,
              0.01);
  EXPECT_NEAR(absl::ToDoubleMilliseconds(seven.latency.Max()), 100, 0.01);
  const UpstreamCounter::Stream& nine = counter.streams().at(9);
  EXPECT_EQ(nine.packets, 2);
  EXPECT_EQ(nine.first_arrival, kT0 + absl::Seconds(3));
  EXPECT_EQ(nine.without_send_time, 1);
  EXPECT_EQ(nine.latency.count(), 1u);
}

TEST(UpstreamCounterTest, MalformedAndSurplusStreamsAreRefusedNotCounted) {
  UpstreamCounter counter;
  std::vector<uint8_t> truncated = Packet(5, 1, kT0);
  truncated.resize(10);
  EXPECT_EQ(counter.OnRtp(truncated, kT0), UpstreamCounter::Result::kMalformed);
  const std::vector<uint8_t> junk(40, 0);  // RTP version 0
  EXPECT_EQ(counter.OnRtp(junk, kT0), UpstreamCounter::Result::kMalformed);
  for (uint32_t ssrc = 1; ssrc <= UpstreamCounter::kMaxStreams; ++ssrc) {
    EXPECT_EQ(counter.OnRtp(Packet(1000 + ssrc, 1, kT0), kT0),
              UpstreamCounter::Result::kCounted);
  }
  EXPECT_EQ(counter.OnRtp(Packet(5000, 1, kT0), kT0),
            UpstreamCounter::Result::kTooManyStreams);
  // A known stream still counts.
  EXPECT_EQ(counter.OnRtp(Packet(1001, 2, kT0), kT0),
            UpstreamCounter::Result::kCounted);
  EXPECT_EQ(counter.streams().size(), UpstreamCounter::kMaxStreams);
  EXPECT_EQ(counter.streams().at(1001).packets, 2);
  EXPECT_EQ(counter.streams().count(5), 0u);
}

}  // namespace
}  // namespace source
}  // namespace cascade
