// What each step of a scenario does to the running network: loss, kill -9
// and revival of a relay, drain and restore, the controller's kill or
// stall, an upstream selection.
#ifndef CASCADE_TOOLS_SIM_SCENARIO_STEPS_H_
#define CASCADE_TOOLS_SIM_SCENARIO_STEPS_H_

#include <vector>

#include "absl/time/time.h"
#include "proto/sim_scenario.pb.h"
#include "tools/sim/admin_calls.h"
#include "tools/sim/control_plane.h"
#include "tools/sim/network_plan.h"
#include "tools/sim/process_layout.h"
#include "tools/sim/relay_processes.h"
#include "tools/sim/report.h"
#include "tools/sim/supervisor.h"

namespace cascade::sim {

struct ScenarioStepsOptions {
  // Relays take their assignments from topologyd (else standalone: a drain
  // or selection does not change the media path).
  bool controller = true;
  // The leader's lease with etcd: how long a takeover may take.
  absl::Duration leader_ttl = absl::Seconds(2);
  // The program's keys are topologyd's (--srtp in controller mode): a
  // rotate_stream_key step has something to rotate.
  bool keys_from_controller = false;
};

class ScenarioSteps {
 public:
  // Everything given must outlive this.
  ScenarioSteps(const NetworkPlan& plan, const ProcessLayout& layout,
                const ScenarioStepsOptions& options, Supervisor* supervisor,
                RelayProcesses* relays, ControlPlane* control_plane,
                AdminCalls* admin);

  // Does `step` (the run's `step_index`-th) and says what happened; the
  // caller sets its time and label. A select_sites step appends each site
  // it selected to `selections`, timed from `media_start`.
  cascade::v1::SimStepResult Execute(
      const cascade::v1::SimStep& step, size_t step_index,
      absl::Time media_start, std::vector<UpstreamSelectionRun>* selections);

 private:
  // Admin SelectUpstream of each site a select_sites step names.
  bool SelectSites(const cascade::v1::SimStep& step, size_t step_index,
                   absl::Time media_start,
                   std::vector<UpstreamSelectionRun>* selections,
                   std::string* detail);

  const NetworkPlan& plan_;
  const ProcessLayout& layout_;
  const ScenarioStepsOptions options_;
  Supervisor* supervisor_;
  RelayProcesses* relays_;
  ControlPlane* control_plane_;
  AdminCalls* admin_;
};

}  // namespace cascade::sim

#endif  // CASCADE_TOOLS_SIM_SCENARIO_STEPS_H_
