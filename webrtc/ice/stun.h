// STUN messages (RFC 8489, which obsoletes RFC 5389) as ICE uses them: a
// strict parser returning a view into the caller's bytes, the integrity and
// fingerprint checks, and a builder.
//
// Parsing does not allocate; views are only valid while the parsed bytes live.
#ifndef CASCADE_WEBRTC_ICE_STUN_H_
#define CASCADE_WEBRTC_ICE_STUN_H_

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace cascade::ice {

inline constexpr size_t kStunHeaderSize = 20;
inline constexpr uint32_t kMagicCookie = 0x2112A442;
inline constexpr uint32_t kFingerprintXor = 0x5354554E;
inline constexpr size_t kHmacSha1Size = 20;
// Longest USERNAME value accepted (RFC 5389: fewer than 513 bytes).
inline constexpr size_t kMaxUsernameSize = 512;
// Longest ERROR-CODE reason phrase (RFC 8489: fewer than 764 bytes).
inline constexpr size_t kMaxReasonSize = 763;
// Unknown comprehension-required attribute types kept for a 420 answer; more
// are counted but not listed.
inline constexpr size_t kMaxUnknownAttributes = 8;

inline constexpr uint16_t kBindingMethod = 0x001;

// Attribute types (RFC 8489 section 18.3, RFC 8445 section 16.1).
enum StunAttribute : uint16_t {
  kAttrUsername = 0x0006,
  kAttrMessageIntegrity = 0x0008,
  kAttrErrorCode = 0x0009,
  kAttrUnknownAttributes = 0x000A,
  kAttrXorMappedAddress = 0x0020,
  kAttrPriority = 0x0024,
  kAttrUseCandidate = 0x0025,
  kAttrSoftware = 0x8022,
  kAttrFingerprint = 0x8028,
  kAttrIceControlled = 0x8029,
  kAttrIceControlling = 0x802A,
};

// Types 0x0000-0x7FFF must be understood by the receiver (RFC 8489 14).
inline bool IsComprehensionRequired(uint16_t type) { return type < 0x8000; }

enum class StunClass : uint8_t {
  kRequest = 0,
  kIndication = 1,
  kSuccess = 2,
  kError = 3,
};

// The 14-bit message type of `method` in `cls` (the class bits C0 and C1 sit
// between the method bits, RFC 8489 section 5).
uint16_t MessageType(uint16_t method, StunClass cls);

// An IPv4 or IPv6 UDP address, small enough to copy on the hot path.
struct TransportAddress {
  enum class Family : uint8_t { kIpv4 = 1, kIpv6 = 2 };  // STUN's numbers
  Family family = Family::kIpv4;
  std::array<uint8_t, 16> ip{};  // network byte order; IPv4 uses 4 bytes
  uint16_t port = 0;

  // `ip` in host byte order, as media::Endpoint holds it.
  static TransportAddress V4(uint32_t ip, uint16_t port);
  static TransportAddress V6(const std::array<uint8_t, 16>& ip, uint16_t port);
  size_t ip_size() const { return family == Family::kIpv4 ? 4 : 16; }
  // "1.2.3.4:5" or "[2001:db8::1]:5".
  std::string ToString() const;

  bool operator==(const TransportAddress& o) const {
    return family == o.family && port == o.port && ip == o.ip;
  }
  bool operator!=(const TransportAddress& o) const { return !(*this == o); }
};

using TransactionId = std::array<uint8_t, 12>;

// Why a datagram is not a well-formed STUN message: one value per drop reason.
enum class StunError : uint8_t {
  kOk = 0,
  kTooShort,           // fewer than 20 bytes
  kNotStun,            // one of the two top bits is set
  kBadMagicCookie,     // not 0x2112A442
  kBadLength,          // length not a multiple of 4, or not the datagram's
  kAttributeOverrun,   // an attribute (with its padding) runs past the end
  kBadAttributeValue,  // a known attribute with a malformed value
  kAfterFingerprint,   // FINGERPRINT is not the last attribute
  kCount,              // not an error: the number of values
};

// Stable snake_case name for metrics, e.g. "bad_length"; "ok" for kOk.
absl::string_view ErrorName(StunError error);

struct StunErrorCode {
  uint16_t code = 0;  // 300..699
  absl::string_view reason;
};

// A parsed STUN message. All views point into the parsed buffer. Of repeated
// attributes the first counts (RFC 8489 14); attributes after
// MESSAGE-INTEGRITY other than FINGERPRINT are ignored (RFC 8489 9).
struct StunMessage {
  absl::Span<const uint8_t> bytes;  // the whole message
  uint16_t method = 0;
  StunClass cls = StunClass::kRequest;
  TransactionId transaction_id{};

  std::optional<absl::string_view> username;
  // Offsets of the attribute headers within `bytes`, 0 when absent.
  size_t integrity_offset = 0;
  size_t fingerprint_offset = 0;
  std::optional<TransportAddress> xor_mapped_address;
  std::optional<uint32_t> priority;
  bool use_candidate = false;
  std::optional<uint64_t> ice_controlling;
  std::optional<uint64_t> ice_controlled;
  std::optional<StunErrorCode> error_code;

  // Comprehension-required types this parser does not know, in order; the
  // first kMaxUnknownAttributes are listed, unknown_count counts them all.
  std::array<uint16_t, kMaxUnknownAttributes> unknown{};
  size_t unknown_count = 0;

  bool has_integrity() const { return integrity_offset != 0; }
  bool has_fingerprint() const { return fingerprint_offset != 0; }
  absl::Span<const uint16_t> unknown_listed() const {
    return absl::MakeConstSpan(unknown.data(),
                               std::min(unknown_count, unknown.size()));
  }
};

// Parses one STUN message that fills the whole datagram. On kOk fills *out;
// otherwise *out is unspecified. Never reads outside `datagram`. Checks the
// form only: FINGERPRINT and MESSAGE-INTEGRITY are verified by the functions
// below.
StunError ParseStun(absl::Span<const uint8_t> datagram, StunMessage* out);

// True when the message carries a FINGERPRINT and it matches (CRC-32 of
// everything before it, XOR 0x5354554E).
bool FingerprintValid(const StunMessage& message);

// True when the message carries a MESSAGE-INTEGRITY that is the HMAC-SHA1,
// under `key` (the short-term password), of everything before it with the
// header's length counting up to the end of MESSAGE-INTEGRITY.
bool IntegrityValid(const StunMessage& message, absl::string_view key);

// Writes a STUN message into a caller's buffer, attribute by attribute. Once
// an attribute does not fit the builder fails and Finish() returns 0.
class StunBuilder {
 public:
  StunBuilder(absl::Span<uint8_t> out, uint16_t method, StunClass cls,
              const TransactionId& transaction_id);

  void AddUsername(absl::string_view username);
  void AddXorMappedAddress(const TransportAddress& address);
  void AddPriority(uint32_t priority);
  void AddUseCandidate();
  void AddIceControlling(uint64_t tie_breaker);
  void AddIceControlled(uint64_t tie_breaker);
  // `code` 300..699; reason is cut to kMaxReasonSize.
  void AddErrorCode(uint16_t code, absl::string_view reason);
  void AddUnknownAttributes(absl::Span<const uint16_t> types);
  // Any other attribute, for tests and fuzz seeds.
  void AddRaw(uint16_t type, absl::Span<const uint8_t> value);
  // HMAC-SHA1 under `key` of the message so far; add after the others.
  void AddMessageIntegrity(absl::string_view key);
  // Must come last.
  void AddFingerprint();

  bool ok() const { return ok_; }
  // The message's size, or 0 when something did not fit.
  size_t Finish() const { return ok_ ? size_ : 0; }

 private:
  // Writes the attribute header, zeroes the padding, returns the value's
  // start or nullptr when it does not fit.
  uint8_t* Attribute(uint16_t type, size_t length);
  void SetLength(size_t message_size);

  absl::Span<uint8_t> out_;
  TransactionId transaction_id_;
  size_t size_ = 0;
  bool ok_ = true;
};

// A Binding success response: XOR-MAPPED-ADDRESS, MESSAGE-INTEGRITY under
// `key`, FINGERPRINT. Returns its size, 0 when `out` is too small.
size_t BuildBindingSuccess(const TransactionId& transaction_id,
                           const TransportAddress& mapped,
                           absl::string_view key, absl::Span<uint8_t> out);

// A Binding error response: ERROR-CODE, UNKNOWN-ATTRIBUTES when `unknown` is
// not empty, MESSAGE-INTEGRITY when `key` is not empty, FINGERPRINT.
size_t BuildBindingError(const TransactionId& transaction_id, uint16_t code,
                         absl::string_view reason,
                         absl::Span<const uint16_t> unknown,
                         absl::string_view key, absl::Span<uint8_t> out);

}  // namespace cascade::ice

#endif  // CASCADE_WEBRTC_ICE_STUN_H_
