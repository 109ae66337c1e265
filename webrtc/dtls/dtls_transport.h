// One DTLS 1.2 endpoint of a WebRTC session (RFC 5763, RFC 5764), through
// OpenSSL, without sockets: datagrams come in through Feed and go out
// through the listener, and the owner's timer drives retransmission. The
// peer's certificate is accepted only if its digest is the fingerprint from
// the peer's SDP (self-signed is the norm; the fingerprint is the check).
// Once connected, srtp_keys() holds the negotiated profile and the keys
// exported for SRTP (RFC 5764 section 4.2). Application data (a data
// channel's SCTP) is not supported: it is counted and dropped.
//
// Not thread-safe: one owner thread calls everything, and the listener is
// called on it, never from within another listener call. The listener may
// not call back into this transport nor destroy it.
#ifndef CASCADE_WEBRTC_DTLS_DTLS_TRANSPORT_H_
#define CASCADE_WEBRTC_DTLS_DTLS_TRANSPORT_H_

#include <openssl/ssl.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "webrtc/dtls/certificate.h"
#include "webrtc/dtls/openssl.h"
#include "webrtc/dtls/srtp_keys.h"

namespace cascade::dtls {

// The largest datagram read: a UDP payload within an Ethernet frame
// (1500 - 20 IPv4 - 8 UDP).
inline constexpr size_t kMaxDatagramSize = 1472;

enum class DtlsState : uint8_t {
  kNew,          // Start not called yet
  kHandshaking,  // flights under way
  kConnected,    // keys ready
  kFailed,       // error() says why; nothing more is read or sent
  kClosed,       // close_notify sent or received
};

absl::string_view StateName(DtlsState state);

// What became of an incoming datagram: one value per drop reason.
enum class DtlsInput : uint8_t {
  kAccepted = 0,  // handed to OpenSSL (which ignores records it cannot
                  // authenticate, as DTLS does)
  kNotDtls,       // first byte outside 20..63 (RFC 7983 demultiplexing)
  kOversize,      // over kMaxDatagramSize
  kMalformed,     // not a run of whole DTLS 1.x records
  kNotOpen,       // not started (a client), failed or closed
};

struct DtlsCounters {
  uint64_t accepted = 0;
  uint64_t not_dtls = 0;
  uint64_t oversize = 0;
  uint64_t malformed = 0;
  uint64_t not_open = 0;
  uint64_t app_data_dropped = 0;  // application data records once connected
  uint64_t datagrams_out = 0;
  uint64_t retransmissions = 0;  // expired timers that resent a flight
};

struct DtlsOptions {
  DtlsRole role = DtlsRole::kServer;
  // The peer's a=fingerprint (ParseFingerprint).
  Fingerprint remote_fingerprint;
  // Offered (client) or chosen from (server) in this order of preference.
  std::vector<SrtpProfile> profiles = {SrtpProfile::kAeadAes128Gcm,
                                       SrtpProfile::kAes128CmSha1_80};
  // No datagram sent is larger (576..kMaxDatagramSize).
  size_t mtu = 1200;
  // A flight unanswered this long is sent again, then after twice as long,
  // up to max_retransmit. At least 20 ms: OpenSSL counts a timer with less
  // than 15 ms left as expired, and resends on every datagram read then.
  absl::Duration initial_retransmit = absl::Milliseconds(100);
  absl::Duration max_retransmit = absl::Seconds(2);
  // Start to connected, or the handshake fails.
  absl::Duration handshake_timeout = absl::Seconds(10);
  // A server answers a ClientHello first with a HelloVerifyRequest (a
  // cookie, smaller than the hello) and sends its certificate flight only to
  // a client that echoes it: no answer larger than the request goes to an
  // address that did not prove it receives. One round trip more.
  bool require_cookie = true;
};

class DtlsTransport {
 public:
  class Listener {
   public:
    virtual ~Listener() = default;
    // A datagram for the peer (the span lives through the call).
    virtual void OnDtlsSend(absl::Span<const uint8_t> datagram) = 0;
    // The state changed; `error` says why when it is kFailed.
    virtual void OnDtlsState(DtlsState state, const absl::Status& error) = 0;
  };

  // `certificate` is ours (OpenSSL keeps its own references to it).
  static absl::StatusOr<std::unique_ptr<DtlsTransport>> Create(
      const Certificate& certificate, const DtlsOptions& options,
      Listener* listener);
  ~DtlsTransport();
  DtlsTransport(const DtlsTransport&) = delete;
  DtlsTransport& operator=(const DtlsTransport&) = delete;

  // Starts the handshake clock; a client sends its ClientHello. A server
  // also starts on its first datagram.
  void Start(absl::Time now);
  // One datagram from the peer (any bytes are safe).
  DtlsInput Feed(absl::Span<const uint8_t> datagram, absl::Time now);
  // Call at NextTimeout(): resends a flight whose timer expired, fails a
  // handshake past its deadline.
  void OnTimer(absl::Time now);
  // When OnTimer is due next (InfiniteFuture when nothing is pending).
  // OpenSSL times retransmission on the system clock; `now` only places
  // that time on the caller's.
  absl::Time NextTimeout(absl::Time now) const;
  // Sends close_notify if connected; reads nothing more.
  void Close();

  DtlsState state() const { return state_; }
  const absl::Status& error() const { return error_; }
  DtlsRole role() const { return options_.role; }
  // Set once connected.
  const std::optional<SrtpKeys>& srtp_keys() const { return srtp_keys_; }
  const DtlsCounters& counters() const { return counters_; }

 private:
  using SslPtr = OpenSslPtr<SSL, SSL_free>;

  DtlsTransport(const DtlsOptions& options, Listener* listener);

  // The context Certificate::DtlsContext shares; null on failure.
  static SSL_CTX* NewContext(const Certificate& certificate);
  absl::Status Init(const Certificate& certificate);
  // Runs OpenSSL on what the read BIO holds.
  void Drive();
  void ReadApplicationData();
  void FinishHandshake();
  void Fail(absl::Status error);
  // Hands queued datagrams and a state change to the listener.
  void Deliver();

  static int VerifyPeer(X509_STORE_CTX* store, void* arg);
  static int MakeCookie(SSL* ssl, unsigned char* cookie, unsigned int* size);
  static int CheckCookie(SSL* ssl, const unsigned char* cookie,
                         unsigned int size);
  static unsigned int NextRetransmit(SSL* ssl, unsigned int previous_us);
  static int WriteDatagram(BIO* bio, const char* data, int size);

  const DtlsOptions options_;
  Listener* const listener_;
  SslPtr ssl_;
  BIO* read_bio_ = nullptr;  // owned by ssl_
  DtlsState state_ = DtlsState::kNew;
  DtlsState delivered_state_ = DtlsState::kNew;
  absl::Status error_;
  // Why VerifyPeer refused, reported instead of OpenSSL's generic error.
  absl::Status verify_error_;
  absl::Time deadline_ = absl::InfiniteFuture();
  // Random per transport: a transport serves one peer address.
  std::array<uint8_t, 16> cookie_{};
  std::optional<SrtpKeys> srtp_keys_;
  std::vector<std::vector<uint8_t>> outbox_;
  DtlsCounters counters_;
};

}  // namespace cascade::dtls

#endif  // CASCADE_WEBRTC_DTLS_DTLS_TRANSPORT_H_
