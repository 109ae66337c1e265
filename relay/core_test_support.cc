#include "relay/core_test_support.h"

#include "media/rtp/demux.h"
#include "media/rtp/rtp.h"

namespace cascade::relay {

void FakeTransport::Send(const media::Endpoint& to, const PacketRef& packet) {
  sent.push_back({to, {packet.bytes().begin(), packet.bytes().end()}});
}

std::vector<Sent> FakeTransport::To(const media::Endpoint& e) const {
  std::vector<Sent> out;
  for (const Sent& s : sent) {
    if (s.to == e) out.push_back(s);
  }
  return out;
}

media::Endpoint Ep(const char* text) { return *media::Endpoint::Parse(text); }

std::vector<uint8_t> RtpPacket(uint32_t ssrc, uint16_t seq, uint32_t ts,
                               std::vector<uint8_t> payload,
                               uint8_t payload_type) {
  rtp::RtpHeader h;
  h.payload_type = payload_type;
  h.sequence_number = seq;
  h.timestamp = ts;
  h.ssrc = ssrc;
  std::vector<uint8_t> out(1500);
  out.resize(rtp::WriteRtpPacket(h, payload, absl::MakeSpan(out)));
  return out;
}

const media::Endpoint kParent = Ep("127.0.0.1:5000");
const media::Endpoint kPush = Ep("127.0.0.1:6000");
const media::Endpoint kChild = Ep("127.0.0.1:6001");
const media::Endpoint kAttacker = Ep("127.0.0.1:6666");
const media::Endpoint kStandby = Ep("127.0.0.1:5001");
const std::string kChildKey(32, 'k');
const std::string kParentKey(32, 'p');
const std::vector<uint8_t> kIdr = {0x65, 0x88, 0x84, 0x00};
const std::vector<uint8_t> kSlice = {0x41, 0x9a, 0x00, 0x00};

RelayOptions CoreOptions() {
  RelayOptions o;
  o.node_id = "r1";
  o.listen = Ep("127.0.0.1:0");
  o.parents.push_back({"p0", kParent, kParentKey});
  ChildOptions push;
  push.id = "push";
  push.address = kPush;
  push.static_push = true;
  o.children.push_back(push);
  ChildOptions child;
  child.id = "c1";
  child.key = kChildKey;
  o.children.push_back(child);
  StreamOptions video;
  video.ssrc = kVideo;
  video.h264 = true;
  o.streams.push_back(video);
  StreamOptions up;
  up.ssrc = kUp;
  up.direction = Direction::kUp;
  up.selected = true;
  o.streams.push_back(up);
  o.retransmit_rate_per_child = 100;
  o.retransmit_burst_per_child = 25;
  // A fixed failover timeout: the per-link one has its own test.
  o.parent_timeout_max = o.parent_timeout;
  return o;
}

RelayOptions WithStandby() {
  RelayOptions o = CoreOptions();
  o.parents.push_back({"p1", kStandby, kParentKey});
  return o;
}

std::vector<uint8_t> Activation(const std::string& node, const std::string& key,
                                int64_t ts_ms, uint64_t nonce,
                                rtp::ActivationKind kind) {
  rtp::ActivationRequest r;
  r.kind = kind;
  r.node_id = node;
  r.timestamp_ms = ts_ms;
  r.nonce = nonce;
  std::vector<uint8_t> out(256);
  out.resize(rtp::BuildActivation(
      r,
      absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(key.data()),
                          key.size()),
      absl::MakeSpan(out)));
  return out;
}

std::vector<uint8_t> Nack(uint32_t media, std::vector<uint16_t> seqs) {
  std::vector<uint8_t> out(1500);
  out.resize(rtp::BuildNack(0x99, media, seqs, absl::MakeSpan(out)));
  return out;
}

std::vector<uint8_t> Pli(uint32_t media) {
  std::vector<uint8_t> out(64);
  out.resize(rtp::BuildPli(0x99, media, absl::MakeSpan(out)));
  return out;
}

std::vector<uint8_t> Rr() {
  std::vector<uint8_t> out(64);
  out.resize(rtp::BuildReceiverReport(0x99, {}, absl::MakeSpan(out)));
  return out;
}

std::vector<Sent> RtpOnly(const std::vector<Sent>& sent) {
  std::vector<Sent> out;
  for (const Sent& s : sent) {
    if (rtp::Classify(s.bytes) == rtp::PacketKind::kRtp) out.push_back(s);
  }
  return out;
}

uint16_t SeqOf(const std::vector<uint8_t>& rtp) {
  return static_cast<uint16_t>(rtp[2] << 8 | rtp[3]);
}

void RtcpSeen::OnNack(const rtp::NackView& n) {
  n.ForEachSequenceNumber([&](uint16_t s) { nacked.push_back(s); });
}
void RtcpSeen::OnPli(const rtp::PliView& p) { plis.push_back(p.media_ssrc); }
void RtcpSeen::OnReceiverReport(const rtp::ReceiverReportView&) { ++rrs; }
void RtcpSeen::OnSenderReport(const rtp::SenderReportView&) { ++srs; }
void RtcpSeen::OnBye(const rtp::ByeView&) { ++byes; }
void RtcpSeen::OnApp(const rtp::AppView& app) {
  rtp::ActivationRequest r;
  const rtp::ActivationResult result = rtp::VerifyActivation(
      app,
      absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(kParentKey.data()),
                          kParentKey.size()),
      &r);
  if (result != rtp::ActivationResult::kOk) return;
  (r.kind == rtp::ActivationKind::kDeactivate ? deactivations : activations)
      .emplace_back(r.node_id);
}

RtcpSeen ParseAll(const std::vector<Sent>& sent) {
  RtcpSeen seen;
  for (const Sent& s : sent) {
    if (rtp::Classify(s.bytes) == rtp::PacketKind::kRtp) continue;
    EXPECT_EQ(rtp::ParseRtcpCompound(s.bytes, &seen), rtp::RtcpError::kOk);
  }
  return seen;
}

RelayCoreTest::RelayCoreTest()
    : pool_(4096), core_(CoreOptions(), &clock_, &pool_, &out_) {}

void RelayCoreTest::Receive(const media::Endpoint& from,
                            const std::vector<uint8_t>& bytes) {
  core_.OnDatagram(from, pool_.Copy(bytes));
}

int64_t RelayCoreTest::NowMs() const {
  return absl::ToUnixMillis(clock_.Now());
}

void RelayCoreTest::ActivateChild() {
  Receive(kChild, Activation("c1", kChildKey, NowMs(), ++nonce_));
  ASSERT_EQ(core_.ActiveChildren().size(), 2u);
}

void RelayCoreTest::Run(absl::Duration d) {
  for (absl::Duration t; t < d; t += absl::Milliseconds(5)) {
    clock_.Advance(absl::Milliseconds(5));
    core_.OnTick();
    core_.NextTick();
  }
}

}  // namespace cascade::relay
