#ifndef CASCADE_TOOLS_MEDIA_STATS_H_
#define CASCADE_TOOLS_MEDIA_STATS_H_

// What a site measures: packet accounting per stream, frame latency
// percentiles and freezes.

#include <bitset>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/time/time.h"

namespace cascade {
namespace media {

// Counts the packets of one stream by extended sequence number. Lost is
// "expected minus distinct received", so a retransmission that fills a gap
// is not a loss: it is the loss after repair.
class SequenceStats {
 public:
  void Add(int64_t ext_seq);

  int64_t received() const { return received_; }
  int64_t duplicates() const { return duplicates_; }
  int64_t out_of_order() const { return out_of_order_; }
  int64_t expected() const {
    return highest_.has_value() ? *highest_ - first_ + 1 : 0;
  }
  int64_t lost() const { return expected() - distinct_; }

 private:
  static constexpr int kWindow = 8192;  // duplicates detected this far back

  std::optional<int64_t> highest_;
  int64_t first_ = 0;
  int64_t received_ = 0;
  int64_t distinct_ = 0;
  int64_t duplicates_ = 0;
  int64_t out_of_order_ = 0;
  std::bitset<kWindow> seen_;  // bit (seq % kWindow) for seqs near highest_
};

// Latency samples with exact percentiles; keeps at most max_samples (the
// first ones) so memory stays bounded on long runs.
class LatencyStats {
 public:
  explicit LatencyStats(size_t max_samples = 1 << 20)
      : max_samples_(max_samples) {}

  void Add(absl::Duration latency);
  // Adds every sample of `other` (for totals over many sites).
  void Merge(const LatencyStats& other);
  size_t count() const { return samples_.size(); }
  // Nearest-rank percentile, q in [0, 1]; zero when there are no samples.
  absl::Duration Percentile(double q) const;
  absl::Duration Max() const { return max_; }

 private:
  size_t max_samples_;
  mutable std::vector<absl::Duration> samples_;
  mutable bool sorted_ = true;
  absl::Duration max_ = absl::ZeroDuration();
};

// A freeze: no new frame shown for more than two frame intervals.
class FreezeDetector {
 public:
  // `frame_interval` is the stream's nominal one (the caller learns it from
  // RTP timestamps or is told); zero disables detection for this frame.
  void OnFrame(absl::Time now, absl::Duration frame_interval);

  const std::vector<absl::Duration>& freezes() const { return freezes_; }
  absl::Duration total_frozen() const;
  absl::Duration longest() const;

 private:
  std::optional<absl::Time> last_frame_;
  std::vector<absl::Duration> freezes_;
};

}  // namespace media
}  // namespace cascade

#endif  // CASCADE_TOOLS_MEDIA_STATS_H_
