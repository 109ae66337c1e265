// Hop-by-hop SRTP and SRTCP (RFC 3711) for one WebRTC session through
// libsrtp2, keyed by its DTLS handshake (RFC 5764): our packets go out under
// our DTLS role's write key, the peer's come in under the other. Any SSRC in
// either direction (ssrc_any_outbound / ssrc_any_inbound), no MKI; replay
// protection per SSRC as libsrtp provides it.
//
// Not media/srtp's end-to-end stream key: that one is per program stream,
// with key ids, held by the source and the sites. This one is per session
// and per hop, and lives as long as the DTLS association.
#ifndef CASCADE_WEBRTC_DTLS_SRTP_SESSION_H_
#define CASCADE_WEBRTC_DTLS_SRTP_SESSION_H_

#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "webrtc/dtls/srtp_keys.h"

namespace cascade::dtls {

// Packets behind the newest accepted one that may still arrive, once each.
inline constexpr size_t kDefaultSessionReplayWindow = 1024;

// What became of a packet: one value per drop reason.
enum class SrtpSessionError : uint8_t {
  kOk = 0,
  kNoRoom,      // the buffer cannot take the tag (protect)
  kMalformed,   // not RTP or RTCP, or too short for its tag
  kAuthFailed,  // forged or altered, or under another key
  kReplayed,    // a copy of a packet already accepted or sent
  kTooOld,      // behind the replay window
  kFailed,      // anything else libsrtp reports
};

// Stable snake_case name for counters, e.g. "auth_failed".
absl::string_view SrtpSessionErrorName(SrtpSessionError error);

class SrtpSession {
 public:
  // Loads libsrtp2 (and the NSS modules Debian's build runs on) now, so the
  // first session is not the one to wait for it: some 250 ms of a browser's
  // first connection to a freshly started relay went there.
  static absl::Status Prepare();

  // `keys` from the DTLS transport, `local_role` its role. `replay_window`:
  // 64..32767.
  static absl::StatusOr<std::unique_ptr<SrtpSession>> Create(
      const SrtpKeys& keys, DtlsRole local_role,
      size_t replay_window = kDefaultSessionReplayWindow);
  ~SrtpSession();
  SrtpSession(const SrtpSession&) = delete;
  SrtpSession& operator=(const SrtpSession&) = delete;

  SrtpProfile profile() const { return profile_; }
  // Bytes Protect adds: the tag; for RTCP also the SRTCP index (4 bytes).
  size_t rtp_overhead() const;
  size_t rtcp_overhead() const;

  // Protects the packet of `*size` bytes at the start of `buffer` in place;
  // `buffer` must hold the overhead more. On kOk *size is the new size. A
  // packet may be sent again under its own sequence number (a NACKed one),
  // with the same payload only.
  SrtpSessionError ProtectRtp(absl::Span<uint8_t> buffer, size_t* size);
  SrtpSessionError ProtectRtcp(absl::Span<uint8_t> buffer, size_t* size);

  // Authenticates and decrypts `packet` in place; on kOk *size is the plain
  // packet's size. On an error the bytes are undefined. Any input is safe.
  SrtpSessionError UnprotectRtp(absl::Span<uint8_t> packet, size_t* size);
  SrtpSessionError UnprotectRtcp(absl::Span<uint8_t> packet, size_t* size);

 private:
  class Context;  // one libsrtp session (srtp_session.cc)

  explicit SrtpSession(SrtpProfile profile);

  const SrtpProfile profile_;
  std::unique_ptr<Context> outbound_;
  std::unique_ptr<Context> inbound_;
};

}  // namespace cascade::dtls

#endif  // CASCADE_WEBRTC_DTLS_SRTP_SESSION_H_
