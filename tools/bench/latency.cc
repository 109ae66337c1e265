#include "tools/bench/latency.h"

#include <time.h>

#include <algorithm>
#include <cmath>

namespace cascade::bench {

int64_t RealtimeNanos() {
  timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  return static_cast<int64_t>(now.tv_sec) * 1000000000 + now.tv_nsec;
}

void EncodeSendTime(int64_t nanos, absl::Span<char> packet) {
  const uint64_t bits = static_cast<uint64_t>(nanos);
  for (int i = 0; i < 8; ++i) {
    packet[kSendTimeOffset + i] = static_cast<char>(bits >> (56 - 8 * i));
  }
}

std::optional<int64_t> DecodeSendTime(absl::Span<const char> packet) {
  if (packet.size() < kTimedHeaderBytes) return std::nullopt;
  // Version 2, no padding, no extension, no CSRCs.
  if (static_cast<unsigned char>(packet[0]) != 0x80) return std::nullopt;
  uint64_t bits = 0;
  for (int i = 0; i < 8; ++i) {
    bits = bits << 8 | static_cast<unsigned char>(packet[kSendTimeOffset + i]);
  }
  return static_cast<int64_t>(bits);
}

LatencySummary Summarize(std::vector<int64_t>& delays_ns) {
  LatencySummary summary;
  summary.samples = delays_ns.size();
  if (delays_ns.empty()) return summary;
  // Nearest rank: the smallest value with at least p of the samples at or
  // below it.
  auto at = [&](double p) {
    const size_t rank = static_cast<size_t>(
        std::ceil(p * static_cast<double>(delays_ns.size())));
    const size_t index = std::clamp<size_t>(rank, 1, delays_ns.size()) - 1;
    std::nth_element(delays_ns.begin(), delays_ns.begin() + index,
                     delays_ns.end());
    return delays_ns[index];
  };
  summary.p50_ns = at(0.50);
  summary.p99_ns = at(0.99);
  summary.max_ns = *std::max_element(delays_ns.begin(), delays_ns.end());
  return summary;
}

}  // namespace cascade::bench
