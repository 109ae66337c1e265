// A clock that moves only when a test moves it, for code that takes a Clock
// (base/clock.h). Test code: production binaries cannot link it (testonly).
#ifndef CASCADE_TESTING_FAKE_CLOCK_H_
#define CASCADE_TESTING_FAKE_CLOCK_H_

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"

namespace cascade {

// Moves only when told to. Thread-safe: a test may advance it while gRPC
// threads read it.
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

}  // namespace cascade

#endif  // CASCADE_TESTING_FAKE_CLOCK_H_
