// relay-sim's scenario: the scenario file with what the command line lays
// over it (a new duration, the video's rate), checked against the plan.
#ifndef CASCADE_TOOLS_SIM_SCENARIO_FILE_H_
#define CASCADE_TOOLS_SIM_SCENARIO_FILE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/sim_scenario.pb.h"
#include "tools/sim/network_plan.h"

namespace cascade::sim {

struct ScenarioOverrides {
  // Seconds of media, the steps scaled to fit; 0: the scenario's own.
  double duration_s = 0;
  // 0: the scenario's, else the default.
  int video_kbps = 0;
  int frame_rate = 0;
  int default_kbps = 0;
  int default_fps = 0;
};

// The text cascade.v1.SimScenario at `path` with `overrides` laid over it.
// An error's message is for the user, naming the flag at fault.
absl::StatusOr<cascade::v1::SimScenario> LoadScenario(
    const std::string& path, const ScenarioOverrides& overrides);

// Every node a step names (kill, revive, drain, restore) is in `plan`.
absl::Status CheckStepNodes(const NetworkPlan& plan,
                            const cascade::v1::SimScenario& scenario);

}  // namespace cascade::sim

#endif  // CASCADE_TOOLS_SIM_SCENARIO_FILE_H_
