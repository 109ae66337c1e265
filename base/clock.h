// The one time source of Cascade's code that depends on time (NACK timing,
// keepalives, leases, rate limits), so tests drive time with a fake clock
// (testing/fake_clock.h) instead of sleeping.
#ifndef CASCADE_BASE_CLOCK_H_
#define CASCADE_BASE_CLOCK_H_

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace cascade {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

class SystemClock : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
};

// The first instant at or after `t` that is a whole number of `period`s
// since the Unix epoch. Periodic messages sent on this grid by every process
// arrive together, so a receiver with many senders wakes once for all.
inline absl::Time AlignUp(absl::Time t, absl::Duration period) {
  absl::Duration rest;
  const int64_t periods =
      absl::IDivDuration(t - absl::UnixEpoch(), period, &rest);
  // Division truncates toward zero: before the epoch the rest is negative
  // and the quotient is already the grid point above.
  if (rest == absl::ZeroDuration()) return t;
  return absl::UnixEpoch() +
         (rest > absl::ZeroDuration() ? periods + 1 : periods) * period;
}

}  // namespace cascade

#endif  // CASCADE_BASE_CLOCK_H_
