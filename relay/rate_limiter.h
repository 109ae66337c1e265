// A token bucket: at most `rate` events per second, in bursts up to `burst`.
#ifndef CASCADE_RELAY_RATE_LIMITER_H_
#define CASCADE_RELAY_RATE_LIMITER_H_

#include <algorithm>

#include "absl/time/time.h"

namespace cascade::relay {

class RateLimiter {
 public:
  RateLimiter(double rate_per_second, double burst)
      : rate_(rate_per_second), burst_(burst), tokens_(burst) {}

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

}  // namespace cascade::relay

#endif  // CASCADE_RELAY_RATE_LIMITER_H_
