#include "relay/stream_decryptor.h"

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "media/rtp/rtp.h"
#include "media/srtp/keys.h"
#include "media/srtp/srtp.h"
#include "relay/core_test_support.h"
#include "relay/decrypting_transport.h"

namespace cascade::relay {
namespace {

using Bytes = std::vector<uint8_t>;

constexpr uint32_t kVideo = 0x7171;
constexpr uint32_t kAudio = 0x7172;
constexpr uint32_t kClear = 0x7173;

// Key `id`'s material, distinct per id.
StreamKeyOptions Key(uint32_t id) {
  StreamKeyOptions key;
  key.id = id;
  for (size_t i = 0; i < srtp::kKeyMaterialSize; ++i) {
    key.material.push_back(static_cast<char>(id * 31 + i));
  }
  return key;
}

// Newest first, as topologyd hands them out.
std::vector<StreamOptions> Streams(std::vector<StreamKeyOptions> keys) {
  StreamOptions video, audio, clear;
  video.ssrc = kVideo;
  video.keys = keys;
  audio.ssrc = kAudio;
  audio.audio = true;
  audio.keys = keys;
  clear.ssrc = kClear;
  return {video, audio, clear};
}

// RTP as relay-source sends it: the rollover counter's element, then a
// payload that tells packets apart.
Bytes Plain(uint32_t ssrc, uint16_t seq) {
  static constexpr uint8_t kRoc[srtp::kRocExtensionSize] = {};
  const rtp::ExtensionElement elements[] = {{srtp::kRocExtensionId, kRoc}};
  rtp::RtpHeader header;
  header.payload_type = 96;
  header.sequence_number = seq;
  header.timestamp = 3000u * seq;
  header.ssrc = ssrc;
  header.extensions = elements;
  Bytes payload(200);
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = seq + i;
  Bytes packet(rtp::RtpHeaderSize(header) + payload.size());
  rtp::WriteRtpPacket(header, payload, absl::MakeSpan(packet));
  return packet;
}

uint16_t SeqOf(absl::Span<const uint8_t> rtp) {
  return static_cast<uint16_t>(rtp[2] << 8 | rtp[3]);
}

// relay-source's side: one stream protected under topologyd's key ids.
class Source {
 public:
  Source(uint32_t ssrc, uint32_t key_id) : ssrc_(ssrc) {
    sender_ = srtp::SrtpSender::Create(ssrc, SrtpKey(key_id), 7).value();
  }
  void Rotate(uint32_t key_id) {
    ASSERT_TRUE(sender_->SetKey(SrtpKey(key_id)).ok());
  }
  // Packet `seq`, protected; *plain gets what it decrypts to.
  Bytes Next(uint16_t seq, Bytes* plain = nullptr) {
    Bytes packet = Plain(ssrc_, seq);
    const size_t size = packet.size();
    packet.resize(size + sender_->overhead());
    absl::StatusOr<size_t> out = sender_->Protect(absl::MakeSpan(packet), size);
    EXPECT_TRUE(out.ok()) << out.status();
    packet.resize(out.value_or(0));
    if (plain != nullptr) {
      // The header as sent (the counter filled in), the payload in clear.
      rtp::RtpView view;
      EXPECT_EQ(rtp::ParseRtp(Plain(ssrc_, seq), &view), rtp::RtpError::kOk);
      *plain = Bytes(packet.begin(), packet.begin() + view.header_size());
      Bytes original = Plain(ssrc_, seq);
      plain->insert(plain->end(), original.begin() + view.header_size(),
                    original.end());
    }
    return packet;
  }

 private:
  static srtp::StreamKey SrtpKey(uint32_t id) {
    const StreamKeyOptions key = Key(id);
    srtp::StreamKey out;
    out.id = {0, 0, 0, static_cast<uint8_t>(id)};
    std::copy(key.material.begin(), key.material.end(), out.material.begin());
    return out;
  }

  const uint32_t ssrc_;
  std::unique_ptr<srtp::SrtpSender> sender_;
};

class StreamDecryptorTest : public ::testing::Test {
 protected:
  PacketRef Ref(const Bytes& bytes) { return pool_.Copy(bytes); }
  Bytes BytesOf(const PacketRef& packet) {
    return Bytes(packet.bytes().begin(), packet.bytes().end());
  }

  PacketPool pool_{4096};
  StreamDecryptor decryptor_{&pool_};
};

TEST_F(StreamDecryptorTest, DecryptsEachPacketOnceWithTheKeysConfigured) {
  decryptor_.Apply(Streams({Key(1)}));
  EXPECT_TRUE(decryptor_.active());
  Source video(kVideo, 1), audio(kAudio, 1);
  for (uint16_t seq = 65530; seq != 10; ++seq) {  // across the wrap
    Bytes plain;
    const PacketRef in = Ref(video.Next(seq, &plain));
    const PacketRef out = decryptor_.Decrypt(in);
    ASSERT_TRUE(out) << seq;
    EXPECT_EQ(BytesOf(out), plain);
    // Asked again for the same packet (another list, the browser edge):
    // the same copy, not a second decryption.
    EXPECT_EQ(decryptor_.Decrypt(in).data(), out.data());
  }
  Bytes plain;
  EXPECT_EQ(BytesOf(decryptor_.Decrypt(Ref(audio.Next(1, &plain)))), plain);
  EXPECT_EQ(decryptor_.decrypted(), 17u);
}

TEST_F(StreamDecryptorTest, ARotationsKeysComeInASetKeysAndNothingIsLost) {
  decryptor_.Apply(Streams({Key(1)}));
  Source source(kVideo, 1);
  uint16_t seq = 100;
  for (; seq < 110; ++seq)
    ASSERT_TRUE(decryptor_.Decrypt(Ref(source.Next(seq))));
  // topologyd hands out key 2 ahead of its use; the source switches later.
  decryptor_.Apply(Streams({Key(2), Key(1)}));
  for (; seq < 120; ++seq)
    ASSERT_TRUE(decryptor_.Decrypt(Ref(source.Next(seq))));
  source.Rotate(2);
  for (; seq < 130; ++seq)
    ASSERT_TRUE(decryptor_.Decrypt(Ref(source.Next(seq))));
  // The next rotation drops key 1: a packet still under it is refused.
  Source stale(kVideo, 1);
  decryptor_.Apply(Streams({Key(3), Key(2)}));
  EXPECT_FALSE(decryptor_.Decrypt(Ref(stale.Next(seq))));
  EXPECT_EQ(decryptor_.failures("unknown_key_id"), 1u);
  for (; seq < 140; ++seq)
    ASSERT_TRUE(decryptor_.Decrypt(Ref(source.Next(seq))));
  EXPECT_EQ(decryptor_.decrypted(), 40u);
}

TEST_F(StreamDecryptorTest, OnceEncryptedNothingUnauthenticatedPasses) {
  decryptor_.Apply(Streams({Key(1)}));
  // Before any packet of it authenticated, the stream is taken for one in
  // clear (a source without the key): it goes as it comes.
  const PacketRef clear = Ref(Plain(kVideo, 4));
  EXPECT_EQ(decryptor_.Decrypt(clear).data(), clear.data());
  EXPECT_EQ(decryptor_.clear(), 1u);
  Source source(kVideo, 1);
  ASSERT_TRUE(decryptor_.Decrypt(Ref(source.Next(5))));
  // From now on: plain RTP, as an attacker or a misconfigured source would
  // send it, is dropped.
  EXPECT_FALSE(decryptor_.Decrypt(Ref(Plain(kVideo, 6))));
  // Altered in flight: the tag fails.
  Bytes forged = source.Next(7);
  forged[forged.size() - 30] ^= 1;
  EXPECT_FALSE(decryptor_.Decrypt(Ref(forged)));
  EXPECT_EQ(decryptor_.failures("auth_failed"), 1u);
  // A copy of a packet already decrypted (another slot, the same bytes).
  const Bytes good = source.Next(8);
  ASSERT_TRUE(decryptor_.Decrypt(Ref(good)));
  EXPECT_FALSE(decryptor_.Decrypt(Ref(good)));
  EXPECT_EQ(decryptor_.failures("replayed"), 1u);
  // A new key set (a rotation) keeps the stream encrypted.
  decryptor_.Apply(Streams({Key(2), Key(1)}));
  EXPECT_FALSE(decryptor_.Decrypt(Ref(Plain(kVideo, 9))));
  EXPECT_EQ(decryptor_.decrypted(), 2u);
  EXPECT_EQ(decryptor_.clear(), 1u);
}

TEST_F(StreamDecryptorTest, RecallDecryptsWhatWasDecryptedBefore) {
  decryptor_.Apply(Streams({Key(1)}));
  Source source(kVideo, 1);
  std::vector<PacketRef> ring;
  std::vector<Bytes> plain(6000);
  for (uint16_t seq = 0; seq < plain.size(); ++seq) {
    ring.push_back(Ref(source.Next(seq, &plain[seq])));
    ASSERT_TRUE(decryptor_.Decrypt(ring.back()));
    if (ring.size() > 64) ring.erase(ring.begin());
  }
  // A browser's NACKs and a joining viewer's keyframe: the ring's packets
  // again, twice, and out of order.
  for (int round = 0; round < 2; ++round) {
    for (const PacketRef& p : ring) {
      const PacketRef out = decryptor_.Recall(p);
      ASSERT_TRUE(out);
      EXPECT_EQ(BytesOf(out), plain[SeqOf(p.bytes())]);
    }
  }
  // One far behind those (the keyframe cache holds older packets).
  Source old(kVideo, 1);
  Bytes old_plain;
  const PacketRef older = Ref(old.Next(10, &old_plain));
  EXPECT_EQ(BytesOf(decryptor_.Recall(older)), old_plain);
  // It authenticates all the same.
  Bytes forged = source.Next(7000);
  forged[forged.size() - 30] ^= 1;
  EXPECT_FALSE(decryptor_.Recall(Ref(forged)));
  EXPECT_EQ(decryptor_.recalled(), 129u);
}

TEST_F(StreamDecryptorTest, StreamsWithoutKeysAndRtcpPassAsTheyAre) {
  const PacketRef clear = Ref(Plain(kClear, 1));
  EXPECT_FALSE(decryptor_.active());
  EXPECT_EQ(decryptor_.Decrypt(clear).data(), clear.data());
  decryptor_.Apply(Streams({Key(1)}));
  EXPECT_EQ(decryptor_.Decrypt(clear).data(), clear.data());
  // A sender report (RTCP stays plain; relays read and write it).
  const Bytes sr = {0x80, 200, 0, 6, 0, 0, 0x71, 0x71, 1, 2, 3, 4, 5, 6,
                    7,    8,   0, 0, 0, 1, 0,    0,    0, 1, 0, 0, 0, 1};
  const PacketRef report = Ref(sr);
  EXPECT_EQ(decryptor_.Decrypt(report).data(), report.data());
  // Keys taken away again: the stream goes as it comes.
  decryptor_.Apply(Streams({}));
  EXPECT_FALSE(decryptor_.active());
  const PacketRef packet = Ref(Source(kVideo, 1).Next(1));
  EXPECT_EQ(decryptor_.Decrypt(packet).data(), packet.data());
}

TEST_F(StreamDecryptorTest, KeysLibsrtpRefusesDropTheStream) {
  // More keys than libsrtp holds per stream (the config refuses them too).
  std::vector<StreamKeyOptions> keys;
  for (uint32_t id = 1; id <= 17; ++id) keys.push_back(Key(id));
  decryptor_.Apply(Streams(keys));
  EXPECT_FALSE(decryptor_.Decrypt(Ref(Source(kVideo, 1).Next(1))));
  EXPECT_EQ(decryptor_.failures("no_receiver"), 1u);
}

TEST_F(StreamDecryptorTest, GarbageIsCountedNeverACrash) {
  decryptor_.Apply(Streams({Key(1)}));
  std::mt19937 random(19);
  Source source(kVideo, 1);
  const Bytes good = source.Next(1);
  ASSERT_TRUE(decryptor_.Decrypt(Ref(good)));  // the stream is encrypted
  for (int i = 0; i < 2000; ++i) {
    Bytes input;
    if (i % 2 == 0) {
      // A real packet, cut short or with a byte changed.
      input = good;
      input.resize(random() % (good.size() + 1));
      if (!input.empty()) input[random() % input.size()] ^= 1 + random() % 255;
    } else {
      input.resize(random() % 1500);
      for (uint8_t& b : input) b = random();
    }
    if (input.empty()) continue;
    const PacketRef in = Ref(input);
    const PacketRef out = decryptor_.Decrypt(in);
    // Only what passes as something other than RTP of kVideo/kAudio (RTCP,
    // another SSRC) comes back, and then as it was.
    if (out) {
      EXPECT_EQ(out.data(), in.data());
    }
  }
  EXPECT_EQ(decryptor_.decrypted(), 1u);
  std::string metrics;
  decryptor_.RenderMetrics(&metrics);
  EXPECT_NE(metrics.find("relay_decrypt_failures_total{reason=\"malformed\"}"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("relay_decrypting_streams 2"), std::string::npos);
}

// The core's transport split: plain endpoints decrypted, others as is.
TEST_F(StreamDecryptorTest, TransportDecryptsOnlyForPlainEndpoints) {
  FakeTransport sent;
  DecryptingTransport transport(&sent, &decryptor_);
  RelayOptions options;
  options.streams = Streams({Key(1)});
  ChildOptions tv;
  tv.id = "tv";
  tv.static_push = true;
  tv.address = Ep("127.0.0.1:5000");
  tv.audio_address = Ep("127.0.0.1:5002");
  options.children = {tv};
  decryptor_.Apply(options.streams);
  transport.Apply(options);

  const media::Endpoint relay = Ep("127.0.0.1:6000");
  auto video_list = std::make_shared<const FanoutList>(
      FanoutList{relay, Ep("127.0.0.1:5000")});
  auto audio_list = std::make_shared<const FanoutList>(
      FanoutList{relay, Ep("127.0.0.1:5002")});
  Source video(kVideo, 1), audio(kAudio, 1);
  Bytes plain_video, plain_audio;
  // The stream in clear so far: plain RTP goes to tv as it comes.
  transport.Send(Ep("127.0.0.1:5000"), Ref(Plain(kVideo, 1)));
  ASSERT_EQ(sent.To(Ep("127.0.0.1:5000")).size(), 1u);
  const Bytes cipher_video = video.Next(1, &plain_video);
  const Bytes cipher_audio = audio.Next(1, &plain_audio);
  transport.SendToAll(video_list, Ref(cipher_video));
  transport.SendToAll(audio_list, Ref(cipher_audio));
  ASSERT_EQ(sent.To(relay).size(), 2u);
  EXPECT_EQ(sent.To(relay)[0].bytes, cipher_video);
  EXPECT_EQ(sent.To(relay)[1].bytes, cipher_audio);
  ASSERT_EQ(sent.To(Ep("127.0.0.1:5000")).size(), 2u);
  EXPECT_EQ(sent.To(Ep("127.0.0.1:5000"))[1].bytes, plain_video);
  ASSERT_EQ(sent.To(Ep("127.0.0.1:5002")).size(), 1u);
  EXPECT_EQ(sent.To(Ep("127.0.0.1:5002"))[0].bytes, plain_audio);

  // One packet to one address (a NACK's answer from the ring): decrypted
  // again; plain RTP of the now encrypted stream is not sent.
  transport.Send(Ep("127.0.0.1:5000"), Ref(cipher_video));
  ASSERT_EQ(sent.To(Ep("127.0.0.1:5000")).size(), 3u);
  EXPECT_EQ(sent.To(Ep("127.0.0.1:5000"))[2].bytes, plain_video);
  transport.Send(Ep("127.0.0.1:5000"), Ref(Plain(kVideo, 9)));  // dropped
  transport.Send(relay, Ref(Plain(kVideo, 9)));                 // as is
  EXPECT_EQ(sent.To(Ep("127.0.0.1:5000")).size(), 3u);
  EXPECT_EQ(sent.To(relay).size(), 3u);

  // No keys: everyone gets the bytes as they come.
  options.streams = Streams({});
  decryptor_.Apply(options.streams);
  transport.Apply(options);
  const Bytes next = video.Next(2);
  transport.SendToAll(video_list, Ref(next));
  EXPECT_EQ(sent.To(Ep("127.0.0.1:5000")).back().bytes, next);
  EXPECT_EQ(sent.To(relay).back().bytes, next);
}

}  // namespace
}  // namespace cascade::relay
