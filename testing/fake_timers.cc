#include "testing/fake_timers.h"

#include <gtest/gtest.h>

namespace cascade {

FakeTimers::FakeTimers(FakeClock* clock, int64_t max_steps_per_run)
    : clock_(clock), max_steps_per_run_(max_steps_per_run) {}

FakeTimers::TimerId FakeTimers::At(absl::Time when, Callback callback) {
  return Schedule(when, absl::ZeroDuration(), std::move(callback));
}

FakeTimers::TimerId FakeTimers::After(absl::Duration delay, Callback callback) {
  return Schedule(Now() + delay, absl::ZeroDuration(), std::move(callback));
}

FakeTimers::TimerId FakeTimers::Every(absl::Time first, absl::Duration period,
                                      Callback callback) {
  if (period <= absl::ZeroDuration()) {
    ADD_FAILURE() << "FakeTimers::Every: period " << period
                  << " would never let time pass";
    return 0;
  }
  return Schedule(first, period, std::move(callback));
}

FakeTimers::TimerId FakeTimers::Schedule(absl::Time when, absl::Duration period,
                                         Callback callback) {
  const TimerId id = next_id_++;
  queue_.emplace(Key{when, id}, Timer{std::move(callback), period});
  when_[id] = when;
  return id;
}

bool FakeTimers::Cancel(TimerId id) {
  const auto it = when_.find(id);
  if (it == when_.end()) return false;
  queue_.erase(Key{it->second, id});
  when_.erase(it);
  return true;
}

bool FakeTimers::RunUntil(absl::Time end) {
  int64_t steps = 0;
  while (!queue_.empty() && queue_.begin()->first.first <= end) {
    if (steps == max_steps_per_run_) {
      ADD_FAILURE() << "FakeTimers: " << max_steps_per_run_
                    << " callbacks before " << end << " (stopped at " << Now()
                    << "): a timer that never lets time pass?";
      return false;
    }
    auto node = queue_.extract(queue_.begin());
    const auto [when, id] = node.key();
    Timer& timer = node.mapped();
    if (when > Now()) clock_->Advance(when - Now());
    // Rescheduled before it runs, so the callback may cancel itself.
    Callback callback;
    if (timer.period > absl::ZeroDuration()) {
      callback = timer.callback;
      node.key() = Key{when + timer.period, id};
      when_[id] = when + timer.period;
      queue_.insert(std::move(node));
    } else {
      callback = std::move(timer.callback);
      when_.erase(id);
    }
    ++steps;
    ++steps_;
    callback();
  }
  // An infinite end means "until nothing is pending".
  if (end > Now() && end != absl::InfiniteFuture()) {
    clock_->Advance(end - Now());
  }
  return true;
}

}  // namespace cascade
