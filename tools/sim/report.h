// Turns what a simulation run recorded (probe JSON lines, source counters,
// steps, process usage) into report.json's figures.
#ifndef CASCADE_TOOLS_SIM_REPORT_H_
#define CASCADE_TOOLS_SIM_REPORT_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "google/protobuf/message.h"
#include "proto/sim_scenario.pb.h"
#include "tools/sim/network_plan.h"
#include "tools/sim/supervisor.h"

namespace cascade::sim {

// One relay-probe process of the run.
struct ProbeGroupRun {
  std::string name;
  // "site" for the sites of the topology; "national", "provincial" or
  // "district" for a tier probe joined straight to a relay of that tier.
  std::string tier;
  std::vector<std::string> site_ids;   // in the order of its sites file
  std::vector<std::string> addresses;  // each site's listen address
  // Seconds from the first media packet to the probe's start.
  double offset_s = 0;
  std::vector<cascade::v1::ProbeLine> intervals;
  std::optional<cascade::v1::ProbeLine> final;
};

// A site a select_sites step selected, with its upstream stream's SSRC.
struct UpstreamSelectionRun {
  size_t step_index = 0;  // into SimRun::steps
  std::string site;
  uint32_t ssrc = 0;
  bool ok = false;  // topologyd accepted the SelectUpstream call
  // The call changed the relays' assignments at once (false: topologyd
  // pushed nothing then, as while it learns after a restart).
  bool pushed_at_call = true;
  // When relay-sim called SelectUpstream: Unix time in ms (to compare with
  // relay-source's first arrivals) and seconds from the first media packet.
  double called_unix_ms = 0;
  double at_s = 0;
};

struct SimRun {
  std::string topology_name;
  std::string mode;
  cascade::v1::SimScenario scenario;
  double probe_interval_s = 0;
  absl::Duration parent_timeout;
  absl::Duration keepalive;
  std::vector<ProbeGroupRun> groups;
  // relayd processes at the start.
  int relay_processes = 0;
  std::optional<cascade::v1::SourceCounters> source;
  std::vector<cascade::v1::SimStepResult> steps;
  cascade::v1::SimControlPlane control_plane;
  absl::flat_hash_map<std::string, KindUsage> usage;
  double wall_s = 0;
  double warmup_s = 0;
  std::vector<std::string> problems;
  std::map<std::string, double> relay_metrics;
  std::vector<UpstreamSelectionRun> upstream;
  // Each relay's parent changes so far (failovers and moves), read before
  // each step and once more at the end: one entry more than `steps`.
  std::vector<absl::flat_hash_map<std::string, int64_t>> relay_parent_changes;
};

// Parses one JSON line of relay-probe (unknown fields ignored).
absl::StatusOr<cascade::v1::ProbeLine> ParseProbeLine(const std::string& json);
// Parses relay-source's final --json line.
absl::StatusOr<cascade::v1::SourceCounters> ParseSourceLine(
    const std::string& json);

cascade::v1::SimReport BuildReport(const NetworkPlan& plan, const SimRun& run);

// report.json's and spread.json's text (proto field names, every field
// printed).
std::string ReportJson(const google::protobuf::Message& report);

// Health of a node for colouring: the share of its sites that received
// every packet.
double SiteHealth(const cascade::v1::SimNodeHealth& node);

}  // namespace cascade::sim

#endif  // CASCADE_TOOLS_SIM_REPORT_H_
