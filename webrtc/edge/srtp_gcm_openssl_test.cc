#include "webrtc/edge/srtp_gcm_openssl.h"

#include <cstdint>
#include <memory>
#include <vector>

#include "gtest/gtest.h"
#include "webrtc/dtls/srtp_keys.h"
#include "webrtc/dtls/srtp_session.h"

namespace cascade::edge {
namespace {

using dtls::DtlsRole;
using dtls::SrtpSession;
using dtls::SrtpSessionError;

dtls::SrtpKeys Keys() {
  dtls::SrtpKeys keys;
  keys.profile = dtls::SrtpProfile::kAeadAes128Gcm;
  for (uint8_t i = 0; i < 16; ++i) {
    keys.client_write.key.push_back(i);
    keys.server_write.key.push_back(0x80 + i);
  }
  for (uint8_t i = 0; i < 12; ++i) {
    keys.client_write.salt.push_back(0x40 + i);
    keys.server_write.salt.push_back(0xc0 + i);
  }
  return keys;
}

// An RTP packet of `payload` bytes, sequence number `seq`.
std::vector<uint8_t> Rtp(uint16_t seq, size_t payload) {
  std::vector<uint8_t> p = {0x80,
                            96,
                            static_cast<uint8_t>(seq >> 8),
                            static_cast<uint8_t>(seq),
                            0,
                            0,
                            0x10,
                            0,
                            0x12,
                            0x34,
                            0x56,
                            0x78};
  for (size_t i = 0; i < payload; ++i) p.push_back(static_cast<uint8_t>(i));
  return p;
}

// A receiver report with no blocks.
std::vector<uint8_t> Rtcp() {
  return {0x80, 201, 0, 1, 0x12, 0x34, 0x56, 0x78};
}

std::vector<uint8_t> Protect(SrtpSession& session, std::vector<uint8_t> p,
                             bool rtcp) {
  size_t size = p.size();
  p.resize(size + 64);
  const SrtpSessionError error =
      rtcp ? session.ProtectRtcp(absl::MakeSpan(p), &size)
           : session.ProtectRtp(absl::MakeSpan(p), &size);
  EXPECT_EQ(error, SrtpSessionError::kOk);
  p.resize(size);
  return p;
}

std::unique_ptr<SrtpSession> Session(DtlsRole role) {
  auto session = SrtpSession::Create(Keys(), role);
  EXPECT_TRUE(session.ok()) << session.status();
  return session.ok() ? *std::move(session) : nullptr;
}

// One test, in order: the replacement is process-wide and for good.
TEST(SrtpGcmOpenSsl, SameBytesAsLibsrtpsOwnAndOpensWhatItSeals) {
  // libsrtp's own (NSS) cipher first.
  std::unique_ptr<SrtpSession> before = Session(DtlsRole::kServer);
  ASSERT_NE(before, nullptr);
  const std::vector<uint8_t> rtp_before =
      Protect(*before, Rtp(1000, 1188), /*rtcp=*/false);
  const std::vector<uint8_t> short_before =
      Protect(*before, Rtp(1001, 3), /*rtcp=*/false);
  const std::vector<uint8_t> rtcp_before =
      Protect(*before, Rtcp(), /*rtcp=*/true);

  ASSERT_TRUE(UseOpenSslForSrtpGcm().ok()) << UseOpenSslForSrtpGcm();
  EXPECT_TRUE(UseOpenSslForSrtpGcm().ok());  // again: the first's result

  std::unique_ptr<SrtpSession> after = Session(DtlsRole::kServer);
  ASSERT_NE(after, nullptr);
  EXPECT_EQ(Protect(*after, Rtp(1000, 1188), false), rtp_before);
  EXPECT_EQ(Protect(*after, Rtp(1001, 3), false), short_before);
  EXPECT_EQ(Protect(*after, Rtcp(), true), rtcp_before);

  // The browser's side opens them; an altered byte or a replay does not.
  std::unique_ptr<SrtpSession> peer = Session(DtlsRole::kClient);
  ASSERT_NE(peer, nullptr);
  std::vector<uint8_t> p = rtp_before;
  size_t size = 0;
  ASSERT_EQ(peer->UnprotectRtp(absl::MakeSpan(p), &size),
            SrtpSessionError::kOk);
  EXPECT_EQ(std::vector<uint8_t>(p.begin(), p.begin() + size), Rtp(1000, 1188));
  p = rtp_before;
  EXPECT_EQ(peer->UnprotectRtp(absl::MakeSpan(p), &size),
            SrtpSessionError::kReplayed);
  p = short_before;
  p[20] ^= 1;
  EXPECT_EQ(peer->UnprotectRtp(absl::MakeSpan(p), &size),
            SrtpSessionError::kAuthFailed);
  p = short_before;
  ASSERT_EQ(peer->UnprotectRtp(absl::MakeSpan(p), &size),
            SrtpSessionError::kOk);
  EXPECT_EQ(std::vector<uint8_t>(p.begin(), p.begin() + size), Rtp(1001, 3));
  p = rtcp_before;
  ASSERT_EQ(peer->UnprotectRtcp(absl::MakeSpan(p), &size),
            SrtpSessionError::kOk);
  EXPECT_EQ(std::vector<uint8_t>(p.begin(), p.begin() + size), Rtcp());

  // And the other way: what the browser seals, the relay opens.
  for (uint16_t seq = 7; seq < 200; ++seq) {
    std::vector<uint8_t> sealed = Protect(*peer, Rtp(seq, seq), false);
    ASSERT_EQ(after->UnprotectRtp(absl::MakeSpan(sealed), &size),
              SrtpSessionError::kOk)
        << seq;
    EXPECT_EQ(std::vector<uint8_t>(sealed.begin(), sealed.begin() + size),
              Rtp(seq, seq));
  }
}

}  // namespace
}  // namespace cascade::edge
