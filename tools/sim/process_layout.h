// Which process runs which node of the simulated network, decided before
// anything starts: the relays in relayd processes, the sites and tier probes
// in relay-probe processes, and the topology topologyd is given (the plan's,
// with the tier probes and the upstream streams the scenario will select).
#ifndef CASCADE_TOOLS_SIM_PROCESS_LAYOUT_H_
#define CASCADE_TOOLS_SIM_PROCESS_LAYOUT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "proto/sim_scenario.pb.h"
#include "proto/topology.pb.h"
#include "tools/sim/browser_edge.h"
#include "tools/sim/network_plan.h"
#include "tools/sim/report.h"
#include "tools/sim/standalone_config.h"

namespace cascade::sim {

// One relayd process and the relays it runs.
struct RelayProcessGroup {
  // Its first relay's id, "+N" when it runs N more: logs/NAME.log.
  std::string name;
  std::vector<const PlanRelay*> relays;
  int generation = 0;  // restarts so far (revive)
};

struct LayoutOptions {
  // Relays take their assignments from topologyd; standalone relays read
  // one config file each, so they run alone.
  bool controller = true;
  int sites_per_probe = 256;
  int relays_per_process = 16;
  // District relays that serve browsers too (--browser_edge): each runs
  // alone (relayd --edge serves one relay) and gets its edge_address.
  std::vector<BrowserEdge> browser_edges;
  // With the controller: topologyd hands the program's stream keys to
  // relay-source, as the command center (ProcessLayout::stream_source).
  bool stream_keys = false;
};

struct ProcessLayout {
  // topologyd's topology: the plan's, with the tier probes as sites of
  // their relays and one upstream stream per site a step selects.
  cascade::v1::Topology topology;
  // The relay-probe processes, tier probes first; no figures yet.
  std::vector<ProbeGroupRun> probe_groups;
  // Each probe group's members (sites, or a tier probe) in file order.
  absl::flat_hash_map<std::string, std::vector<std::string>> members;
  // The parents each site and tier probe joins, in order.
  absl::flat_hash_map<std::string, std::vector<std::string>> site_parents;
  // Tier probes' node keys (they are not in the plan).
  absl::flat_hash_map<std::string, std::string> tier_probe_keys;
  // The tier probes a relay serves besides its topology's children (for
  // standalone configs).
  absl::flat_hash_map<std::string, std::vector<ExtraChild>> extra_children;
  // The relayd processes, and which one runs each relay.
  std::vector<RelayProcessGroup> relay_groups;
  absl::flat_hash_map<std::string, size_t> group_of_relay;
  // The relays with a browser edge, by id.
  absl::flat_hash_map<std::string, BrowserEdge> browser_edges;
  // The SSRC of each upstream stream, by site.
  absl::flat_hash_map<std::string, uint32_t> upstream_ssrc;
  // The node relay-source is in topologyd's topology (LayoutOptions::
  // stream_keys): the downstream streams' source, a plain endpoint at the
  // plan's source address (kCommandCenter unless the topology has one).
  std::string stream_source;
};

// The command center's node id when relay-sim adds it.
inline constexpr char kCommandCenter[] = "center";

// The layout of `plan` for `scenario`: a probe process per fault target's
// sites (so a fault's affected sites are whole processes) or else per
// province, at most sites_per_probe each; a relayd process per province's
// relays and others for the standbys, at most relays_per_process each, the
// roots, the relays a step kills or revives and the browser edges alone.
// Fails on a step naming a node the plan does not have, and on a browser
// edge that is not a relay of the plan.
absl::StatusOr<ProcessLayout> LayOutProcesses(
    const NetworkPlan& plan, const cascade::v1::SimScenario& scenario,
    const LayoutOptions& options);

// A member's relay-probe line: LISTEN PARENT NODE_ID KEY [PARENT KEY]...
// [upstream=SSRC], the active parent first, then its standbys.
std::string ProbeSitesLine(const NetworkPlan& plan, const ProcessLayout& layout,
                           const std::string& id, const std::string& address);

// The sites a select_sites step of `count` selects: site i * sites / count
// for i = 0..count-1, spread over the tree.
std::vector<std::string> SitesToSelect(const NetworkPlan& plan, uint32_t count);

}  // namespace cascade::sim

#endif  // CASCADE_TOOLS_SIM_PROCESS_LAYOUT_H_
