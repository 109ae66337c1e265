#include "tests/common/wait.h"

#include <algorithm>

#include "absl/time/clock.h"

namespace cascade::testing {

::testing::AssertionResult WaitUntil(absl::string_view what,
                                     absl::Duration timeout,
                                     const std::function<bool()>& condition) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    const absl::Time checked = absl::Now();
    if (condition()) return ::testing::AssertionSuccess();
    const absl::Time now = absl::Now();
    if (now >= deadline) break;
    // Pausing as long as the check took: a cheap check (a metrics page) is
    // repeated within milliseconds, an expensive one (a relayctl run) leaves
    // the loaded machine at least half of the time.
    const absl::Duration pause = std::clamp(
        now - checked, absl::Milliseconds(10), absl::Milliseconds(250));
    absl::SleepFor(std::min(pause, deadline - now));
  }
  return ::testing::AssertionFailure()
         << "timed out after " << absl::FormatDuration(timeout)
         << " waiting until " << what;
}

void RunFor(absl::Duration duration) { absl::SleepFor(duration); }

}  // namespace cascade::testing
