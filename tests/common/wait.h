// Bounded waits for integration tests. A test never sleeps to let something
// happen: it waits, with a deadline, for the condition it needs, and a
// timeout fails naming that condition. Time passes on purpose only through
// RunFor, for durations that are themselves under test.
#ifndef CASCADE_TESTS_COMMON_WAIT_H_
#define CASCADE_TESTS_COMMON_WAIT_H_

#include <gtest/gtest.h>

#include <functional>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace cascade::testing {

// A deadline for what should come within a second or two: generous, since
// the machine runs other builds and tests at the same time.
inline constexpr absl::Duration kWaitTimeout = absl::Seconds(20);

// Checks `condition` until it holds or `timeout` has passed (it is checked
// once more at the deadline). On timeout the result says "timed out after
// TIMEOUT waiting until WHAT", so ASSERT_TRUE(WaitUntil(...)) names the
// condition that never came.
::testing::AssertionResult WaitUntil(absl::string_view what,
                                     absl::Duration timeout,
                                     const std::function<bool()>& condition);

// Lets `duration` pass while the system under test runs, for a duration the
// test imposes or measures: a stream's pace, an outage, a fault held for a
// while. Never a wait for something to happen: that is WaitUntil.
void RunFor(absl::Duration duration);

}  // namespace cascade::testing

#endif  // CASCADE_TESTS_COMMON_WAIT_H_
