// What topologyd's main runs its serving by: the lifecycle that ends it (a
// signal, or with etcd the end of the term), the thread that takes SIGINT
// and SIGTERM, and the ticker that expires leases.
#ifndef CASCADE_TOPOLOGY_LIFECYCLE_H_
#define CASCADE_TOPOLOGY_LIFECYCLE_H_

#include <glog/logging.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "topology/controller.h"
#include "topology/controller_timing.h"
#include "topology/etcd/leader.h"

namespace cascade::topology {

// What ends the serving: a signal, or (with etcd) the term ending. Also the
// election's listener, and what EtcdStore tells when a write is refused.
class Lifecycle : public etcd::LeaderListener {
 public:
  void OnLeaderStatus(const etcd::LeaderStatus& status) override {
    absl::MutexLock lock(&mu_);
    if (status.leading) {
      elected_ = true;
    } else if (elected_ && lost_.empty()) {
      lost_ = status.last_loss.empty() ? "the term ended" : status.last_loss;
    }
  }
  void Lose(absl::string_view why) {
    absl::MutexLock lock(&mu_);
    if (lost_.empty()) lost_ = std::string(why);
  }
  void Signalled(int signal_number) {
    absl::MutexLock lock(&mu_);
    signal_ = signal_number;
  }

  // Waits for a signal or the election; returns false on a signal.
  bool WaitUntilElected() {
    absl::MutexLock lock(&mu_);
    auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return signal_ != 0 || elected_;
    };
    mu_.Await(absl::Condition(&done));
    return signal_ == 0;
  }
  // Waits for a signal or the loss of leadership; returns why it was lost
  // (empty on a signal).
  std::string WaitUntilDone() {
    absl::MutexLock lock(&mu_);
    auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return signal_ != 0 || !lost_.empty();
    };
    mu_.Await(absl::Condition(&done));
    return signal_ != 0 ? "" : lost_;
  }
  int signal_number() {
    absl::MutexLock lock(&mu_);
    return signal_;
  }

 private:
  absl::Mutex mu_;
  bool elected_ ABSL_GUARDED_BY(mu_) = false;
  std::string lost_ ABSL_GUARDED_BY(mu_);
  int signal_ ABSL_GUARDED_BY(mu_) = 0;
};

// SIGINT and SIGTERM, taken by sigwait on a thread of their own (blocked in
// every thread, so no handler runs), reported to a Lifecycle.
class SignalWaiter {
 public:
  // Construct before any other thread starts, so they all inherit the mask.
  SignalWaiter() {
    sigemptyset(&signals_);
    sigaddset(&signals_, SIGINT);
    sigaddset(&signals_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals_, nullptr);
  }
  void Start(Lifecycle* lifecycle) {
    thread_ = std::thread([this, lifecycle] {
      int signal_number = 0;
      sigwait(&signals_, &signal_number);
      received_.store(true);
      if (!done_.load()) lifecycle->Signalled(signal_number);
    });
  }
  // Ends the thread even when no signal came.
  ~SignalWaiter() {
    if (!thread_.joinable()) return;
    done_.store(true);
    if (!received_.load()) pthread_kill(thread_.native_handle(), SIGTERM);
    thread_.join();
  }

 private:
  sigset_t signals_;
  std::atomic<bool> received_{false};
  std::atomic<bool> done_{false};
  std::thread thread_;
};

// Expires leases every tenth of the lease timeout until destroyed. A tick
// a whole interval late means the process did not run (SIGSTOP, a stalled
// VM), or the ticker did not: that time is excused first, so a leader that
// wakes up does not take every relay for dead before it reads their reports
// (or learns that it no longer leads). Each tick's lateness and its thread's
// run-queue wait go to the controller's timing (/metrics), and a late tick
// is logged with where its time went: waiting for a CPU, for the
// controller's lock (and the longest holds meanwhile), or neither.
class LeaseTicker {
 public:
  LeaseTicker(Controller* controller, absl::Duration lease_timeout)
      : thread_([this, controller, lease_timeout] {
          const absl::Duration tick =
              std::max(lease_timeout / 10, absl::Milliseconds(10));
          ControllerTiming* timing = controller->timing();
          absl::Time last = absl::Now();
          // The previous round: its Excuse (if late) and Tick, lock waits
          // included.
          absl::Duration last_call;
          std::optional<absl::Duration> run_wait = ThreadRunQueueWait();
          while (!stop_.WaitForNotificationWithTimeout(tick)) {
            const absl::Time now = absl::Now();
            const absl::Duration late = now - last - tick;
            const std::optional<absl::Duration> run_wait_now =
                ThreadRunQueueWait();
            const absl::Duration starved = run_wait && run_wait_now
                                               ? *run_wait_now - *run_wait
                                               : absl::ZeroDuration();
            run_wait = run_wait_now;
            timing->RecordTick(std::max(late, absl::ZeroDuration()), starved);
            const ControllerTiming::Recent recent = timing->TakeRecent();
            if (late > tick) {
              LOG(WARNING) << LateTick(late, starved, last_call, recent);
              controller->Excuse(late);
            }
            last = now;
            controller->Tick();
            last_call = absl::Now() - now;
          }
        }) {}
  ~LeaseTicker() {
    stop_.Notify();
    thread_.join();
  }

 private:
  // "tick 11.9s late: 20ms waiting for a CPU, the previous round (Excuse
  // and Tick) 11.8s (11.8s of it waiting for the controller's lock); longest
  // holds since the tick before: recompute_all 11.7s, offer 9s, report 2ms".
  static std::string LateTick(absl::Duration late, absl::Duration starved,
                              absl::Duration last_call,
                              const ControllerTiming::Recent& recent) {
    std::string line = absl::StrCat(
        "tick ", absl::FormatDuration(late),
        " late: ", absl::FormatDuration(starved),
        " waiting for a CPU, the previous round (Excuse and Tick) ",
        absl::FormatDuration(last_call), " (",
        absl::FormatDuration(recent.tick_waited),
        " of it waiting for the controller's lock); longest holds since "
        "the tick before:");
    std::vector<std::pair<absl::Duration, LockUse>> holds;
    for (size_t k = 0; k < kLockUses; ++k) {
      if (recent.longest_hold[k] > absl::ZeroDuration()) {
        holds.emplace_back(recent.longest_hold[k], static_cast<LockUse>(k));
      }
    }
    std::sort(holds.rbegin(), holds.rend());
    if (holds.size() > 4) holds.resize(4);
    for (size_t k = 0; k < holds.size(); ++k) {
      absl::StrAppend(&line, k == 0 ? " " : ", ", LockUseName(holds[k].second),
                      " ", absl::FormatDuration(holds[k].first));
    }
    return line;
  }

  absl::Notification stop_;
  std::thread thread_;
};

// Logs `message` as a warning now and every `every` until destroyed (an
// empty message: nothing), so whoever reads the log at any point sees it:
// topologyd --insecure's open control plane.
class PeriodicWarning {
 public:
  PeriodicWarning(std::string message, absl::Duration every)
      : message_(std::move(message)) {
    if (message_.empty()) return;
    LOG(WARNING) << message_;
    thread_ = std::thread([this, every] {
      while (!stop_.WaitForNotificationWithTimeout(every)) {
        LOG(WARNING) << message_;
      }
    });
  }
  ~PeriodicWarning() {
    if (!thread_.joinable()) return;
    stop_.Notify();
    thread_.join();
  }

 private:
  const std::string message_;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace cascade::topology

#endif  // CASCADE_TOPOLOGY_LIFECYCLE_H_
