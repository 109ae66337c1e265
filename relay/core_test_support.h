// What tests of RelayCore share: a transport that records every send, RTP
// and RTCP packets to feed it, and a fixture of relay "r1" with its parent,
// children and streams.
#ifndef CASCADE_RELAY_CORE_TEST_SUPPORT_H_
#define CASCADE_RELAY_CORE_TEST_SUPPORT_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "media/endpoint.h"
#include "media/rtp/activation.h"
#include "media/rtp/rtcp.h"
#include "relay/packet_pool.h"
#include "relay/relay_core.h"
#include "relay/transport.h"
#include "testing/fake_clock.h"

namespace cascade::relay {

struct Sent {
  media::Endpoint to;
  std::vector<uint8_t> bytes;
};

class FakeTransport : public Transport {
 public:
  void Send(const media::Endpoint& to, const PacketRef& packet) override;
  // What went to `e`, in order.
  std::vector<Sent> To(const media::Endpoint& e) const;
  std::vector<Sent> sent;
};

media::Endpoint Ep(const char* text);

// One RTP packet (payload type 96 unless given).
std::vector<uint8_t> RtpPacket(uint32_t ssrc, uint16_t seq, uint32_t ts,
                               std::vector<uint8_t> payload,
                               uint8_t payload_type = 96);

// The fixture's relay "r1": parent p0 at kParent, a static push child at
// kPush, child "c1" at kChild once activated; kAttacker is nobody's.
extern const media::Endpoint kParent;
extern const media::Endpoint kPush;
extern const media::Endpoint kChild;
extern const media::Endpoint kAttacker;
// Its standby parent p1 (WithStandby).
extern const media::Endpoint kStandby;
// A downstream H.264 stream and an upstream one, selected.
inline constexpr uint32_t kVideo = 0x1111;
inline constexpr uint32_t kUp = 0x2222;
extern const std::string kChildKey;
extern const std::string kParentKey;
// H.264 payloads: an IDR slice (type 5, first_mb 0) and a non-IDR slice.
extern const std::vector<uint8_t> kIdr;
extern const std::vector<uint8_t> kSlice;

// Relay "r1": parent p0, a static push child, an activated child "c1".
RelayOptions CoreOptions();
// Relay "r1" with a standby parent p1 after p0.
RelayOptions WithStandby();

std::vector<uint8_t> Activation(
    const std::string& node, const std::string& key, int64_t ts_ms,
    uint64_t nonce, rtp::ActivationKind kind = rtp::ActivationKind::kActivate);
std::vector<uint8_t> Nack(uint32_t media, std::vector<uint16_t> seqs);
std::vector<uint8_t> Pli(uint32_t media);
std::vector<uint8_t> Rr();
// The RTP packets among `sent`.
std::vector<Sent> RtpOnly(const std::vector<Sent>& sent);
uint16_t SeqOf(const std::vector<uint8_t>& rtp);

// Collects what the parser finds in the RTCP datagrams sent by the relay.
struct RtcpSeen : rtp::RtcpVisitor {
  void OnNack(const rtp::NackView& n) override;
  void OnPli(const rtp::PliView& p) override;
  void OnReceiverReport(const rtp::ReceiverReportView&) override;
  void OnSenderReport(const rtp::SenderReportView&) override;
  void OnBye(const rtp::ByeView&) override;
  // Activations and deactivations signed with kParentKey.
  void OnApp(const rtp::AppView& app) override;
  std::vector<uint16_t> nacked;
  std::vector<uint32_t> plis;
  std::vector<std::string> activations;
  std::vector<std::string> deactivations;
  int rrs = 0, srs = 0, byes = 0;
};
RtcpSeen ParseAll(const std::vector<Sent>& sent);

class RelayCoreTest : public ::testing::Test {
 protected:
  RelayCoreTest();

  void Receive(const media::Endpoint& from, const std::vector<uint8_t>& bytes);
  int64_t NowMs() const;
  void ActivateChild();
  // Lets `d` pass in 5 ms ticks, each asking for the next as the server
  // does (ticks sooner than asked for are harmless).
  void Run(absl::Duration d);

  FakeClock clock_;
  PacketPool pool_;
  FakeTransport out_;
  RelayCore core_;
  uint64_t nonce_ = 0;
};

}  // namespace cascade::relay

#endif  // CASCADE_RELAY_CORE_TEST_SUPPORT_H_
