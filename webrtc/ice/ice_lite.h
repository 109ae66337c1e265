// The ICE-lite responder of one WebRTC session (RFC 8445 sections 2.5 and
// 7.3, RFC 7675 consent freshness): it answers the browser's connectivity
// checks, learns which of the browser's addresses passed one, which the
// browser nominated, and whether consent is still fresh.
//
// It owns no socket and reads no clock: the socket owner hands it each STUN
// datagram with its source address and the time, and sends what it returns.
// Media may go only to selected(), and only while !ConsentExpired(now).
// Not thread-safe: the loop that owns the socket owns it.
#ifndef CASCADE_WEBRTC_ICE_ICE_LITE_H_
#define CASCADE_WEBRTC_ICE_ICE_LITE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "webrtc/ice/stun.h"

namespace cascade::ice {

// An ice-ufrag / ice-pwd pair (RFC 8839 section 5.4).
struct IceCredentials {
  std::string ufrag;
  std::string pwd;
};

// Sizes of the credentials this agent makes: RFC 8839 section 5.4 asks for
// at least 24 random bits in the ufrag and 128 in the password; an ice-char
// carries 6.
inline constexpr size_t kLocalUfragSize = 8;
inline constexpr size_t kLocalPwdSize = 24;

// Fresh local credentials from OpenSSL's RAND_bytes.
absl::StatusOr<IceCredentials> RandomIceCredentials();

// RFC 8839: a ufrag is 4..256 ice-chars (ALPHA / DIGIT / "+" / "/"), a
// password 22..256.
absl::Status ValidateUfrag(absl::string_view ufrag);
absl::Status ValidatePwd(absl::string_view pwd);

// For a socket owner serving several sessions on one port: the local ufrag
// a Binding request is addressed to (its USERNAME up to the colon), which
// picks the session whose OnStun gets it. Nothing for anything else. A view
// into `datagram`; nothing is verified yet.
std::optional<absl::string_view> RecipientUfrag(
    absl::Span<const uint8_t> datagram);

// What became of one datagram: one value per answer or drop reason.
enum class IceOutcome : uint8_t {
  kAnswered = 0,        // a valid check: success response
  kNotStun,             // not a well-formed STUN message (see parse_errors)
  kNotBinding,          // another method: dropped
  kIndication,          // a Binding indication (keepalive): nothing to answer
  kUnexpectedClass,     // a response: this agent sends no requests
  kNoFingerprint,       // FINGERPRINT missing (ICE requires it): dropped
  kBadFingerprint,      // FINGERPRINT wrong: dropped (RFC 8489 7.3)
  kMissingCredentials,  // no USERNAME or MESSAGE-INTEGRITY: 400
  kWrongUsername,       // USERNAME is not "localufrag:remoteufrag": 401
  kBadIntegrity,        // MESSAGE-INTEGRITY fails under the local pwd: 401
  kUnknownAttributes,   // unknown comprehension-required attributes: 420
  kRoleConflict,        // the peer claims the controlled role too: 487
  kCount,               // not an outcome: the number of values
};

// Stable snake_case name for metrics, e.g. "wrong_username".
absl::string_view OutcomeName(IceOutcome outcome);

// What the relay exports to /metrics, one counter per reason.
struct IceLiteCounters {
  std::array<uint64_t, static_cast<size_t>(IceOutcome::kCount)> outcomes{};
  // By StunError, for kNotStun.
  std::array<uint64_t, static_cast<size_t>(StunError::kCount)> parse_errors{};
  uint64_t error_responses = 0;  // error responses returned to send
  // Replies not sent: error responses larger than their request (no
  // amplification toward an unchecked address), or an `out` too small.
  uint64_t replies_suppressed = 0;
  uint64_t addresses_validated = 0;  // addresses that passed a first check
  uint64_t addresses_evicted = 0;    // forgotten for a newer one (table full)
  uint64_t nominations = 0;          // valid checks with USE-CANDIDATE
  uint64_t selection_changes = 0;    // selected() moved to another address
};

class IceLite {
 public:
  struct Options {
    IceCredentials local;      // sent in the SDP answer
    std::string remote_ufrag;  // from the browser's SDP offer
    // RFC 7675: consent expires 30 s after the last valid check.
    absl::Duration consent_lifetime = absl::Seconds(30);
  };

  // Addresses remembered as validated (a browser checks from a few
  // candidates; the least recently checked unselected one makes room).
  static constexpr size_t kMaxAddresses = 8;
  // Room OnStun needs in `out` for any reply.
  static constexpr size_t kMaxReplySize = 128;

  // Refuses credentials that are not ice-chars of the RFC's lengths.
  static absl::StatusOr<IceLite> Create(Options options);

  struct Reply {
    IceOutcome outcome = IceOutcome::kNotStun;
    size_t size = 0;  // bytes of `out` to send back to `from`; 0: nothing
  };

  // Handles one datagram that Classify() called STUN, received from `from`
  // at `now`. The reply is written to `out` (kMaxReplySize bytes, not
  // overlapping `datagram`). Only a valid check gets a success response and
  // validates `from`; an invalid request gets at most an error response no
  // larger than itself, and changes no state.
  Reply OnStun(absl::Span<const uint8_t> datagram, const TransportAddress& from,
               absl::Time now, absl::Span<uint8_t> out);

  // Where media goes: the address of the latest nominated check (USE-
  // CANDIDATE), or else the first address that passed a check.
  std::optional<TransportAddress> selected() const;
  // Whether `address` passed a check.
  bool IsValidated(const TransportAddress& address) const;
  // The time of the last valid check from selected(); nothing before one.
  std::optional<absl::Time> last_consent() const;
  // True with no selected address, or once consent_lifetime has passed since
  // its last valid check. Then the owner stops sending media (RFC 7675 5.1).
  bool ConsentExpired(absl::Time now) const;

  const IceCredentials& local() const { return options_.local; }
  const IceLiteCounters& counters() const { return counters_; }

 private:
  struct Peer {
    TransportAddress address;
    absl::Time last_check;
  };

  explicit IceLite(Options options);
  Reply Error(IceOutcome outcome, const StunMessage& request, uint16_t code,
              absl::string_view reason, bool authenticated,
              absl::Span<uint8_t> out);
  // Records a valid check from `from`; returns its index in peers_.
  size_t Validate(const TransportAddress& from, absl::Time now);

  Options options_;
  std::string expected_username_;  // "localufrag:remoteufrag"
  std::vector<Peer> peers_;
  std::optional<size_t> selected_;
  IceLiteCounters counters_;
};

}  // namespace cascade::ice

#endif  // CASCADE_WEBRTC_ICE_ICE_LITE_H_
