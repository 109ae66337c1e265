#include "media/srtp/srtp.h"

#include <memory>
#include <vector>

#include "gtest/gtest.h"
#include "media/rtp/rtp.h"

namespace cascade::srtp {
namespace {

using Bytes = std::vector<uint8_t>;

constexpr uint32_t kSsrc = 0xcafe;

StreamKey Key(uint8_t id, uint8_t fill) {
  StreamKey key;
  key.id = {id};
  for (size_t i = 0; i < key.material.size(); ++i) {
    key.material[i] = static_cast<uint8_t>(fill * 7 + i);
  }
  return key;
}

// A plain RTP packet as relay-source builds them: send time, frame marking
// and the rollover counter's element, and a payload of `payload_size`.
Bytes Plain(uint16_t seq, bool with_roc = true, size_t payload_size = 100) {
  static constexpr uint8_t kSendTime[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  static constexpr uint8_t kMarking[1] = {0xa0};
  static constexpr uint8_t kRoc[4] = {};
  const rtp::ExtensionElement with[] = {
      {1, kSendTime}, {2, kMarking}, {kRocExtensionId, kRoc}};
  const rtp::ExtensionElement without[] = {{1, kSendTime}, {2, kMarking}};
  rtp::RtpHeader header;
  header.payload_type = 96;
  header.sequence_number = seq;
  header.timestamp = 3000u * seq;
  header.ssrc = kSsrc;
  header.extensions =
      with_roc ? absl::MakeConstSpan(with) : absl::MakeConstSpan(without);
  Bytes payload(payload_size);
  for (size_t i = 0; i < payload.size(); ++i) {
    payload[i] = static_cast<uint8_t>(seq + i);
  }
  Bytes packet(rtp::RtpHeaderSize(header) + payload.size());
  rtp::WriteRtpPacket(header, payload, absl::MakeSpan(packet));
  return packet;
}

size_t HeaderSize(const Bytes& packet) {
  rtp::RtpView view;
  EXPECT_EQ(rtp::ParseRtp(packet, &view), rtp::RtpError::kOk);
  return view.header_size();
}

class Sender {
 public:
  Sender(const StreamKey& key, uint32_t initial_roc)
      : sender_(SrtpSender::Create(kSsrc, key, initial_roc).value()) {}

  // The protected packet and, in *plain, what it protects (with the counter
  // filled in).
  Bytes Protect(uint16_t seq, Bytes* plain = nullptr, bool with_roc = true) {
    Bytes packet = Plain(seq, with_roc);
    const Bytes before = packet;
    const size_t size = packet.size();
    packet.resize(size + sender_->overhead());
    auto protected_size = sender_->Protect(absl::MakeSpan(packet), size);
    EXPECT_TRUE(protected_size.ok()) << protected_size.status();
    packet.resize(protected_size.value_or(0));
    if (plain != nullptr) {
      // The header as sent: the counter filled in.
      *plain = before;
      const size_t header = HeaderSize(before);
      std::copy(packet.begin(), packet.begin() + header, plain->begin());
    }
    return packet;
  }
  SrtpSender& get() { return *sender_; }

 private:
  std::unique_ptr<SrtpSender> sender_;
};

std::unique_ptr<SrtpReceiver> Receiver(std::vector<StreamKey> keys) {
  auto receiver = SrtpReceiver::Create(kSsrc, keys);
  EXPECT_TRUE(receiver.ok()) << receiver.status();
  return receiver.ok() ? *std::move(receiver) : nullptr;
}

// Unprotects; on kOk, *plain holds the result.
SrtpError Unprotect(SrtpReceiver& receiver, const Bytes& packet,
                    Bytes* plain = nullptr) {
  Bytes out(packet.size());
  size_t size = 0;
  const SrtpError error =
      receiver.Unprotect(packet, absl::MakeSpan(out), &size);
  if (error == SrtpError::kOk && plain != nullptr) {
    *plain = Bytes(out.begin(), out.begin() + size);
  }
  return error;
}

TEST(SrtpTest, RoundTripEncryptsOnlyThePayload) {
  Sender sender(Key(1, 1), 0);
  auto receiver = Receiver({Key(1, 1)});
  for (uint16_t seq = 10; seq < 60; ++seq) {
    Bytes plain;
    const Bytes packet = sender.Protect(seq, &plain);
    // Tag and key id (1 byte, last: RFC 7714) appended; the header,
    // extensions included, is sent as it is (a relay reads it), the payload
    // is not.
    ASSERT_EQ(packet.size(), plain.size() + 1 + kTagSize);
    const size_t header = HeaderSize(plain);
    EXPECT_TRUE(
        std::equal(plain.begin(), plain.begin() + header, packet.begin()));
    EXPECT_FALSE(std::equal(plain.begin() + header, plain.end(),
                            packet.begin() + header));
    EXPECT_EQ(packet.back(), 1);  // the MKI
    Bytes decrypted;
    ASSERT_EQ(Unprotect(*receiver, packet, &decrypted), SrtpError::kOk) << seq;
    EXPECT_EQ(decrypted, plain);
  }
}

TEST(SrtpTest, AlteredPacketsAreRejected) {
  Sender sender(Key(1, 1), 0);
  auto receiver = Receiver({Key(1, 1)});
  const Bytes packet = sender.Protect(1);
  const size_t header = HeaderSize(packet);
  // The payload, the timestamp, the frame marking element, the tag (the key
  // id is the last byte).
  for (size_t at : {header + 3, size_t{5}, size_t{26}, packet.size() - 2}) {
    Bytes altered = packet;
    altered[at] ^= 0x01;
    EXPECT_EQ(Unprotect(*receiver, altered), SrtpError::kAuthFailed) << at;
  }
  // The original still decrypts: the failures left no trace.
  EXPECT_EQ(Unprotect(*receiver, packet), SrtpError::kOk);
}

TEST(SrtpTest, WrongKeyAndUnknownIdAreRejected) {
  Sender sender(Key(1, 1), 0);
  const Bytes packet = sender.Protect(1);
  auto other_key_same_id = Receiver({Key(1, 2)});
  EXPECT_EQ(Unprotect(*other_key_same_id, packet), SrtpError::kAuthFailed);
  auto other_id = Receiver({Key(2, 1)});
  EXPECT_EQ(Unprotect(*other_id, packet), SrtpError::kUnknownKeyId);
}

TEST(SrtpTest, ReplaysAndVeryOldPacketsAreRejected) {
  Sender sender(Key(1, 1), 0);
  auto receiver = SrtpReceiver::Create(kSsrc, {Key(1, 1)}, 64).value();
  std::vector<Bytes> packets;
  for (uint16_t seq = 0; seq < 200; ++seq)
    packets.push_back(sender.Protect(seq));
  // Out of order within the window is fine, once.
  EXPECT_EQ(Unprotect(*receiver, packets[150]), SrtpError::kOk);
  EXPECT_EQ(Unprotect(*receiver, packets[120]), SrtpError::kOk);
  EXPECT_EQ(Unprotect(*receiver, packets[120]), SrtpError::kReplayed);
  EXPECT_EQ(Unprotect(*receiver, packets[150]), SrtpError::kReplayed);
  EXPECT_EQ(Unprotect(*receiver, packets[10]), SrtpError::kTooOld);
  EXPECT_EQ(Unprotect(*receiver, packets[151]), SrtpError::kOk);
}

TEST(SrtpTest, RotationLosesNothingWithBothKeysHeld) {
  Sender sender(Key(1, 1), 5);
  std::vector<Bytes> packets;
  for (uint16_t seq = 65500; seq != 100; ++seq) {
    if (seq == 20) {
      ASSERT_TRUE(sender.get().SetKey(Key(2, 2)).ok());
    }
    packets.push_back(sender.Protect(seq));
  }
  EXPECT_EQ(sender.get().key_id(), std::vector<uint8_t>{2});
  // The last packets under the old key arrive after the first under the new.
  const size_t switch_at = 65536 - 65500 + 20;
  std::swap(packets[switch_at - 1], packets[switch_at + 1]);
  std::swap(packets[switch_at - 2], packets[switch_at]);
  auto both = Receiver({Key(1, 1), Key(2, 2)});
  auto old_only = Receiver({Key(1, 1)});
  int old_only_accepted = 0;
  for (const Bytes& packet : packets) {
    EXPECT_EQ(Unprotect(*both, packet), SrtpError::kOk);
    const SrtpError error = Unprotect(*old_only, packet);
    if (error == SrtpError::kOk) {
      ++old_only_accepted;
    } else {
      EXPECT_EQ(error, SrtpError::kUnknownKeyId);
    }
  }
  EXPECT_EQ(old_only_accepted, static_cast<int>(switch_at));
}

TEST(SrtpTest, ReceiverTakesNewKeysMidStream) {
  // Across a sequence wrap, so the packet index must survive the change.
  Sender sender(Key(1, 1), 9);
  auto receiver = Receiver({Key(1, 1)});
  uint16_t seq = 65530;
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(Unprotect(*receiver, sender.Protect(seq++)), SrtpError::kOk);
  }
  // The next key arrives before the sender uses it.
  ASSERT_TRUE(receiver->SetKeys({Key(1, 1), Key(2, 2)}).ok());
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(Unprotect(*receiver, sender.Protect(seq++)), SrtpError::kOk);
  }
  ASSERT_TRUE(sender.get().SetKey(Key(2, 2)).ok());
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(Unprotect(*receiver, sender.Protect(seq++)), SrtpError::kOk);
  }
  // The old key dropped: a packet under it no longer decrypts.
  Sender old_sender(Key(1, 1), 9);
  const Bytes old_packet = old_sender.Protect(seq);
  ASSERT_TRUE(receiver->SetKeys({Key(2, 2)}).ok());
  EXPECT_EQ(Unprotect(*receiver, old_packet), SrtpError::kUnknownKeyId);
  ASSERT_EQ(Unprotect(*receiver, sender.Protect(seq++)), SrtpError::kOk);
  // Invalid keys (two of one id) are refused and change nothing.
  EXPECT_FALSE(receiver->SetKeys({Key(3, 3), Key(3, 4)}).ok());
  EXPECT_FALSE(receiver->SetKeys({}).ok());
  EXPECT_EQ(Unprotect(*receiver, sender.Protect(seq++)), SrtpError::kOk);
}

TEST(SrtpTest, LateJoinerTakesTheCounterFromThePacket) {
  // The counter starts at 77 and the sequence wraps after 36 packets.
  Sender sender(Key(1, 1), 77);
  std::vector<Bytes> packets;
  for (uint16_t seq = 65500; seq != 1000; ++seq) {
    packets.push_back(sender.Protect(seq));
  }
  auto joiner = Receiver({Key(1, 1)});
  for (size_t i = 500; i < packets.size(); ++i) {
    ASSERT_EQ(Unprotect(*joiner, packets[i]), SrtpError::kOk) << i;
  }
  // Without the counter in the packet a late joiner is lost.
  Sender no_hint(Key(1, 1), 77);
  auto blind = Receiver({Key(1, 1)});
  EXPECT_EQ(Unprotect(*blind, no_hint.Protect(5, nullptr, false)),
            SrtpError::kAuthFailed);
}

TEST(SrtpTest, ComesBackAfterMoreThanHalfACycleMissed) {
  Sender sender(Key(1, 1), 0);
  auto receiver = Receiver({Key(1, 1)});
  uint16_t seq = 0;
  for (; seq < 10; ++seq) {
    ASSERT_EQ(Unprotect(*receiver, sender.Protect(seq)), SrtpError::kOk);
  }
  // 40,000 packets never arrive (a site cut off for a while): libsrtp alone
  // would place the next one in the previous cycle.
  for (int i = 0; i < 40000; ++i) sender.Protect(seq++);
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(Unprotect(*receiver, sender.Protect(seq++)), SrtpError::kOk);
  }
}

TEST(SrtpTest, ForgedCounterDoesNotDerailTheStream) {
  Sender sender(Key(1, 1), 9);
  auto receiver = Receiver({Key(1, 1)});
  ASSERT_EQ(Unprotect(*receiver, sender.Protect(1)), SrtpError::kOk);
  Bytes forged = sender.Protect(2);
  const Bytes genuine = forged;
  // The counter element's last byte (12 + 4 + 9 + 2 + 1 + 3).
  forged[30] ^= 0x04;
  EXPECT_EQ(Unprotect(*receiver, forged), SrtpError::kAuthFailed);
  EXPECT_EQ(Unprotect(*receiver, genuine), SrtpError::kOk);
  EXPECT_EQ(Unprotect(*receiver, sender.Protect(3)), SrtpError::kOk);
}

TEST(SrtpTest, MalformedInputIsRejected) {
  Sender sender(Key(1, 1), 0);
  auto receiver = Receiver({Key(1, 1)});
  const Bytes packet = sender.Protect(1);
  EXPECT_EQ(Unprotect(*receiver, {}), SrtpError::kMalformed);
  EXPECT_EQ(Unprotect(*receiver, Bytes(packet.begin(), packet.begin() + 11)),
            SrtpError::kMalformed);
  // Header only: no room for a key id and tag.
  EXPECT_NE(Unprotect(*receiver, Bytes(packet.begin(),
                                       packet.begin() + HeaderSize(packet))),
            SrtpError::kOk);
  Bytes not_rtp = packet;
  not_rtp[0] = 0x40;
  EXPECT_EQ(Unprotect(*receiver, not_rtp), SrtpError::kMalformed);
  Bytes other_ssrc = packet;
  other_ssrc[11] ^= 1;
  EXPECT_EQ(Unprotect(*receiver, other_ssrc), SrtpError::kWrongSsrc);
  Bytes small(packet.size() - 1);
  size_t size = 0;
  EXPECT_EQ(receiver->Unprotect(packet, absl::MakeSpan(small), &size),
            SrtpError::kMalformed);
  EXPECT_EQ(Unprotect(*receiver, packet), SrtpError::kOk);
}

TEST(SrtpTest, PaddedPlaintextRoundTrips) {
  Sender sender(Key(1, 1), 0);
  Bytes packet = Plain(4);
  packet[0] |= 0x20;  // P: the last 4 bytes are padding
  packet.insert(packet.end(), {0, 0, 0, 4});
  const Bytes plain = packet;
  const size_t size = packet.size();
  packet.resize(size + sender.get().overhead());
  packet.resize(sender.get().Protect(absl::MakeSpan(packet), size).value());
  auto receiver = Receiver({Key(1, 1)});
  Bytes decrypted;
  ASSERT_EQ(Unprotect(*receiver, packet, &decrypted), SrtpError::kOk);
  EXPECT_EQ(decrypted, plain);
}

TEST(SrtpTest, SenderRefusesWhatItCannotProtect) {
  Sender sender(Key(1, 1), 0);
  sender.Protect(10);
  Bytes packet = Plain(10);
  const size_t size = packet.size();
  packet.resize(size + sender.get().overhead());
  EXPECT_EQ(sender.get().Protect(absl::MakeSpan(packet), size).status().code(),
            absl::StatusCode::kFailedPrecondition);  // 10 again
  packet = Plain(11);
  EXPECT_EQ(sender.get()
                .Protect(absl::MakeSpan(packet), packet.size())
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);  // no room for the tag
  EXPECT_FALSE(SrtpSender::Create(kSsrc, Key(1, 1), 0x80000000).ok());
  StreamKey bad = Key(1, 1);
  bad.id.clear();
  EXPECT_FALSE(SrtpSender::Create(kSsrc, bad, 0).ok());
  EXPECT_FALSE(SrtpReceiver::Create(kSsrc, {Key(1, 1)}, 10).ok());
}

}  // namespace
}  // namespace cascade::srtp
