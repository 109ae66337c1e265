// A WHEP viewer's WebRTC transport toward a relay's edge: the browser's
// side of webrtc/edge's ViewerSession, as a site's transport (site.h).
//   ICE: the controlling agent toward the answer's candidates, Binding
//     requests with USE-CANDIDATE, PRIORITY and ICE-CONTROLLING, signed with
//     the relay's pwd and fingerprinted; every candidate is checked until
//     one answers, and that one carries everything after (aggressive
//     nomination, as ICE-lite peers are used). Then a check every ~5 s
//     keeps consent (RFC 7675); 30 s without an answer ends the session.
//   DTLS: the client, holding the relay to the answer's fingerprint.
//   SRTP: the relay's packets decrypted for the site, the site's RTCP
//     (NACK, PLI) encrypted for the relay.
// No socket and no clock: the site hands in datagrams and ticks.
#ifndef CASCADE_TOOLS_PROBE_WHEP_TRANSPORT_H_
#define CASCADE_TOOLS_PROBE_WHEP_TRANSPORT_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "media/endpoint.h"
#include "tools/probe/site.h"
#include "tools/probe/whep_sdp.h"
#include "webrtc/dtls/certificate.h"
#include "webrtc/dtls/dtls_transport.h"
#include "webrtc/dtls/srtp_session.h"
#include "webrtc/ice/ice_lite.h"
#include "webrtc/ice/stun.h"

namespace cascade {
namespace probe {

struct WhepTransportOptions {
  // Checks to every candidate this often until one answers.
  absl::Duration check_interval = absl::Milliseconds(50);
  // Then one to the selected address about this often (4-6 s at random).
  absl::Duration consent_interval = absl::Seconds(5);
  // No answer this long after the last one: consent is lost.
  absl::Duration consent_lifetime = absl::Seconds(30);
  // ICE and DTLS done within this of the first check, or the session
  // fails.
  absl::Duration setup_timeout = absl::Seconds(10);
};

enum class WhepState : uint8_t {
  kChecking,     // no check answered yet
  kHandshaking,  // a candidate answered; DTLS under way
  kConnected,    // SRTP keyed: media flows
  kFailed,       // error() says why
  kClosed,       // the site left, or the relay sent close_notify
};

absl::string_view WhepStateName(WhepState state);

struct WhepTransportCounters {
  int64_t checks_sent = 0;
  int64_t check_answers = 0;  // valid success responses
  int64_t check_errors = 0;   // valid error responses
  int64_t stun_dropped = 0;   // unparsable, unsigned, unknown transaction
  int64_t dtls_in = 0;
  int64_t srtp_in = 0;       // RTP and RTCP that decrypted
  int64_t srtp_dropped = 0;  // not SRTP, failed to decrypt, or before keys
  int64_t rtcp_sent = 0;
  int64_t strangers = 0;                   // datagrams from another address
  std::optional<absl::Duration> last_rtt;  // of the newest answered check
};

class WhepTransport : public SiteTransport,
                      private dtls::DtlsTransport::Listener {
 public:
  // `local`: the credentials the offer carried; `certificate`: the one
  // whose fingerprint it carried. Its clock starts at the first OnTick
  // (viewers are all POSTed before the probe's loop runs).
  static absl::StatusOr<std::unique_ptr<WhepTransport>> Create(
      const ice::IceCredentials& local, const WhepAnswer& answer,
      const dtls::Certificate& certificate, WhepTransportOptions options = {});
  ~WhepTransport() override;

  // SiteTransport
  void Bind(Sink* sink) override { sink_ = sink; }
  absl::Span<const uint8_t> Receive(const media::Endpoint& from,
                                    absl::Span<const uint8_t> datagram,
                                    absl::Time now) override;
  bool SendRtcp(absl::Span<const uint8_t> packet) override;
  void OnTick(absl::Time now) override;
  void Close() override;

  WhepState state() const { return state_; }
  const absl::Status& error() const { return error_; }
  // The candidate that answered first.
  const std::optional<media::Endpoint>& selected() const { return selected_; }
  // From the first check to SRTP keyed.
  std::optional<absl::Duration> connected_after() const;
  const WhepTransportCounters& counters() const { return counters_; }

 private:
  struct Pending {
    ice::TransactionId id;
    media::Endpoint to;
    absl::Time sent;
  };

  WhepTransport(const ice::IceCredentials& local, const WhepAnswer& answer,
                WhepTransportOptions options);

  void OnStun(const media::Endpoint& from, absl::Span<const uint8_t> datagram,
              absl::Time now);
  void SendCheck(const media::Endpoint& to, absl::Time now);
  // Moves on from what DTLS says after it ran.
  void AfterDtls(absl::Time now);
  void Fail(absl::Status error);
  absl::Duration ConsentDelay();
  void Send(const media::Endpoint& to, absl::Span<const uint8_t> datagram);

  // dtls::DtlsTransport::Listener
  void OnDtlsSend(absl::Span<const uint8_t> datagram) override;
  void OnDtlsState(dtls::DtlsState, const absl::Status&) override {}

  const WhepTransportOptions options_;
  const ice::IceCredentials local_;
  const WhepAnswer answer_;
  std::optional<absl::Time> started_;  // the first OnTick
  Sink* sink_ = nullptr;
  WhepState state_ = WhepState::kChecking;
  absl::Status error_;
  uint64_t tie_breaker_ = 0;
  std::mt19937_64 rng_;
  std::vector<Pending> pending_;  // checks in flight, oldest first
  absl::Time next_check_ = absl::InfinitePast();
  std::optional<media::Endpoint> selected_;
  absl::Time last_answer_ = absl::InfinitePast();
  std::optional<absl::Time> connected_at_;
  std::unique_ptr<dtls::DtlsTransport> dtls_;
  std::unique_ptr<dtls::SrtpSession> srtp_;
  std::vector<uint8_t> plain_;  // the newest decrypted packet
  std::vector<uint8_t> out_;    // an RTCP packet being encrypted
  WhepTransportCounters counters_;
};

}  // namespace probe
}  // namespace cascade

#endif  // CASCADE_TOOLS_PROBE_WHEP_TRANSPORT_H_
