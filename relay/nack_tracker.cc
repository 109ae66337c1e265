#include "relay/nack_tracker.h"

namespace cascade::relay {

void NackTracker::Add(int64_t seq, absl::Time next) {
  if (pending_.size() >= timing_.max_pending) {
    pending_.erase(pending_.begin());  // the oldest is the least useful
    ++gave_up_;
  }
  pending_.emplace(seq, Pending{next, 0});
}

bool NackTracker::OnPacket(int64_t seq, absl::Time now) {
  if (!started_) {
    started_ = true;
    highest_ = seq;
    return false;
  }
  if (seq > highest_) {
    if (seq - highest_ - 1 > timing_.max_gap) {
      pending_.clear();
      ++resets_;
    } else {
      for (int64_t s = highest_ + 1; s < seq; ++s) {
        Add(s, now + timing_.reorder_wait);
      }
    }
    highest_ = seq;
    return false;
  }
  if (pending_.erase(seq) > 0) {
    ++repaired_;
    return true;
  }
  return false;
}

void NackTracker::Request(int64_t seq, absl::Time now) {
  if (!started_ || seq > highest_ || seq < highest_ - timing_.max_gap) return;
  if (pending_.contains(seq)) return;
  Add(seq, now);
}

void NackTracker::RetryAll(absl::Time now) {
  for (auto& [seq, p] : pending_) p = Pending{now, 0};
}

void NackTracker::Collect(absl::Time now, size_t limit,
                          std::vector<int64_t>* due) {
  for (auto it = pending_.begin(); it != pending_.end();) {
    Pending& p = it->second;
    if (p.next > now) {
      ++it;
      continue;
    }
    if (p.retries >= timing_.max_retries) {
      it = pending_.erase(it);
      ++gave_up_;
      continue;
    }
    if (due->size() >= limit) break;
    due->push_back(it->first);
    ++p.retries;
    p.next = now + timing_.retry;
    ++it;
  }
}

}  // namespace cascade::relay
