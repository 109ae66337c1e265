#include "tools/media/stats.h"

#include <algorithm>
#include <cmath>

namespace cascade {
namespace media {

void SequenceStats::Add(int64_t ext_seq) {
  ++received_;
  if (!highest_.has_value()) {
    highest_ = first_ = ext_seq;
    seen_.set(static_cast<size_t>(ext_seq % kWindow));
    ++distinct_;
    return;
  }
  if (ext_seq > *highest_) {
    // Clear the bits the window slides over (bounded by the window size).
    const int64_t clear_to = std::min(ext_seq, *highest_ + kWindow);
    for (int64_t seq = *highest_ + 1; seq <= clear_to; ++seq) {
      seen_.reset(static_cast<size_t>(seq % kWindow));
    }
    highest_ = ext_seq;
    seen_.set(static_cast<size_t>(ext_seq % kWindow));
    ++distinct_;
    return;
  }
  if (ext_seq <= *highest_ - kWindow || ext_seq < first_) {
    // Too old to tell apart; a packet from before the first one widens the
    // expected range.
    ++out_of_order_;
    if (ext_seq < first_) {
      first_ = ext_seq;
      ++distinct_;
    }
    return;
  }
  const size_t bit = static_cast<size_t>(ext_seq % kWindow);
  if (seen_.test(bit)) {
    ++duplicates_;
    return;
  }
  seen_.set(bit);
  ++distinct_;
  ++out_of_order_;
}

void LatencyStats::Add(absl::Duration latency) {
  max_ = std::max(max_, latency);
  if (samples_.size() >= max_samples_) return;
  if (!samples_.empty() && latency < samples_.back()) sorted_ = false;
  samples_.push_back(latency);
}

void LatencyStats::Merge(const LatencyStats& other) {
  for (absl::Duration sample : other.samples_) Add(sample);
  max_ = std::max(max_, other.max_);
}

absl::Duration LatencyStats::Percentile(double q) const {
  if (samples_.empty()) return absl::ZeroDuration();
  if (!sorted_) {
    std::sort(samples_.begin(), samples_.end());
    sorted_ = true;
  }
  q = std::clamp(q, 0.0, 1.0);
  size_t rank = static_cast<size_t>(std::ceil(q * samples_.size()));
  if (rank > 0) --rank;
  return samples_[std::min(rank, samples_.size() - 1)];
}

void FreezeDetector::OnFrame(absl::Time now, absl::Duration frame_interval) {
  if (last_frame_.has_value() && frame_interval > absl::ZeroDuration()) {
    const absl::Duration gap = now - *last_frame_;
    if (gap > 2 * frame_interval) freezes_.push_back(gap);
  }
  last_frame_ = now;
}

absl::Duration FreezeDetector::total_frozen() const {
  absl::Duration total;
  for (absl::Duration freeze : freezes_) total += freeze;
  return total;
}

absl::Duration FreezeDetector::longest() const {
  absl::Duration longest;
  for (absl::Duration freeze : freezes_) longest = std::max(longest, freeze);
  return longest;
}

}  // namespace media
}  // namespace cascade
