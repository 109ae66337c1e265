// Per-hop latency: a send time (CLOCK_REALTIME ns) carried in each packet's
// payload, compared on the same machine with the kernel's receive timestamp
// of the packet (SO_TIMESTAMPNS, the same clock), so the receiving thread's
// own scheduling is not part of the figure; and the percentiles of the
// resulting one-way delays.
#ifndef CASCADE_TOOLS_BENCH_LATENCY_H_
#define CASCADE_TOOLS_BENCH_LATENCY_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/types/span.h"

namespace cascade::bench {

// The send time sits right after the fixed 12-byte RTP header, big-endian.
constexpr size_t kSendTimeOffset = 12;
constexpr size_t kTimedHeaderBytes = kSendTimeOffset + 8;

// The clock of send times and of the kernel's receive timestamps.
int64_t RealtimeNanos();

// Writes `nanos` into packet[kSendTimeOffset, kTimedHeaderBytes); the packet
// must be at least kTimedHeaderBytes long.
void EncodeSendTime(int64_t nanos, absl::Span<char> packet);
// The send time of an RTP packet from the blaster, or nullopt when the packet
// is too short or its header is not the fixed 12 bytes (CSRCs or an
// extension would move the payload).
std::optional<int64_t> DecodeSendTime(absl::Span<const char> packet);

struct LatencySummary {
  uint64_t samples = 0;
  int64_t p50_ns = 0;
  int64_t p99_ns = 0;
  int64_t max_ns = 0;
};

// Nearest-rank percentiles of `delays_ns` (reordered in place); all zero when
// empty.
LatencySummary Summarize(std::vector<int64_t>& delays_ns);

}  // namespace cascade::bench

#endif  // CASCADE_TOOLS_BENCH_LATENCY_H_
