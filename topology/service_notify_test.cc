#include "topology/service_notify.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "testing/fake_clock.h"
#include "topology/controller.h"
#include "topology/fake_store.h"

namespace cascade::topology {
namespace {

// What systemd would be told, with a watchdog every 20 ms.
class RecordingNotifier : public ServiceNotifier {
 public:
  void Ready(absl::string_view status) override {
    Add(absl::StrCat("READY=1 STATUS=", status));
  }
  void Status(absl::string_view status) override {
    Add(absl::StrCat("STATUS=", status));
  }
  void Reloading() override { Add("RELOADING=1"); }
  void Stopping() override { Add("STOPPING=1"); }
  void Watchdog() override {
    absl::MutexLock lock(&mu_);
    ++pings_;
  }
  std::optional<absl::Duration> watchdog_interval() const override {
    return absl::Milliseconds(20);
  }

  std::vector<std::string> said() {
    absl::MutexLock lock(&mu_);
    return said_;
  }
  int pings() {
    absl::MutexLock lock(&mu_);
    return pings_;
  }
  // Whether `count` pings came within `timeout`.
  bool AwaitPings(int count, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto reached = [this, count]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return pings_ >= count;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&reached), timeout);
  }

 private:
  void Add(std::string line) {
    absl::MutexLock lock(&mu_);
    said_.push_back(std::move(line));
  }

  absl::Mutex mu_;
  std::vector<std::string> said_ ABSL_GUARDED_BY(mu_);
  int pings_ ABSL_GUARDED_BY(mu_) = 0;
};

// Records the statuses passed on to the next listener.
class NextListener : public etcd::LeaderListener {
 public:
  void OnLeaderStatus(const etcd::LeaderStatus& status) override {
    leading.push_back(status.leading);
  }
  std::vector<bool> leading;
};

TEST(ServiceNotifyTest, WatchdogStopsWhileTheControllerIsStuckOnItsLock) {
  FakeClock clock;
  MemoryStore store;
  Controller controller(&clock, &store, ControllerOptions());
  ASSERT_TRUE(controller.Recover().ok());
  ControllerService service(&controller, ServiceOptions());
  auto owned = std::make_unique<RecordingNotifier>();
  RecordingNotifier* notifier = owned.get();
  ServiceNotify notify(&service, 7700, /*leading=*/true, std::move(owned));
  EXPECT_EQ(
      notifier->said(),
      std::vector<std::string>{"READY=1 STATUS=leading, serving on port 7700"});
  ASSERT_TRUE(notifier->AwaitPings(3, absl::Seconds(10)));

  int held = 0;
  // Calls back under the controller's lock: a controller stuck on it.
  controller.WithAuditHistory(0, [&](std::vector<cascade::v1::Event>) {
    held = notifier->pings();
    // Ten intervals: at most the ping already past the lock comes.
    EXPECT_FALSE(notifier->AwaitPings(held + 2, absl::Milliseconds(200)));
  });
  EXPECT_TRUE(notifier->AwaitPings(held + 3, absl::Seconds(10)));
}

TEST(ServiceNotifyTest, StatusFollowsTheElectionUntilStopping) {
  ControllerService service(nullptr, ServiceOptions());
  auto owned = std::make_unique<RecordingNotifier>();
  RecordingNotifier* notifier = owned.get();
  ServiceNotify notify(&service, 7701, /*leading=*/false, std::move(owned));
  NextListener next;
  etcd::LeaderListener* listener = notify.Leader(&next);

  etcd::LeaderStatus status;
  listener->OnLeaderStatus(status);  // nothing new
  status.leader = "10.0.0.2:7700";
  listener->OnLeaderStatus(status);
  status.leading = true;
  status.leader = "10.0.0.1:7701";
  listener->OnLeaderStatus(status);
  status.lease_id = 7;
  listener->OnLeaderStatus(status);  // the same role
  notify.Stopping();
  notify.Stopping();
  status.leading = false;
  listener->OnLeaderStatus(status);  // said nothing once stopping

  EXPECT_EQ(notifier->said(),
            (std::vector<std::string>{
                "READY=1 STATUS=following, serving on port 7701",
                "STATUS=following 10.0.0.2:7700, serving on port 7701",
                "STATUS=leading, serving on port 7701", "STOPPING=1"}));
  EXPECT_EQ(next.leading, (std::vector<bool>{false, false, true, true, false}));
}

}  // namespace
}  // namespace cascade::topology
