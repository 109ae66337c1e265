#include "tools/media/send_time.h"

namespace cascade {
namespace media {
namespace {

// Seconds from 1900-01-01 (NTP era 0) to the Unix epoch.
constexpr int64_t kNtpUnixOffset = 2208988800;

}  // namespace

uint64_t ToNtp(absl::Time time) {
  const int64_t ns = absl::ToUnixNanos(time);
  const int64_t seconds = ns / 1000000000 + kNtpUnixOffset;
  const uint64_t fraction =
      (static_cast<uint64_t>(ns % 1000000000) << 32) / 1000000000;
  return (static_cast<uint64_t>(seconds) << 32) | fraction;
}

absl::Time FromNtp(uint64_t ntp) {
  const int64_t seconds = static_cast<int64_t>(ntp >> 32) - kNtpUnixOffset;
  const int64_t ns =
      static_cast<int64_t>(((ntp & 0xffffffff) * 1000000000) >> 32);
  return absl::FromUnixSeconds(seconds) + absl::Nanoseconds(ns);
}

std::array<uint8_t, 8> EncodeSendTime(absl::Time time) {
  const uint64_t ntp = ToNtp(time);
  std::array<uint8_t, 8> bytes;
  for (int i = 0; i < 8; ++i) {
    bytes[i] = static_cast<uint8_t>(ntp >> (56 - 8 * i));
  }
  return bytes;
}

std::optional<absl::Time> DecodeSendTime(absl::Span<const uint8_t> element) {
  if (element.size() < 8) return std::nullopt;
  uint64_t ntp = 0;
  for (int i = 0; i < 8; ++i) ntp = (ntp << 8) | element[i];
  return FromNtp(ntp);
}

}  // namespace media
}  // namespace cascade
