// RTP packets (RFC 3550): a strict parser returning a view into the caller's
// bytes, RFC 8285 header extension elements, and a header writer.
//
// Nothing here allocates; views are only valid while the parsed bytes live.
#ifndef CASCADE_MEDIA_RTP_RTP_H_
#define CASCADE_MEDIA_RTP_RTP_H_

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace cascade::rtp {

inline constexpr size_t kRtpFixedHeaderSize = 12;
inline constexpr size_t kMaxCsrcs = 15;

// Why an RTP packet was rejected: one value per drop reason.
enum class RtpError : uint8_t {
  kOk = 0,
  kTooShort,                // fewer than 12 bytes
  kBadVersion,              // version field is not 2
  kCsrcOverrun,             // CSRC list runs past the end
  kExtensionHeaderOverrun,  // X set but no room for the 4-byte extension header
  kExtensionOverrun,        // extension length runs past the end
  kPaddingZero,             // P set but the padding count byte is 0
  kPaddingOverrun,          // padding count longer than what follows the header
};

// Stable snake_case name for metrics, e.g. "csrc_overrun"; "ok" for kOk.
absl::string_view ErrorName(RtpError error);

// A parsed RTP packet. All spans point into the parsed buffer.
struct RtpView {
  bool marker = false;
  uint8_t payload_type = 0;
  uint16_t sequence_number = 0;
  uint32_t timestamp = 0;
  uint32_t ssrc = 0;
  uint8_t csrc_count = 0;
  bool has_extension = false;
  uint16_t extension_profile = 0;            // "defined by profile" field
  absl::Span<const uint8_t> extension_data;  // without the 4-byte header
  absl::Span<const uint8_t> payload;         // without padding
  uint8_t padding_size = 0;                  // 0 when P is clear
  absl::Span<const uint8_t> packet;          // the whole packet

  // The i-th CSRC, i < csrc_count.
  uint32_t csrc(size_t i) const;
  // Size of everything before the payload.
  size_t header_size() const {
    return static_cast<size_t>(payload.data() - packet.data());
  }
};

// Parses and validates one RTP packet. On kOk fills *out; otherwise *out is
// unspecified. Never reads outside `packet`.
RtpError ParseRtp(absl::Span<const uint8_t> packet, RtpView* out);

// ---- RFC 8285 header extension elements ----

inline constexpr uint16_t kOneByteExtensionProfile = 0xBEDE;
// Two-byte form: 0x100 in the top 12 bits, 4 application bits below.
inline constexpr uint16_t kTwoByteExtensionProfile = 0x1000;
inline constexpr uint16_t kTwoByteExtensionProfileMask = 0xFFF0;

enum class ExtensionError : uint8_t {
  kOk = 0,
  kUnsupportedProfile,  // neither the one-byte nor the two-byte form
  kElementOverrun,      // an element's length runs past the extension data
};

absl::string_view ErrorName(ExtensionError error);

struct ExtensionElement {
  uint8_t id = 0;
  absl::Span<const uint8_t> data;
};

// Iterates the elements of an RFC 8285 extension block, skipping padding
// bytes. In the one-byte form id 15 ends the block (RFC 8285 section 4.2).
//
//   ExtensionReader reader(view);
//   ExtensionElement element;
//   while (reader.Next(&element)) { ... }
//   if (reader.error() != ExtensionError::kOk) { ... }
class ExtensionReader {
 public:
  ExtensionReader(uint16_t profile, absl::Span<const uint8_t> data);
  // Reads the extension of a parsed packet (no elements when it has none).
  explicit ExtensionReader(const RtpView& packet);

  // Fills *element with the next element; false at the end or on error.
  bool Next(ExtensionElement* element);
  ExtensionError error() const { return error_; }

 private:
  bool two_byte_ = false;
  absl::Span<const uint8_t> rest_;
  ExtensionError error_ = ExtensionError::kOk;
};

// Finds the first element with `id` in the packet's extension block. False
// when absent or when the block is malformed before reaching it.
bool FindExtension(const RtpView& packet, uint8_t id,
                   absl::Span<const uint8_t>* data);

// ---- Writer ----

// Fields of an RTP header to write. Version is always 2, padding is never set.
struct RtpHeader {
  bool marker = false;
  uint8_t payload_type = 0;  // 0..127
  uint16_t sequence_number = 0;
  uint32_t timestamp = 0;
  uint32_t ssrc = 0;
  absl::Span<const uint32_t> csrcs;  // at most kMaxCsrcs
  // RFC 8285 extension elements in this order; none: no extension block. The
  // one-byte form is used when every element has an id 1..14 and 1..16 bytes
  // of data, else the two-byte form (ids 1..255, 0..255 bytes). The block is
  // zero-padded to 4 bytes.
  absl::Span<const ExtensionElement> extensions;
};

// Bytes WriteRtpHeader would write, or 0 when the header is invalid.
size_t RtpHeaderSize(const RtpHeader& header);

// Writes the header into out; returns its size, or 0 when it is invalid or
// does not fit.
size_t WriteRtpHeader(const RtpHeader& header, absl::Span<uint8_t> out);

// Writes header + payload; returns the packet size, or 0 when it is invalid
// or does not fit.
size_t WriteRtpPacket(const RtpHeader& header,
                      absl::Span<const uint8_t> payload,
                      absl::Span<uint8_t> out);

}  // namespace cascade::rtp

#endif  // CASCADE_MEDIA_RTP_RTP_H_
