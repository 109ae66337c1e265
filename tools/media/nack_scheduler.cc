#include "tools/media/nack_scheduler.h"

#include <algorithm>

namespace cascade {
namespace media {

NackScheduler::NackScheduler(NackOptions options)
    : options_(options), budget_(Burst()) {}

double NackScheduler::Burst() const {
  return std::max(1.0, options_.max_burst);
}

bool NackScheduler::Pace(absl::Time now) {
  if (budget_time_ != absl::InfinitePast()) {
    budget_ =
        std::min(Burst(), budget_ + absl::ToDoubleSeconds(now - budget_time_) *
                                        options_.max_rate);
  }
  budget_time_ = now;
  if (budget_ < 1) return false;
  budget_ -= 1;
  return true;
}

void NackScheduler::OnPacket(int64_t ext_seq, absl::Time now) {
  if (!highest_.has_value()) {
    highest_ = ext_seq;
    return;
  }
  if (ext_seq <= *highest_) {
    if (pending_.erase(ext_seq) > 0) last_repair_ = now;  // late or repaired
    return;
  }
  if (ext_seq - *highest_ - 1 <= options_.max_gap) {
    for (int64_t seq = *highest_ + 1; seq < ext_seq; ++seq) {
      pending_[seq] = Missing{now, now + options_.reorder_wait, 0};
    }
    while (pending_.size() > options_.max_pending) {
      pending_.erase(pending_.begin());
      ++gave_up_;
    }
  }
  highest_ = ext_seq;
}

std::vector<int64_t> NackScheduler::TakeDue(absl::Time now) {
  std::vector<int64_t> due;
  for (auto it = pending_.begin(); it != pending_.end();) {
    Missing& missing = it->second;
    if (now - missing.detected >= options_.give_up_after) {
      it = pending_.erase(it);
      ++gave_up_;
      continue;
    }
    // A retry waits while answers to earlier requests still come in.
    if (now < missing.next_request ||
        (missing.requests > 0 &&
         now < last_repair_ + options_.retry_interval)) {
      ++it;
      continue;
    }
    // Out of pace: the rest waits for the next call, oldest first.
    if (!Pace(now)) break;
    due.push_back(it->first);
    if (++missing.requests >= options_.max_requests) {
      it = pending_.erase(it);  // a late answer still counts on arrival
      ++gave_up_;
    } else {
      // Doubling, up to 2^10 times the first wait.
      missing.next_request =
          now +
          options_.retry_interval * (1 << std::min(missing.requests - 1, 10));
      ++it;
    }
  }
  return due;
}

void NackScheduler::RetryAll(absl::Time now) {
  for (auto& [seq, missing] : pending_) {
    missing.next_request = now;
    missing.requests = 0;
  }
}

}  // namespace media
}  // namespace cascade
