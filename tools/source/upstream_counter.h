#ifndef CASCADE_TOOLS_SOURCE_UPSTREAM_COUNTER_H_
#define CASCADE_TOOLS_SOURCE_UPSTREAM_COUNTER_H_

// What the command center receives back: the sites' upstream streams the
// root relay forwards to it (selected with Admin SelectUpstream). Counts RTP
// per SSRC, the first arrival, and latency from the send time in the header
// extension (sender and center share one clock on a test machine).

#include <cstdint>
#include <map>
#include <optional>

#include "absl/time/time.h"
#include "absl/types/span.h"
#include "tools/media/stats.h"

namespace cascade {
namespace source {

class UpstreamCounter {
 public:
  // More SSRCs than this coming back is junk, not a selection.
  static constexpr size_t kMaxStreams = 64;

  struct Stream {
    int64_t packets = 0;
    int64_t bytes = 0;
    absl::Time first_arrival;
    // Packets without a readable send time (no latency sample).
    int64_t without_send_time = 0;
    media::LatencyStats latency{1 << 16};
  };

  enum class Result { kCounted, kMalformed, kTooManyStreams };

  // `data` is a datagram the demultiplexer classified as RTP.
  Result OnRtp(absl::Span<const uint8_t> data, absl::Time arrival);

  // By SSRC, in order.
  const std::map<uint32_t, Stream>& streams() const { return streams_; }

 private:
  std::map<uint32_t, Stream> streams_;
};

}  // namespace source
}  // namespace cascade

#endif  // CASCADE_TOOLS_SOURCE_UPSTREAM_COUNTER_H_
