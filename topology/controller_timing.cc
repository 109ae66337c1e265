#include "topology/controller_timing.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "base/files.h"

namespace cascade::topology {

absl::string_view LockUseName(LockUse use) {
  switch (use) {
    case LockUse::kTick:
      return "tick";
    case LockUse::kExcuse:
      return "excuse";
    case LockUse::kReport:
      return "report";
    case LockUse::kRegister:
      return "register";
    case LockUse::kAck:
      return "ack";
    case LockUse::kApply:
      return "apply";
    case LockUse::kRecompute:
      return "recompute";
    case LockUse::kRecomputeAll:
      return "recompute_all";
    case LockUse::kOffer:
      return "offer";
    case LockUse::kPushSlice:
      return "push_slice";
  }
  return "other";
}

std::vector<double> LockBounds() {
  return {1e-5, 1e-4, 1e-3, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
}

std::vector<double> TickBounds() {
  return {0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
}

ControllerTiming::Snapshot::Snapshot()
    : waited(kLockUses, DurationHistogram(LockBounds())),
      held(kLockUses, DurationHistogram(LockBounds())) {}

void ControllerTiming::RecordHold(LockUse use,
                                  std::optional<absl::Duration> waited,
                                  absl::Duration held) {
  const size_t k = static_cast<size_t>(use);
  absl::MutexLock lock(&mu_);
  if (waited.has_value()) {
    totals_.waited[k].Observe(absl::ToDoubleSeconds(*waited));
    if (use == LockUse::kTick || use == LockUse::kExcuse) {
      recent_.tick_waited += *waited;
    }
  }
  totals_.held[k].Observe(absl::ToDoubleSeconds(held));
  recent_.longest_hold[k] = std::max(recent_.longest_hold[k], held);
}

void ControllerTiming::RecordTick(absl::Duration late,
                                  absl::Duration run_queue_wait) {
  absl::MutexLock lock(&mu_);
  totals_.tick_late.Observe(absl::ToDoubleSeconds(late));
  totals_.tick_run_queue_wait.Observe(absl::ToDoubleSeconds(run_queue_wait));
}

ControllerTiming::Snapshot ControllerTiming::Take() const {
  absl::MutexLock lock(&mu_);
  return totals_;
}

ControllerTiming::Recent ControllerTiming::TakeRecent() {
  absl::MutexLock lock(&mu_);
  Recent recent = recent_;
  recent_ = Recent();
  return recent;
}

ProfiledLock::ProfiledLock(absl::Mutex* mu, ControllerTiming* timing,
                           LockUse use)
    : mu_(mu), timing_(timing), use_(use) {
  const absl::Time asked = absl::Now();
  mu_->Lock();
  acquired_ = absl::Now();
  waited_ = acquired_ - asked;
}

ProfiledLock::~ProfiledLock() {
  // Before the unlock: the timing's own lock is then only ever contended by
  // a scrape or the ticker, never by every report thread at once.
  timing_->RecordHold(use_, waited_, absl::Now() - acquired_);
  mu_->Unlock();
}

absl::Duration BacklogExcuse(std::vector<absl::Duration> ages,
                             absl::Duration lease) {
  constexpr size_t kFewest = 20;
  if (ages.size() < kFewest) return absl::ZeroDuration();
  auto p90 = ages.begin() + ages.size() * 9 / 10;
  std::nth_element(ages.begin(), p90, ages.end());
  return std::clamp(*p90 - lease / 3, absl::ZeroDuration(), lease);
}

std::optional<absl::Duration> ThreadRunQueueWait() {
  absl::StatusOr<std::string> text = ReadFile("/proc/thread-self/schedstat");
  if (!text.ok()) return std::nullopt;
  // "on-CPU ns, run-queue wait ns, timeslices".
  const std::vector<absl::string_view> fields =
      absl::StrSplit(*text, ' ', absl::SkipWhitespace());
  int64_t waited_ns = 0;
  if (fields.size() < 2 || !absl::SimpleAtoi(fields[1], &waited_ns)) {
    return std::nullopt;
  }
  return absl::Nanoseconds(waited_ns);
}

}  // namespace cascade::topology
