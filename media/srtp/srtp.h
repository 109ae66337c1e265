// One direction of one RTP stream under SRTP (RFC 3711) with
// AEAD_AES_128_GCM and a 16-byte tag (RFC 7714), through Debian's libsrtp2.
//
// What is encrypted: the RTP payload (the H.264 or Opus data). What is not:
// the RTP header and its extensions (sequence number, timestamp, SSRC, send
// time, frame marking, the rollover counter below), which the tag
// authenticates, so a relay without the key reads them, forwards the packet
// unchanged and finds keyframes, and no one can alter them unnoticed. RTCP is
// not handled here: it stays plain (relays read and write it).
//
// Every packet carries the id of its key (the MKI), so a receiver holding the
// old and the new key loses nothing while the sender switches.
//
// Every packet also carries its rollover counter (ROC: how many times the
// 16-bit sequence number wrapped, which with it makes the packet index the
// GCM nonce is built from) in a project header extension, id kRocExtensionId,
// 4 bytes big-endian. SRTP keeps the ROC implicit, which a site that joins a
// running stream (or comes back after a long outage) cannot guess; it takes
// the counter from the packet, authenticated by the tag like the rest of the
// header. So the sender can start its counter anywhere: relay-source starts
// it at random, so a restarted source with the same SSRC and key does not
// reuse a nonce.
#ifndef CASCADE_MEDIA_SRTP_SRTP_H_
#define CASCADE_MEDIA_SRTP_SRTP_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "media/rtp/seq.h"
#include "media/srtp/keys.h"

namespace cascade::srtp {

// The rollover counter's header extension (docs/relayd.md lists the ids).
inline constexpr uint8_t kRocExtensionId = 3;
inline constexpr size_t kRocExtensionSize = 4;
inline constexpr char kRocExtensionUri[] = "urn:cascade:srtp-roc";
inline constexpr size_t kTagSize = 16;
// Packets behind the newest accepted one that may still arrive, once each:
// a relay's retransmission ring holds 4096 packets.
inline constexpr size_t kDefaultReplayWindow = 4096;

// Why a packet was not accepted: one value per drop reason.
enum class SrtpError : uint8_t {
  kOk = 0,
  kMalformed,     // not RTP, or too short for the key id and tag
  kWrongSsrc,     // another stream's packet
  kUnknownKeyId,  // the key id (MKI) of no key held
  kAuthFailed,    // forged or altered, or another key under a known id
  kReplayed,      // a copy of a packet already accepted
  kTooOld,        // behind the replay window
  kFailed,        // anything else libsrtp reports
};

// Stable snake_case name for counters, e.g. "auth_failed".
absl::string_view ErrorName(SrtpError error);

// A libsrtp session holding one stream and its keys (srtp.cc).
class Session;

class SrtpSender {
 public:
  // `initial_roc` (below 2^31): the first packet's rollover counter.
  static absl::StatusOr<std::unique_ptr<SrtpSender>> Create(
      uint32_t ssrc, const StreamKey& key, uint32_t initial_roc);
  ~SrtpSender();
  SrtpSender(const SrtpSender&) = delete;
  SrtpSender& operator=(const SrtpSender&) = delete;

  // What Protect appends to every packet: the tag, then the key id (RFC 7714
  // puts the MKI last).
  size_t overhead() const { return key_id_.size() + kTagSize; }
  const std::vector<uint8_t>& key_id() const { return key_id_; }

  // Protects the RTP packet of `size` bytes at the start of `buffer` in place
  // (encrypts the payload, appends tag and key id) and returns its new size;
  // `buffer` holds overhead() bytes more. Packets
  // go in sequence order, each number once (a retransmission resends the
  // protected bytes). The rollover counter element, when the packet has one
  // (4 bytes, kRocExtensionId), is filled in first.
  absl::StatusOr<size_t> Protect(absl::Span<uint8_t> buffer, size_t size);

  // The next packets go out under `key` (a rotation); the stream's packet
  // index runs on.
  absl::Status SetKey(const StreamKey& key);

 private:
  SrtpSender(uint32_t ssrc, uint32_t initial_roc);

  const uint32_t ssrc_;
  const uint32_t initial_roc_;
  std::unique_ptr<Session> session_;
  std::vector<uint8_t> key_id_;
  // No packet went out under this session yet: the next one sets its ROC.
  bool fresh_session_ = true;
  rtp::SeqUnwrapper unwrapper_;
};

class SrtpReceiver {
 public:
  // Holds every key of `keys` (CheckKeys) at once. `window`: 64..32767.
  static absl::StatusOr<std::unique_ptr<SrtpReceiver>> Create(
      uint32_t ssrc, absl::Span<const StreamKey> keys,
      size_t window = kDefaultReplayWindow);
  ~SrtpReceiver();
  SrtpReceiver(const SrtpReceiver&) = delete;
  SrtpReceiver& operator=(const SrtpReceiver&) = delete;

  // Holds exactly `keys` (CheckKeys) from the next packet on: a key
  // rotation's new key added, an old one dropped. The stream's packet index
  // runs on; libsrtp forgets which recent packets it accepted, so a copy of
  // one may be accepted once more (a site counts it as a duplicate). Keys
  // that CheckKeys refuses leave the ones held as they were.
  absl::Status SetKeys(absl::Span<const StreamKey> keys);

  // Authenticates and decrypts `packet` into `out` (at least packet.size()
  // bytes); on kOk, *size is the plain RTP packet's size. Any input is safe;
  // nothing is accepted twice.
  SrtpError Unprotect(absl::Span<const uint8_t> packet, absl::Span<uint8_t> out,
                      size_t* size);

 private:
  explicit SrtpReceiver(uint32_t ssrc);

  const uint32_t ssrc_;
  std::unique_ptr<Session> session_;
  // A packet was accepted: libsrtp follows the counter from there.
  bool established_ = false;
};

}  // namespace cascade::srtp

#endif  // CASCADE_MEDIA_SRTP_SRTP_H_
