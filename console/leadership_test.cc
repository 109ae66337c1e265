#include "console/leadership.h"

#include <gtest/gtest.h>

#include <atomic>
#include <optional>

#include "absl/synchronization/notification.h"

namespace cascade::console {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);

TEST(LeadershipWatchTest, ALeaderFromTheStartSaysSo) {
  LeadershipWatch watch(nullptr, absl::ZeroDuration());
  EXPECT_FALSE(watch.Current().has_value());
  watch.Observe({true, ""}, kStart);
  watch.Observe({true, ""}, kStart + absl::Seconds(5));
  ASSERT_TRUE(watch.Current().has_value());
  EXPECT_EQ(watch.Current()->unix_ms(), absl::ToUnixMillis(kStart));
  EXPECT_EQ(watch.Current()->detail(),
            "this controller leads since it started");
}

TEST(LeadershipWatchTest, ATakeoverNamesWhenAndTheLeaderBefore) {
  LeadershipWatch watch(nullptr, absl::ZeroDuration());
  watch.Observe({false, "10.0.0.5:7000"}, kStart);
  // The old leader died: for a moment nobody is known.
  watch.Observe({false, ""}, kStart + absl::Seconds(1));
  EXPECT_FALSE(watch.Current().has_value());
  watch.Observe({true, ""}, kStart + absl::Seconds(3));
  watch.Observe({true, ""}, kStart + absl::Seconds(4));
  ASSERT_TRUE(watch.Current().has_value());
  EXPECT_EQ(watch.Current()->unix_ms(),
            absl::ToUnixMillis(kStart + absl::Seconds(3)));
  EXPECT_EQ(watch.Current()->detail(),
            "this controller took over the lead from 10.0.0.5:7000");
}

TEST(LeadershipWatchTest, TheThreadProbesUntilDestroyed) {
  std::atomic<int> probes{0};
  absl::Notification observed;
  LeadershipWatch watch(
      [&] {
        // Follows at the constructor's probe, leads from the thread's
        // second; the probe after that one comes once it was observed.
        const int n = ++probes;
        if (n == 4) observed.Notify();
        return Leadership{n >= 3, "10.0.0.5:7000"};
      },
      absl::Milliseconds(1));
  ASSERT_TRUE(observed.WaitForNotificationWithTimeout(absl::Seconds(10)));
  std::optional<cascade::v1::Event> event = watch.Current();
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->detail(),
            "this controller took over the lead from 10.0.0.5:7000");
}

}  // namespace
}  // namespace cascade::console
