#include "child/nack_scheduler.h"

#include <algorithm>

namespace cascade::child {

NackScheduler::NackScheduler(const NackOptions& options)
    : options_(options), pace_(options.max_rate, options.max_burst) {}

void NackScheduler::Add(int64_t ext_seq, absl::Time now,
                        absl::Time first_request) {
  if (pending_.size() >= options_.max_pending) {
    pending_.erase(pending_.begin());  // the oldest is the least useful
    ++gave_up_;
  }
  pending_.emplace(ext_seq, Missing{now, first_request, 0});
}

bool NackScheduler::OnPacket(int64_t ext_seq, absl::Time now) {
  if (!highest_.has_value()) {
    highest_ = ext_seq;
    return false;
  }
  if (ext_seq <= *highest_) {
    if (pending_.erase(ext_seq) == 0) return false;  // a duplicate
    last_repair_ = now;
    ++repaired_;
    return true;
  }
  if (ext_seq - *highest_ - 1 > options_.max_gap) {
    // A new start of the stream: what was missing before is moot.
    pending_.clear();
    ++resets_;
  } else {
    for (int64_t seq = *highest_ + 1; seq < ext_seq; ++seq) {
      Add(seq, now, now + options_.reorder_wait);
    }
  }
  highest_ = ext_seq;
  return false;
}

void NackScheduler::Restart() {
  pending_.clear();
  highest_.reset();
  ++resets_;
}

void NackScheduler::Request(int64_t ext_seq, absl::Time now) {
  if (!highest_.has_value() || ext_seq > *highest_ ||
      ext_seq < *highest_ - options_.max_gap || pending_.contains(ext_seq)) {
    return;
  }
  Add(ext_seq, now, now);
}

void NackScheduler::TakeDue(absl::Time now, std::vector<int64_t>* due,
                            size_t limit) {
  size_t taken = 0;
  for (auto it = pending_.begin(); it != pending_.end() && taken < limit;) {
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
    if (!pace_.Allow(now)) break;
    due->push_back(it->first);
    ++taken;
    if (++missing.requests >= options_.max_requests) {
      it = pending_.erase(it);  // a late answer is still forwarded
      ++gave_up_;
    } else {
      // Doubling, up to 2^10 times the first wait.
      missing.next_request =
          now +
          options_.retry_interval * (1 << std::min(missing.requests - 1, 10));
      ++it;
    }
  }
}

void NackScheduler::RetryAll(absl::Time now) {
  for (auto& [seq, missing] : pending_) {
    missing.next_request = now;
    missing.requests = 0;
  }
}

}  // namespace cascade::child
