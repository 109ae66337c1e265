#include "webrtc/edge/test_browser.h"

#include <fstream>
#include <iterator>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "media/rtp/demux.h"
#include "webrtc/ice/demux.h"

namespace cascade::edge {

std::string ReadTestOffer(const std::string& name) {
  std::ifstream in("webrtc/sdp/testdata/" + name, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
}

std::string WithFingerprint(const std::string& offer,
                            const dtls::Fingerprint& fingerprint) {
  std::vector<std::string> lines = absl::StrSplit(offer, "\r\n");
  for (std::string& line : lines) {
    if (absl::StartsWith(line, "a=fingerprint:")) {
      line = absl::StrCat("a=fingerprint:", fingerprint.algorithm, " ",
                          fingerprint.value);
    }
  }
  return absl::StrJoin(lines, "\r\n");
}

absl::StatusOr<std::unique_ptr<TestBrowser>> TestBrowser::Create(
    ice::TransportAddress address) {
  return Make(address, "chrome_whep_recvonly.sdp", kUfrag);
}

absl::StatusOr<std::unique_ptr<TestBrowser>> TestBrowser::CreatePublisher(
    ice::TransportAddress address) {
  return Make(address, "chrome_whip_sendonly.sdp", kWhipUfrag);
}

absl::StatusOr<std::unique_ptr<TestBrowser>> TestBrowser::Make(
    ice::TransportAddress address, const std::string& offer_name,
    const char* ufrag) {
  std::unique_ptr<TestBrowser> browser(new TestBrowser());
  browser->address_ = address;
  browser->ufrag_ = ufrag;
  auto certificate = dtls::Certificate::Generate({kTestStart});
  if (!certificate.ok()) return certificate.status();
  browser->certificate_ = *std::move(certificate);
  const std::string offer = ReadTestOffer(offer_name);
  if (offer.empty()) return absl::NotFoundError(offer_name);
  if (!absl::StrContains(offer, absl::StrCat("a=ice-ufrag:", ufrag))) {
    return absl::FailedPreconditionError(
        absl::StrCat(offer_name, " has another ICE ufrag than ", ufrag));
  }
  browser->offer_ =
      WithFingerprint(offer, browser->certificate_->fingerprint());
  return browser;
}

std::vector<uint8_t> TestBrowser::BindingRequest(
    const std::string& relay_ufrag, const std::string& relay_pwd) const {
  std::vector<uint8_t> out(256);
  ice::TransactionId id{};
  id[0] = ++transactions_;
  ice::StunBuilder b(absl::MakeSpan(out), ice::kBindingMethod,
                     ice::StunClass::kRequest, id);
  b.AddUsername(absl::StrCat(relay_ufrag, ":", ufrag_));
  b.AddPriority(0x6e0001ff);
  b.AddIceControlling(0x1234567890abcdefULL);
  b.AddUseCandidate();
  b.AddMessageIntegrity(relay_pwd);
  b.AddFingerprint();
  out.resize(b.Finish());
  return out;
}

absl::Status TestBrowser::StartDtls(const dtls::Fingerprint& relay_fingerprint,
                                    absl::Time now) {
  dtls::DtlsOptions options;
  options.role = dtls::DtlsRole::kClient;
  options.remote_fingerprint = relay_fingerprint;
  auto transport = dtls::DtlsTransport::Create(*certificate_, options, this);
  if (!transport.ok()) return transport.status();
  dtls_ = *std::move(transport);
  dtls_->Start(now);
  return absl::OkStatus();
}

void TestBrowser::FeedDtls(const std::vector<RecordingSink::Datagram>& sent,
                           absl::Time now) {
  for (const RecordingSink::Datagram& d : sent) {
    if (d.to == address_ &&
        ice::Classify(d.bytes) == ice::DatagramKind::kDtls) {
      dtls_->Feed(d.bytes, now);
    }
  }
}

bool TestBrowser::dtls_connected() const {
  return dtls_ != nullptr && dtls_->state() == dtls::DtlsState::kConnected;
}

dtls::SrtpSession* TestBrowser::srtp() {
  if (srtp_ == nullptr && dtls_connected()) {
    auto session =
        dtls::SrtpSession::Create(*dtls_->srtp_keys(), dtls::DtlsRole::kClient);
    if (session.ok()) srtp_ = *std::move(session);
  }
  return srtp_.get();
}

std::vector<uint8_t> TestBrowser::Protect(std::vector<uint8_t> packet) {
  if (srtp() == nullptr) return {};
  size_t size = packet.size();
  packet.resize(size + 64);  // room for the tag and the SRTCP index
  const bool rtcp = rtp::Classify(packet) == rtp::PacketKind::kRtcp;
  const dtls::SrtpSessionError error =
      rtcp ? srtp_->ProtectRtcp(absl::MakeSpan(packet), &size)
           : srtp_->ProtectRtp(absl::MakeSpan(packet), &size);
  if (error != dtls::SrtpSessionError::kOk) return {};
  packet.resize(size);
  return packet;
}

void TestBrowser::OnDtlsSend(absl::Span<const uint8_t> datagram) {
  dtls_out_.emplace_back(datagram.begin(), datagram.end());
}

}  // namespace cascade::edge
