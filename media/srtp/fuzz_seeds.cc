#include "media/srtp/fuzz_seeds.h"

#include <memory>

#include "media/rtp/rtp.h"
#include "media/srtp/srtp.h"

namespace cascade::srtp {
namespace {

using Bytes = std::vector<uint8_t>;

StreamKey Key(uint8_t id, uint8_t fill) {
  StreamKey key;
  key.id = {id};
  for (size_t i = 0; i < key.material.size(); ++i) {
    key.material[i] = static_cast<uint8_t>(fill + i);
  }
  return key;
}

// Protects packets of one stream in sequence order.
class Stream {
 public:
  Stream(const StreamKey& key, uint16_t first_seq, uint32_t initial_roc)
      : sender_(SrtpSender::Create(kFuzzSsrc, key, initial_roc).value()),
        seq_(first_seq) {}

  void Rotate(const StreamKey& key) { (void)sender_->SetKey(key); }

  Bytes Next() {
    static constexpr uint8_t kSendTime[8] = {0xe1, 2, 3, 4, 5, 6, 7, 8};
    static constexpr uint8_t kMarking[1] = {0xa0};
    static constexpr uint8_t kRoc[4] = {};  // the sender fills it in
    const rtp::ExtensionElement elements[] = {
        {1, kSendTime}, {2, kMarking}, {kRocExtensionId, kRoc}};
    rtp::RtpHeader header;
    header.payload_type = 96;
    header.sequence_number = seq_++;
    header.timestamp = 90000;
    header.ssrc = kFuzzSsrc;
    header.extensions = elements;
    const uint8_t payload[] = {0x7c, 0x85, 0x88, 0x84, 0x00, 0x11, 0x22};
    Bytes packet(128);
    const size_t size =
        rtp::WriteRtpPacket(header, payload, absl::MakeSpan(packet));
    packet.resize(sender_->Protect(absl::MakeSpan(packet), size).value());
    return packet;
  }

 private:
  std::unique_ptr<SrtpSender> sender_;
  uint16_t seq_;
};

Bytes Input(const std::vector<Bytes>& packets) {
  Bytes out;
  for (const Bytes& packet : packets) {
    out.push_back(static_cast<uint8_t>(packet.size() >> 8));
    out.push_back(static_cast<uint8_t>(packet.size()));
    out.insert(out.end(), packet.begin(), packet.end());
  }
  return out;
}

}  // namespace

std::vector<StreamKey> FuzzKeys() { return {Key(1, 0x10), Key(2, 0x80)}; }

std::vector<absl::Span<const uint8_t>> SplitPackets(
    absl::Span<const uint8_t> input) {
  std::vector<absl::Span<const uint8_t>> packets;
  while (input.size() >= 2) {
    const size_t size = std::min<size_t>(
        static_cast<size_t>(input[0]) << 8 | input[1], input.size() - 2);
    packets.push_back(input.subspan(2, size));
    input.remove_prefix(2 + size);
  }
  return packets;
}

std::vector<Seed> SrtpSeeds() {
  const std::vector<StreamKey> keys = FuzzKeys();
  // Across a sequence number wrap.
  Stream wrapping(keys[0], 65530, 3);
  std::vector<Bytes> stream;
  for (int i = 0; i < 12; ++i) stream.push_back(wrapping.Next());

  Stream rotating(keys[0], 100, 0);
  std::vector<Bytes> rotation;
  for (int i = 0; i < 6; ++i) rotation.push_back(rotating.Next());
  rotating.Rotate(keys[1]);
  for (int i = 0; i < 6; ++i) rotation.push_back(rotating.Next());
  // The old key's last packet late, after the switch.
  std::swap(rotation[5], rotation[6]);

  // Joined after 70,000 packets of a stream whose counter started at 1234.
  Stream long_running(keys[1], 40000, 1234);
  for (int i = 0; i < 70000; ++i) long_running.Next();
  std::vector<Bytes> late_join;
  for (int i = 0; i < 4; ++i) late_join.push_back(long_running.Next());

  std::vector<Bytes> tampered = {stream[0], stream[1], stream[2]};
  tampered[1][tampered[1].size() - 20] ^= 0x01;  // a payload byte
  std::vector<Bytes> replayed = {stream[0], stream[1], stream[0]};
  Stream unknown_id(Key(9, 0x10), 7, 0);
  Bytes truncated = stream[0];
  truncated.resize(20);

  return {
      {"ok_stream", Input(stream)},
      {"ok_rotation", Input(rotation)},
      {"ok_late_join", Input(late_join)},
      {"bad_tampered", Input(tampered)},
      {"bad_replayed", Input(replayed)},
      {"bad_unknown_key_id", Input({unknown_id.Next()})},
      {"bad_truncated", Input({truncated})},
  };
}

}  // namespace cascade::srtp
