// The run behind RunSimulation (sim.h), from the first process to the
// report's raw figures. Its parts, each in its own file: the start-up
// (sim.cc), the media's processes (sim_media.cc), the browser edges
// (sim_browsers.cc), and the scenario played and collected (sim_play.cc).
#ifndef CASCADE_TOOLS_SIM_SIMULATION_H_
#define CASCADE_TOOLS_SIM_SIMULATION_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "proto/controller.pb.h"
#include "tools/sim/admin_calls.h"
#include "tools/sim/control_plane.h"
#include "tools/sim/network_plan.h"
#include "tools/sim/process_layout.h"
#include "tools/sim/relay_processes.h"
#include "tools/sim/report.h"
#include "tools/sim/scenario_steps.h"
#include "tools/sim/sim.h"
#include "tools/sim/supervisor.h"

namespace cascade::sim {

// The processes of the layout, the warm-up, the scenario's steps on the
// media's clock, and what every process said at the end.
class Simulation {
 public:
  Simulation(const NetworkPlan& plan, const SimOptions& options);

  absl::StatusOr<SimRun> Run();

 private:
  static constexpr absl::Duration kPoll = absl::Milliseconds(50);
  // relay-source's name among the stream key holders (SimPki).
  static constexpr char kSourceHolder[] = "relay-source";

  std::string Out(absl::string_view relative) const {
    return absl::StrCat(options_.out_dir, "/", relative);
  }

  bool Interrupted() const {
    return options_.interrupted != nullptr && options_.interrupted->load();
  }

  // Notes processes that ended on their own (the control plane restarts
  // controllers) and runs the control plane's restarts and polls.
  void Tick();
  absl::Status SleepUntil(absl::Time until);

  // The output directories, the layout of the processes, and the topology
  // topologyd starts with.
  absl::Status Prepare();
  // Controller mode: every relay is up and acked its assignment, then each
  // site joins the parents topologyd gave it (its view's effective
  // parents), with the link keys derived from its node key.
  absl::Status TakeAssignments();

  absl::Status StartProbes();
  // Waits until every relay serves every child that names it first: the
  // tree is joined before the first packet.
  absl::Status WarmUp();
  absl::Status StartSource();
  // The program is encrypted under keys topologyd makes (controller mode),
  // or else under a key file's.
  bool KeysFromController() const {
    return options_.srtp && options_.controller;
  }
  // `argv` with what gives stream key holder `holder` (kSourceHolder, a
  // probe group) its keys; as it is for plain RTP.
  std::vector<std::string> WithStreamKeys(const std::string& holder,
                                          std::vector<std::string> argv) const;

  // --browser_edge: a watch URL for the first site under each edge
  // district (its active parent now, as topologyd mints for it: a relay
  // slow to register may have lost its sites for a while at the start),
  // for a person to open while the run goes on. The first mint makes
  // topologyd's first edge key, which every relay's assignment then
  // carries: the call waits for the acks, so the URL works once printed.
  // Minted before the media, so no step's window has the push in it.
  absl::Status MintWatchUrls();
  // --whep_sites: a relay-probe --whep per edge, its viewers on the watch
  // URL's token at the edge's own address in here, each a site of the run.
  // The relay's answers name the bridge's end outside (for browsers): what
  // the viewers send there goes to the relay's socket. Connected before the
  // media, as the other sites are.
  absl::Status StartWhepSites();
  // Each WHEP group's sessions (connected, first pictures) in the detail of
  // the call that minted their token, and on the console.
  void SummarizeWhepSites();

  absl::Status PlayScenario();
  absl::Status Finish();

  const NetworkPlan& plan_;
  const SimOptions& options_;
  Supervisor supervisor_;
  SimRun run_;
  ProcessLayout layout_;
  ControlPlane control_plane_;
  RelayProcesses relays_;
  AdminCalls admin_;
  ScenarioSteps steps_;
  absl::Time started_;
  absl::Time media_start_;
  absl::Time relays_started_;
  absl::flat_hash_map<std::string, absl::Time> probes_started_;
  // By edge relay: the watch URL's token, and its MintEdgeToken call's index
  // in the report's admin calls.
  absl::flat_hash_map<std::string, cascade::v1::MintEdgeTokenResponse> minted_;
  absl::flat_hash_map<std::string, int> mint_calls_;
};

}  // namespace cascade::sim

#endif  // CASCADE_TOOLS_SIM_SIMULATION_H_
