#include "tools/media/nack_scheduler.h"

namespace cascade {
namespace media {

void NackScheduler::OnPacket(int64_t ext_seq, absl::Time now) {
  if (!highest_.has_value()) {
    highest_ = ext_seq;
    return;
  }
  if (ext_seq <= *highest_) {
    pending_.erase(ext_seq);  // a late or repaired packet
    return;
  }
  if (ext_seq - *highest_ <= options_.max_gap) {
    for (int64_t seq = *highest_ + 1; seq < ext_seq; ++seq) {
      pending_[seq] = Missing{now + options_.reorder_wait, 0};
    }
    while (pending_.size() > options_.max_pending) {
      pending_.erase(pending_.begin());
    }
  }
  highest_ = ext_seq;
}

std::vector<int64_t> NackScheduler::TakeDue(absl::Time now) {
  std::vector<int64_t> due;
  for (auto it = pending_.begin(); it != pending_.end();) {
    Missing& missing = it->second;
    if (now < missing.next_request) {
      ++it;
      continue;
    }
    due.push_back(it->first);
    if (++missing.requests >= options_.max_requests) {
      it = pending_.erase(it);  // a late answer still counts on arrival
    } else {
      missing.next_request = now + options_.retry_interval;
      ++it;
    }
  }
  return due;
}

}  // namespace media
}  // namespace cascade
