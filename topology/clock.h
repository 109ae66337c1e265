// Time source for the controller, so lease expiry is tested with a fake
// clock instead of sleeps.
#ifndef CASCADE_TOPOLOGY_CLOCK_H_
#define CASCADE_TOPOLOGY_CLOCK_H_

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace cascade::topology {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

class SystemClock : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
};

// Moves only when told to. Thread-safe: gRPC threads read it while a test
// advances it.
class FakeClock : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1700000000))
      : now_(start) {}
  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_;
};

}  // namespace cascade::topology

#endif  // CASCADE_TOPOLOGY_CLOCK_H_
