#include "webrtc/dtls/srtp_session.h"

#include <memory>
#include <tuple>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "webrtc/dtls/dtls_transport.h"
#include "webrtc/dtls/srtp_keys.h"
#include "webrtc/dtls/test_link.h"

namespace cascade::dtls {
namespace {

using Bytes = std::vector<uint8_t>;

// What two sides agreed on in a real handshake offering `profiles`.
SrtpKeys Handshake(std::vector<SrtpProfile> profiles) {
  DtlsOptions client;
  client.profiles = std::move(profiles);
  auto link = TestLink::Create(client);
  EXPECT_TRUE(link.ok()) << link.status();
  if (!link.ok()) return {};
  (*link)->Handshake();
  EXPECT_TRUE((*link)->connected());
  const auto& keys = (*link)->client().transport->srtp_keys();
  EXPECT_TRUE(keys.has_value());
  return keys.value_or(SrtpKeys{});
}

std::unique_ptr<SrtpSession> Session(const SrtpKeys& keys, DtlsRole role) {
  auto session = SrtpSession::Create(keys, role);
  EXPECT_TRUE(session.ok()) << session.status();
  return session.ok() ? *std::move(session) : nullptr;
}

Bytes Rtp(uint16_t seq, uint32_t ssrc = 0x11223344) {
  Bytes packet = {0x80,
                  96,
                  static_cast<uint8_t>(seq >> 8),
                  static_cast<uint8_t>(seq),
                  0,
                  0,
                  0x12,
                  0x34,
                  static_cast<uint8_t>(ssrc >> 24),
                  static_cast<uint8_t>(ssrc >> 16),
                  static_cast<uint8_t>(ssrc >> 8),
                  static_cast<uint8_t>(ssrc)};
  for (int i = 0; i < 100; ++i) packet.push_back(static_cast<uint8_t>(i * 7));
  return packet;
}

// A receiver report with one block.
Bytes Rtcp(uint32_t ssrc = 0x55667788) {
  Bytes packet = {0x81,
                  201,
                  0,
                  7,
                  static_cast<uint8_t>(ssrc >> 24),
                  static_cast<uint8_t>(ssrc >> 16),
                  static_cast<uint8_t>(ssrc >> 8),
                  static_cast<uint8_t>(ssrc)};
  for (int i = 0; i < 24; ++i) packet.push_back(static_cast<uint8_t>(i + 1));
  return packet;
}

// Protects `plain` with `session`; the bytes on the wire.
Bytes Protect(SrtpSession& session, const Bytes& plain, bool rtcp) {
  Bytes buffer = plain;
  buffer.resize(plain.size() +
                (rtcp ? session.rtcp_overhead() : session.rtp_overhead()));
  size_t size = plain.size();
  const SrtpSessionError error =
      rtcp ? session.ProtectRtcp(absl::MakeSpan(buffer), &size)
           : session.ProtectRtp(absl::MakeSpan(buffer), &size);
  EXPECT_EQ(error, SrtpSessionError::kOk) << SrtpSessionErrorName(error);
  EXPECT_EQ(size, buffer.size());
  buffer.resize(size);
  return buffer;
}

// Unprotects a copy of `wire`; the plain packet on kOk.
SrtpSessionError Unprotect(SrtpSession& session, const Bytes& wire, bool rtcp,
                           Bytes* plain = nullptr) {
  Bytes buffer = wire;
  size_t size = 0;
  const SrtpSessionError error =
      rtcp ? session.UnprotectRtcp(absl::MakeSpan(buffer), &size)
           : session.UnprotectRtp(absl::MakeSpan(buffer), &size);
  if (error == SrtpSessionError::kOk && plain != nullptr) {
    buffer.resize(size);
    *plain = buffer;
  }
  return error;
}

class SrtpSessionTest : public testing::TestWithParam<SrtpProfile> {
 protected:
  void SetUp() override {
    keys_ = Handshake({GetParam()});
    ASSERT_EQ(keys_.profile, GetParam());
    client_ = Session(keys_, DtlsRole::kClient);
    server_ = Session(keys_, DtlsRole::kServer);
    ASSERT_NE(client_, nullptr);
    ASSERT_NE(server_, nullptr);
  }

  size_t Tag() const {
    return GetParam() == SrtpProfile::kAeadAes128Gcm ? 16 : 10;
  }

  SrtpKeys keys_;
  std::unique_ptr<SrtpSession> client_;
  std::unique_ptr<SrtpSession> server_;
};

TEST_P(SrtpSessionTest, RtpCrossesBothWays) {
  EXPECT_EQ(client_->rtp_overhead(), Tag());
  // Each side its own SSRC: a side's own packets must fail for the key, not
  // as replays of the peer's.
  for (auto [from, to, ssrc] :
       {std::tuple{client_.get(), server_.get(), 0x11111111u},
        std::tuple{server_.get(), client_.get(), 0x22222222u}}) {
    for (uint16_t seq = 1000; seq < 1005; ++seq) {
      const Bytes plain = Rtp(seq, ssrc);
      const Bytes wire = Protect(*from, plain, /*rtcp=*/false);
      ASSERT_EQ(wire.size(), plain.size() + Tag());
      // The header stays readable, the payload does not.
      EXPECT_TRUE(std::equal(plain.begin(), plain.begin() + 12, wire.begin()));
      EXPECT_FALSE(
          std::equal(plain.begin() + 12, plain.end(), wire.begin() + 12));
      Bytes received;
      ASSERT_EQ(Unprotect(*to, wire, false, &received), SrtpSessionError::kOk);
      EXPECT_EQ(received, plain);
      // A side never accepts its own packets: they are under the other key.
      EXPECT_EQ(Unprotect(*from, wire, false), SrtpSessionError::kAuthFailed);
    }
  }
}

TEST_P(SrtpSessionTest, RtcpCrossesBothWays) {
  EXPECT_EQ(client_->rtcp_overhead(), 4 + Tag());
  for (auto [from, to, ssrc] :
       {std::tuple{client_.get(), server_.get(), 0x11111111u},
        std::tuple{server_.get(), client_.get(), 0x22222222u}}) {
    const Bytes plain = Rtcp(ssrc);
    const Bytes wire = Protect(*from, plain, /*rtcp=*/true);
    ASSERT_EQ(wire.size(), plain.size() + 4 + Tag());
    Bytes received;
    ASSERT_EQ(Unprotect(*to, wire, true, &received), SrtpSessionError::kOk);
    EXPECT_EQ(received, plain);
    EXPECT_EQ(Unprotect(*from, wire, true), SrtpSessionError::kAuthFailed);
  }
}

TEST_P(SrtpSessionTest, ReplaysAreRefused) {
  const Bytes wire = Protect(*client_, Rtp(7), false);
  EXPECT_EQ(Unprotect(*server_, wire, false), SrtpSessionError::kOk);
  EXPECT_EQ(Unprotect(*server_, wire, false), SrtpSessionError::kReplayed);
  const Bytes report = Protect(*client_, Rtcp(), true);
  EXPECT_EQ(Unprotect(*server_, report, true), SrtpSessionError::kOk);
  EXPECT_EQ(Unprotect(*server_, report, true), SrtpSessionError::kReplayed);
  // Far behind the window.
  const Bytes old = Protect(*client_, Rtp(8), false);
  EXPECT_EQ(Unprotect(*server_, Protect(*client_, Rtp(3000), false), false),
            SrtpSessionError::kOk);
  EXPECT_EQ(Unprotect(*server_, old, false), SrtpSessionError::kTooOld);
}

TEST_P(SrtpSessionTest, ASenderMayRepeatAPacketAndTheReceiverTakesItOnce) {
  const Bytes first = Protect(*client_, Rtp(42), false);
  const Bytes again = Protect(*client_, Rtp(42), false);  // a NACK answered
  EXPECT_EQ(first, again);
  EXPECT_EQ(Unprotect(*server_, again, false), SrtpSessionError::kOk);
  EXPECT_EQ(Unprotect(*server_, first, false), SrtpSessionError::kReplayed);
}

TEST_P(SrtpSessionTest, MixedUpKeysFail) {
  const Bytes wire = Protect(*client_, Rtp(1), false);
  // The server's session built as if it were the client: it expects the
  // server's key on what arrives.
  std::unique_ptr<SrtpSession> wrong_role = Session(keys_, DtlsRole::kClient);
  ASSERT_NE(wrong_role, nullptr);
  EXPECT_EQ(Unprotect(*wrong_role, wire, false), SrtpSessionError::kAuthFailed);
  // The two write keys swapped.
  SrtpKeys swapped = keys_;
  std::swap(swapped.client_write, swapped.server_write);
  std::unique_ptr<SrtpSession> mirrored = Session(swapped, DtlsRole::kServer);
  ASSERT_NE(mirrored, nullptr);
  EXPECT_EQ(Unprotect(*mirrored, wire, false), SrtpSessionError::kAuthFailed);
  // Only the salt of the right key wrong.
  SrtpKeys salted = keys_;
  salted.client_write.salt[0] ^= 1;
  std::unique_ptr<SrtpSession> bad_salt = Session(salted, DtlsRole::kServer);
  ASSERT_NE(bad_salt, nullptr);
  EXPECT_EQ(Unprotect(*bad_salt, wire, false), SrtpSessionError::kAuthFailed);
  // Another handshake's keys.
  std::unique_ptr<SrtpSession> stranger =
      Session(Handshake({GetParam()}), DtlsRole::kServer);
  ASSERT_NE(stranger, nullptr);
  EXPECT_EQ(Unprotect(*stranger, wire, false), SrtpSessionError::kAuthFailed);
  // And the right one still takes it.
  EXPECT_EQ(Unprotect(*server_, wire, false), SrtpSessionError::kOk);
}

TEST_P(SrtpSessionTest, DamagedPacketsAreRefused) {
  Bytes wire = Protect(*client_, Rtp(5), false);
  Bytes flipped = wire;
  flipped[20] ^= 0x01;
  EXPECT_EQ(Unprotect(*server_, flipped, false), SrtpSessionError::kAuthFailed);
  Bytes header_changed = wire;
  header_changed[7] ^= 0x01;  // the timestamp
  EXPECT_EQ(Unprotect(*server_, header_changed, false),
            SrtpSessionError::kAuthFailed);
  EXPECT_EQ(Unprotect(*server_, Bytes(wire.begin(), wire.begin() + 12), false),
            SrtpSessionError::kMalformed);
  EXPECT_EQ(Unprotect(*server_, Bytes(), false), SrtpSessionError::kMalformed);
  Bytes version_one = wire;
  version_one[0] = 0x40;
  EXPECT_EQ(Unprotect(*server_, version_one, false),
            SrtpSessionError::kMalformed);
  Bytes bad_extension = wire;
  bad_extension[0] |= 0x10;  // an extension header that runs past the end
  EXPECT_NE(Unprotect(*server_, bad_extension, false), SrtpSessionError::kOk);
  EXPECT_EQ(Unprotect(*server_, Bytes(16, 0x80), true),
            SrtpSessionError::kMalformed);
  // The undamaged packet still passes: failures left no trace.
  EXPECT_EQ(Unprotect(*server_, wire, false), SrtpSessionError::kOk);
}

TEST_P(SrtpSessionTest, ProtectChecksTheBuffer) {
  Bytes packet = Rtp(9);
  size_t size = packet.size();
  EXPECT_EQ(client_->ProtectRtp(absl::MakeSpan(packet), &size),
            SrtpSessionError::kNoRoom);
  EXPECT_EQ(size, packet.size());
  packet.resize(packet.size() + Tag() - 1);
  size = packet.size() - Tag() + 1;
  EXPECT_EQ(client_->ProtectRtp(absl::MakeSpan(packet), &size),
            SrtpSessionError::kNoRoom);
  size = packet.size() + 1;
  EXPECT_EQ(client_->ProtectRtp(absl::MakeSpan(packet), &size),
            SrtpSessionError::kNoRoom);
  Bytes report = Rtcp();
  size = report.size();
  report.resize(report.size() + Tag());  // no room for the index
  EXPECT_EQ(client_->ProtectRtcp(absl::MakeSpan(report), &size),
            SrtpSessionError::kNoRoom);
  Bytes tiny(4 + 40, 0x80);
  size = 4;
  EXPECT_EQ(client_->ProtectRtp(absl::MakeSpan(tiny), &size),
            SrtpSessionError::kMalformed);
}

INSTANTIATE_TEST_SUITE_P(Profiles, SrtpSessionTest,
                         testing::Values(SrtpProfile::kAeadAes128Gcm,
                                         SrtpProfile::kAes128CmSha1_80),
                         [](const auto& info) {
                           return info.param == SrtpProfile::kAeadAes128Gcm
                                      ? "Gcm"
                                      : "CmSha1_80";
                         });

TEST(SrtpSessionCreateTest, RefusesKeysOfTheWrongSize) {
  SrtpKeys keys;
  keys.profile = SrtpProfile::kAeadAes128Gcm;
  keys.client_write = {Bytes(16, 1), Bytes(12, 2)};
  keys.server_write = {Bytes(16, 3), Bytes(12, 4)};
  ASSERT_TRUE(SrtpSession::Create(keys, DtlsRole::kClient).ok());
  EXPECT_FALSE(SrtpSession::Create(keys, DtlsRole::kClient, 10).ok());
  SrtpKeys cm_salt = keys;
  cm_salt.profile = SrtpProfile::kAes128CmSha1_80;  // wants 14-byte salts
  EXPECT_FALSE(SrtpSession::Create(cm_salt, DtlsRole::kClient).ok());
  SrtpKeys short_key = keys;
  short_key.server_write.key.pop_back();
  EXPECT_FALSE(SrtpSession::Create(short_key, DtlsRole::kClient).ok());
}

TEST(SrtpSessionCreateTest, ErrorNames) {
  EXPECT_EQ(SrtpSessionErrorName(SrtpSessionError::kReplayed), "replayed");
  EXPECT_EQ(SrtpSessionErrorName(SrtpSessionError::kAuthFailed), "auth_failed");
}

}  // namespace
}  // namespace cascade::dtls
