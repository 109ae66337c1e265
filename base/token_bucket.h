// A token bucket: at most `rate` events per second, in bursts of up to
// `burst`. The one pacing primitive of Cascade: a parent's per-child
// retransmissions and a child's NACK requests are paced by the same rule, so
// what a child asks for stays within what its parent answers.
#ifndef CASCADE_BASE_TOKEN_BUCKET_H_
#define CASCADE_BASE_TOKEN_BUCKET_H_

#include <algorithm>

#include "absl/time/time.h"

namespace cascade {

class TokenBucket {
 public:
  // A burst below one would never allow anything: it is taken as one.
  TokenBucket(double rate_per_second, double burst)
      : rate_(rate_per_second), burst_(std::max(1.0, burst)), tokens_(burst_) {}

  // Takes one token if there is one.
  bool Allow(absl::Time now) {
    if (last_ != absl::InfinitePast()) {
      tokens_ = std::min(burst_,
                         tokens_ + absl::ToDoubleSeconds(now - last_) * rate_);
    }
    last_ = now;
    if (tokens_ < 1) return false;
    tokens_ -= 1;
    return true;
  }

 private:
  double rate_;
  double burst_;
  double tokens_;
  absl::Time last_ = absl::InfinitePast();
};

}  // namespace cascade

#endif  // CASCADE_BASE_TOKEN_BUCKET_H_
