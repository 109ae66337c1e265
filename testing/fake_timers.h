// Simulated time for tests: callbacks scheduled on a FakeClock run in time
// order as a test lets time pass, so "advance the clock and tick" loops
// become one call and no test waits on the wall clock.
//
//   FakeClock clock;
//   FakeTimers timers(&clock);
//   timers.Every(clock.Now(), absl::Milliseconds(5),
//                [&] { site.OnTick(clock.Now()); });
//   timers.After(absl::Milliseconds(300), [&] { parent.FallSilent(); });
//   timers.RunFor(absl::Seconds(1));
#ifndef CASCADE_TESTING_FAKE_TIMERS_H_
#define CASCADE_TESTING_FAKE_TIMERS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "testing/fake_clock.h"

namespace cascade {

// Not thread-safe: one test thread schedules and runs. Code on other threads
// may still read the clock.
class FakeTimers {
 public:
  using Callback = std::function<void()>;
  // Never 0, so 0 can mean "none".
  using TimerId = uint64_t;

  // A run that takes more callbacks than this stops and fails the test:
  // a timer rescheduling itself at the same instant would spin forever.
  static constexpr int64_t kDefaultMaxSteps = 1000000;

  // `clock` must outlive this. Nothing but this should advance it while
  // timers are pending, or they run late (never with the clock going back).
  explicit FakeTimers(FakeClock* clock,
                      int64_t max_steps_per_run = kDefaultMaxSteps);

  FakeTimers(const FakeTimers&) = delete;
  FakeTimers& operator=(const FakeTimers&) = delete;

  absl::Time Now() const { return clock_->Now(); }

  // Runs `callback` once at `when` (in the past: at the next run, at the
  // clock's time).
  TimerId At(absl::Time when, Callback callback);
  TimerId After(absl::Duration delay, Callback callback);
  // Runs `callback` at `first`, then every `period` (positive) until
  // cancelled, also from inside the callback.
  TimerId Every(absl::Time first, absl::Duration period, Callback callback);
  // False when `id` already ran (one-shot) or was cancelled.
  bool Cancel(TimerId id);

  // Advances the clock to each callback due at or before `end` in time
  // order and runs it, then leaves the clock at `end`. Callbacks due at the
  // same instant run in the order their timers were created; what a callback
  // schedules at or before `end` runs in this call too. absl::InfiniteFuture()
  // runs until nothing is pending (the clock stays at the last callback).
  // False (and a test failure) when the run stopped at its step limit.
  bool RunUntil(absl::Time end);
  bool RunFor(absl::Duration duration) { return RunUntil(Now() + duration); }

  size_t pending() const { return when_.size(); }
  // Callbacks run so far, over all runs.
  int64_t steps() const { return steps_; }

 private:
  struct Timer {
    Callback callback;
    absl::Duration period;  // zero: once
  };
  // Time, then creation order.
  using Key = std::pair<absl::Time, TimerId>;

  TimerId Schedule(absl::Time when, absl::Duration period, Callback callback);

  FakeClock* clock_;
  const int64_t max_steps_per_run_;
  TimerId next_id_ = 1;
  int64_t steps_ = 0;
  std::map<Key, Timer> queue_;
  absl::flat_hash_map<TimerId, absl::Time> when_;
};

}  // namespace cascade

#endif  // CASCADE_TESTING_FAKE_TIMERS_H_
