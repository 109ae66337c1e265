// The browser's side of a WHEP or WHIP session, for tests: Chrome's
// recvonly (or sendonly) offer from webrtc/sdp/testdata carrying this
// browser's own DTLS fingerprint,
// ICE connectivity checks signed with the relay's credentials, a DTLS client
// and, once connected, the client's SRTP session. Datagrams to and from the
// relay are plain byte vectors; the test moves them.
#ifndef CASCADE_WEBRTC_EDGE_TEST_BROWSER_H_
#define CASCADE_WEBRTC_EDGE_TEST_BROWSER_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "webrtc/dtls/certificate.h"
#include "webrtc/dtls/dtls_transport.h"
#include "webrtc/dtls/srtp_session.h"
#include "webrtc/edge/webrtc_transport.h"
#include "webrtc/ice/stun.h"

namespace cascade::edge {

inline const absl::Time kTestStart = absl::FromUnixSeconds(1800000000);

// The text of webrtc/sdp/testdata/`name` (a data dependency), "" if absent.
std::string ReadTestOffer(const std::string& name);

// `offer` with every a=fingerprint line replaced by `fingerprint`.
std::string WithFingerprint(const std::string& offer,
                            const dtls::Fingerprint& fingerprint);

// Collects what a session sends.
struct RecordingSink : DatagramSink {
  struct Datagram {
    std::vector<uint8_t> bytes;
    ice::TransportAddress to;
    bool from_lent = false;  // built in `lent`, as a relay's pool slot
  };
  void Send(absl::Span<const uint8_t> datagram,
            const ice::TransportAddress& to) override {
    const bool from_lent = !lent.empty() && datagram.data() == lent.data();
    sent.push_back({{datagram.begin(), datagram.end()}, to, from_lent});
  }
  absl::Span<uint8_t> LendBuffer() override { return absl::MakeSpan(lent); }
  std::vector<Datagram> sent;
  // Lent to senders when not empty.
  std::vector<uint8_t> lent;
};

class TestBrowser : public dtls::DtlsTransport::Listener {
 public:
  // The browser's ICE ufrag in Chrome's WHEP and WHIP offers.
  static constexpr char kUfrag[] = "EsAw";
  static constexpr char kWhipUfrag[] = "Zq7H";

  // A viewer, with chrome_whep_recvonly.sdp.
  static absl::StatusOr<std::unique_ptr<TestBrowser>> Create(
      ice::TransportAddress address);
  // A publisher, with chrome_whip_sendonly.sdp (H.264 and Opus).
  static absl::StatusOr<std::unique_ptr<TestBrowser>> CreatePublisher(
      ice::TransportAddress address);

  // The Chrome offer with this browser's fingerprint.
  const std::string& offer() const { return offer_; }
  const ice::TransportAddress& address() const { return address_; }

  // A Binding request as Chrome sends it (controlling, USE-CANDIDATE),
  // USERNAME "relay_ufrag:browser_ufrag", signed with `relay_pwd`.
  std::vector<uint8_t> BindingRequest(const std::string& relay_ufrag,
                                      const std::string& relay_pwd) const;

  // Starts the DTLS client, which pins `relay_fingerprint`.
  absl::Status StartDtls(const dtls::Fingerprint& relay_fingerprint,
                         absl::Time now);
  // Feeds the relay's DTLS datagrams among `sent` to the client.
  void FeedDtls(const std::vector<RecordingSink::Datagram>& sent,
                absl::Time now);
  // What the DTLS client has sent and nobody took yet.
  std::deque<std::vector<uint8_t>>& dtls_out() { return dtls_out_; }
  bool dtls_connected() const;
  // The client's SRTP session once connected (made on first use).
  dtls::SrtpSession* srtp();
  // `packet` (RTP or RTCP) as the browser sends it over its SRTP session;
  // empty when that fails or it is not connected.
  std::vector<uint8_t> Protect(std::vector<uint8_t> packet);

  void OnDtlsSend(absl::Span<const uint8_t> datagram) override;
  void OnDtlsState(dtls::DtlsState, const absl::Status&) override {}

 private:
  TestBrowser() = default;
  static absl::StatusOr<std::unique_ptr<TestBrowser>> Make(
      ice::TransportAddress address, const std::string& offer_name,
      const char* ufrag);

  ice::TransportAddress address_;
  std::unique_ptr<dtls::Certificate> certificate_;
  std::string offer_;
  std::string ufrag_;
  std::unique_ptr<dtls::DtlsTransport> dtls_;
  std::deque<std::vector<uint8_t>> dtls_out_;
  std::unique_ptr<dtls::SrtpSession> srtp_;
  mutable uint8_t transactions_ = 0;  // makes each check's id distinct
};

}  // namespace cascade::edge

#endif  // CASCADE_WEBRTC_EDGE_TEST_BROWSER_H_
