#ifndef CASCADE_TOOLS_MEDIA_SEND_TIME_H_
#define CASCADE_TOOLS_MEDIA_SEND_TIME_H_

// The per-frame send time carried in the RTP header extension
// (kSendTimeExtensionId, sdp.h): wall-clock time as a 64-bit NTP timestamp,
// seconds since 1900 in the high 32 bits and the fraction in the low 32.

#include <array>
#include <cstdint>
#include <optional>

#include "absl/time/time.h"
#include "absl/types/span.h"

namespace cascade {
namespace media {

uint64_t ToNtp(absl::Time time);
absl::Time FromNtp(uint64_t ntp);

std::array<uint8_t, 8> EncodeSendTime(absl::Time time);
// nullopt unless the element holds at least 8 bytes (abs-capture-time may
// carry 16: the clock offset after the timestamp, ignored here).
std::optional<absl::Time> DecodeSendTime(absl::Span<const uint8_t> element);

}  // namespace media
}  // namespace cascade

#endif  // CASCADE_TOOLS_MEDIA_SEND_TIME_H_
