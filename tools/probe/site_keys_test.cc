// A site whose stream keys come later (SiteOptions::srtp_keys_later, as
// from topologyd): nothing counts before the first key, and afterwards the
// site holds exactly the keys it was last given.

#include <gtest/gtest.h>

#include <vector>

#include "media/rtp/rtp.h"
#include "media/srtp/srtp.h"
#include "tools/probe/site.h"

namespace cascade {
namespace probe {
namespace {

constexpr uint32_t kSsrc = 0x4242;

srtp::StreamKey Key(uint8_t id) {
  srtp::StreamKey key;
  key.id = {0, 0, 0, id};
  for (size_t i = 0; i < key.material.size(); ++i) {
    key.material[i] = static_cast<uint8_t>(id * 31 + i);
  }
  return key;
}

// An audio packet (not decoded) with the rollover counter's element,
// protected by `sender`.
std::vector<uint8_t> Packet(srtp::SrtpSender& sender, uint16_t seq) {
  static constexpr uint8_t kRoc[srtp::kRocExtensionSize] = {};
  const rtp::ExtensionElement extensions[] = {{srtp::kRocExtensionId, kRoc}};
  rtp::RtpHeader header;
  header.payload_type = 111;
  header.sequence_number = seq;
  header.timestamp = 960u * seq;
  header.ssrc = kSsrc;
  header.extensions = extensions;
  const std::vector<uint8_t> payload(80, 0x55);
  const size_t size = rtp::RtpHeaderSize(header) + payload.size();
  std::vector<uint8_t> packet(size + sender.overhead());
  rtp::WriteRtpPacket(header, payload, absl::MakeSpan(packet));
  packet.resize(sender.Protect(absl::MakeSpan(packet), size).value());
  return packet;
}

TEST(SiteKeysTest, HoldsExactlyTheKeysLastGiven) {
  SiteOptions options;
  options.listen = media::Endpoint::Parse("127.0.0.1:0").value();
  options.decode = false;
  options.feedback = false;
  options.srtp_keys_later = true;
  const absl::Time start = absl::Now();
  Site site(options, media::UdpFd::Open(options.listen).value(), start);
  const media::Endpoint from = media::Endpoint::Parse("127.0.0.1:9").value();
  auto sender = srtp::SrtpSender::Create(kSsrc, Key(1), 77).value();
  uint16_t seq = 65530;
  auto deliver = [&] {
    return site.OnDatagram(from, Packet(*sender, seq++), absl::Now());
  };

  // No key yet: nothing authenticates.
  EXPECT_FALSE(deliver());
  EXPECT_EQ(site.Report().bad_packets, 1);
  EXPECT_EQ(site.Report().packets, 0);

  ASSERT_TRUE(site.SetSrtpKeys({Key(1)}).ok());
  EXPECT_TRUE(deliver());
  // The next key ahead of its use, then the sender moves to it (and past a
  // sequence wrap).
  ASSERT_TRUE(site.SetSrtpKeys({Key(2), Key(1)}).ok());
  EXPECT_TRUE(deliver());
  ASSERT_TRUE(sender->SetKey(Key(2)).ok());
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(deliver());
  EXPECT_EQ(site.Report().packets, 12);

  // Key 1 dropped: a packet under it no longer counts.
  ASSERT_TRUE(site.SetSrtpKeys({Key(2)}).ok());
  auto old_sender = srtp::SrtpSender::Create(kSsrc, Key(1), 77).value();
  EXPECT_FALSE(site.OnDatagram(from, Packet(*old_sender, seq), absl::Now()));
  EXPECT_EQ(site.Report().bad_packets, 2);

  // Keys that cannot be held change nothing.
  EXPECT_FALSE(site.SetSrtpKeys({Key(3), Key(3)}).ok());
  EXPECT_TRUE(deliver());

  // No key at all, then one again: the stream is keyed anew.
  ASSERT_TRUE(site.SetSrtpKeys({}).ok());
  EXPECT_FALSE(deliver());
  EXPECT_EQ(site.Report().bad_packets, 3);
  ASSERT_TRUE(site.SetSrtpKeys({Key(2)}).ok());
  EXPECT_TRUE(deliver());
  EXPECT_EQ(site.Report().packets, 14);
  EXPECT_EQ(site.Report().streams, 1);
}

}  // namespace
}  // namespace probe
}  // namespace cascade
