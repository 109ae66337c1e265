// Time source for everything in relayd that depends on time, so NACK timing,
// keepalives and rate limits are unit-tested with a fake clock.
#ifndef CASCADE_RELAY_CLOCK_H_
#define CASCADE_RELAY_CLOCK_H_

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace cascade::relay {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

class SystemClock : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
};

// Moves only when told to.
class FakeClock : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1700000000))
      : now_(start) {}
  absl::Time Now() const override { return now_; }
  void Advance(absl::Duration d) { now_ += d; }

 private:
  absl::Time now_;
};

}  // namespace cascade::relay

#endif  // CASCADE_RELAY_CLOCK_H_
