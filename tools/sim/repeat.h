// relay-sim --repeat=N: the same simulation N times one after the other,
// each a relay-sim process of its own (its own network namespace; a crash
// or a hang costs that run only), then the spread of the headline figures.
#ifndef CASCADE_TOOLS_SIM_REPEAT_H_
#define CASCADE_TOOLS_SIM_REPEAT_H_

#include <atomic>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/sim_scenario.pb.h"

namespace cascade::sim {

struct RepeatOptions {
  // relay-sim's own binary and the flags each run gets besides --out.
  std::string relay_sim;
  std::vector<std::string> flags;
  // Run K writes into OUT/run-K (its log OUT/run-K/relay-sim.log); the
  // spread goes to OUT/spread.json.
  std::string out_dir;
  int runs = 1;
  // A run still going after this is stopped and counts as failed.
  absl::Duration run_timeout = absl::Minutes(15);
  // For spread.json.
  std::string scenario;
  std::string topology;
  // Set from a signal handler: stop the current run and return.
  const std::atomic<bool>* interrupted = nullptr;
};

// Runs them, writing a line to `progress` as each ends, and writes
// spread.json. Cancelled when interrupted (the run under way stopped).
absl::StatusOr<cascade::v1::SimSpread> RunRepeated(const RepeatOptions& options,
                                                   std::ostream& progress);

}  // namespace cascade::sim

#endif  // CASCADE_TOOLS_SIM_REPEAT_H_
