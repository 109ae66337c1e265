// Where the controller's time goes, for /metrics and the lease ticker's
// "not run for" lines: how long each kind of caller waited for the
// controller's lock and held it, and how late the lease ticks ran and how
// long their thread waited for a CPU meanwhile. So a stalled tick can be
// told apart: blocked on the lock (and by whom), or starved of CPU.
#ifndef CASCADE_TOPOLOGY_CONTROLLER_TIMING_H_
#define CASCADE_TOPOLOGY_CONTROLLER_TIMING_H_

#include <array>
#include <cstddef>
#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/prometheus_text.h"

namespace cascade::topology {

// Who holds the controller's lock. kRecompute, kRecomputeAll and kOffer
// happen inside another holder's hold (Tick, Report, Apply...): they say
// what that hold was spent on.
enum class LockUse {
  kTick,
  kExcuse,
  kReport,
  kRegister,
  kAck,
  // A durable change applied by the commit pipeline (its wait is the
  // pipeline's, not measured).
  kApply,
  // The plan, incremental; kRecomputeAll rebuilds every assignment (a
  // restart's first push, a change of topology or keys).
  kRecompute,
  kRecomputeAll,
  // Of a recompute, handing the changed assignments to the service.
  kOffer,
  // A later slice of a whole rebuild's push (ControllerOptions::push_slice),
  // at the start of a tick, report, registration or ack.
  kPushSlice,
};
inline constexpr size_t kLockUses = 10;
// "tick", "recompute_all": the op label.
absl::string_view LockUseName(LockUse use);

// Bounds for lock waits and holds: 10 us to 30 s (a report holds the lock
// for microseconds, a national recompute for a second or more).
std::vector<double> LockBounds();
// Bounds for tick lateness and run-queue waits: 1 ms to 30 s.
std::vector<double> TickBounds();

// Thread-safe: its own small lock, taken under the controller's (the
// holds are recorded before the controller's lock is released) or briefly
// by a scrape or the ticker.
class ControllerTiming {
 public:
  // `waited`: from asking for the lock to holding it; none when the
  // caller did not ask (a nested use, or the pipeline's apply).
  void RecordHold(LockUse use, std::optional<absl::Duration> waited,
                  absl::Duration held);
  // One lease tick: how late it ran (beyond its interval), and how long
  // its thread waited for a CPU since the tick before.
  void RecordTick(absl::Duration late, absl::Duration run_queue_wait);

  struct Snapshot {
    Snapshot();
    // By LockUse.
    std::vector<DurationHistogram> waited;
    std::vector<DurationHistogram> held;
    DurationHistogram tick_late{TickBounds()};
    DurationHistogram tick_run_queue_wait{TickBounds()};
  };
  Snapshot Take() const;

  // Since the last call: the longest hold of each use, and how long the
  // ticker's calls (kTick, kExcuse) waited for the lock: what a late
  // tick's log line names.
  struct Recent {
    std::array<absl::Duration, kLockUses> longest_hold{};
    absl::Duration tick_waited;
  };
  Recent TakeRecent();

 private:
  mutable absl::Mutex mu_;
  Snapshot totals_ ABSL_GUARDED_BY(mu_);
  Recent recent_ ABSL_GUARDED_BY(mu_);
};

// Takes `mu` like absl::MutexLock, and records the wait for it and the
// hold under `use`.
class ABSL_SCOPED_LOCKABLE ProfiledLock {
 public:
  ProfiledLock(absl::Mutex* mu, ControllerTiming* timing, LockUse use)
      ABSL_EXCLUSIVE_LOCK_FUNCTION(mu);
  ~ProfiledLock() ABSL_UNLOCK_FUNCTION();
  ProfiledLock(const ProfiledLock&) = delete;
  ProfiledLock& operator=(const ProfiledLock&) = delete;

 private:
  absl::Mutex* const mu_;
  ControllerTiming* const timing_;
  const LockUse use_;
  absl::Time acquired_;
  absl::Duration waited_;
};

// Records the time from construction to destruction as a hold of `use`
// without a wait: a part of the enclosing hold.
class ScopedHold {
 public:
  ScopedHold(ControllerTiming* timing, LockUse use)
      : timing_(timing), use_(use), began_(absl::Now()) {}
  ~ScopedHold() {
    timing_->RecordHold(use_, std::nullopt, absl::Now() - began_);
  }
  ScopedHold(const ScopedHold&) = delete;
  ScopedHold& operator=(const ScopedHold&) = delete;

 private:
  ControllerTiming* const timing_;
  const LockUse use_;
  const absl::Time began_;
};

// How much of every node's silence is the controller's own: when it is
// behind on its reports (they wait unread behind a restart's push on a busy
// machine), every node's report ages at once, while a node that failed ages
// alone. `ages`: since each reporting node's last report; nodes report
// every third of `lease`, so the 90th percentile is about that when the
// controller keeps up. What it exceeds that by is excused, never more than
// `lease` (if a tenth of the nodes fail at once, their expiry waits up to
// twice the lease). Zero with fewer than 20 nodes: too few to tell.
absl::Duration BacklogExcuse(std::vector<absl::Duration> ages,
                             absl::Duration lease);

// The calling thread's time spent runnable but waiting for a CPU since it
// started (/proc/thread-self/schedstat, second field); none if the kernel
// does not say.
std::optional<absl::Duration> ThreadRunQueueWait();

}  // namespace cascade::topology

#endif  // CASCADE_TOPOLOGY_CONTROLLER_TIMING_H_
