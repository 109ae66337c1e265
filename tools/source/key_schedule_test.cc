#include "tools/source/key_schedule.h"

#include <gtest/gtest.h>

#include <optional>
#include <vector>

namespace cascade {
namespace source {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1800000000);

ScheduledKey Key(uint8_t id, absl::Duration send_from) {
  ScheduledKey key;
  key.key.id = {0, 0, 0, id};
  key.key.material.fill(id);
  key.send_from = kT0 + send_from;
  return key;
}

std::optional<uint8_t> IdOf(const std::optional<srtp::StreamKey>& key) {
  if (!key.has_value()) return std::nullopt;
  return key->id.back();
}

TEST(KeyScheduleTest, NothingBeforeTheFirstKeyComesOrStarts) {
  KeySchedule schedule;
  EXPECT_EQ(IdOf(schedule.Next(kT0)), std::nullopt);
  schedule.Set({Key(1, absl::Seconds(2))});
  EXPECT_EQ(IdOf(schedule.Next(kT0 + absl::Seconds(1))), std::nullopt);
  EXPECT_EQ(IdOf(schedule.Next(kT0 + absl::Seconds(2))), 1);
  EXPECT_EQ(IdOf(schedule.Next(kT0 + absl::Seconds(3))), std::nullopt);
}

TEST(KeyScheduleTest, SwitchesExactlyWhenTheNextKeyStarts) {
  KeySchedule schedule;
  // Newest first, as topologyd lists them.
  schedule.Set({Key(2, absl::Seconds(4)), Key(1, absl::ZeroDuration())});
  EXPECT_EQ(IdOf(schedule.Next(kT0)), 1);
  EXPECT_EQ(IdOf(schedule.Next(kT0 + absl::Seconds(4) - absl::Nanoseconds(1))),
            std::nullopt);
  EXPECT_EQ(IdOf(schedule.Next(kT0 + absl::Seconds(4))), 2);
  EXPECT_EQ(IdOf(schedule.Next(kT0 + absl::Seconds(5))), std::nullopt);
  // The same keys given again: no change.
  schedule.Set({Key(2, absl::Seconds(4)), Key(1, absl::ZeroDuration())});
  EXPECT_EQ(IdOf(schedule.Next(kT0 + absl::Seconds(6))), std::nullopt);
}

TEST(KeyScheduleTest, FirstListedWinsATieAndTakenKeysLeaveTheCurrent) {
  KeySchedule schedule;
  schedule.Set({Key(3, absl::ZeroDuration()), Key(2, absl::ZeroDuration())});
  EXPECT_EQ(IdOf(schedule.Next(kT0)), 3);
  // Every key taken away, or only future ones left: keep what is in use.
  schedule.Set({});
  EXPECT_EQ(IdOf(schedule.Next(kT0 + absl::Seconds(1))), std::nullopt);
  schedule.Set({Key(4, absl::Seconds(9))});
  EXPECT_EQ(IdOf(schedule.Next(kT0 + absl::Seconds(2))), std::nullopt);
  EXPECT_EQ(IdOf(schedule.Next(kT0 + absl::Seconds(9))), 4);
}

}  // namespace
}  // namespace source
}  // namespace cascade
