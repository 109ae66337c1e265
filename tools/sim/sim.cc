// RunSimulation and the run's start-up: the output directories, the
// layout, the PKI and the topology, then the assignments topologyd gives.
#include "tools/sim/sim.h"

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/files.h"
#include "google/protobuf/text_format.h"
#include "tools/sim/files.h"
#include "tools/sim/sim_pki.h"
#include "tools/sim/simulation.h"

namespace cascade::sim {

absl::StatusOr<SimRun> RunSimulation(const NetworkPlan& plan,
                                     const SimOptions& options) {
  Simulation simulation(plan, options);
  return simulation.Run();
}

Simulation::Simulation(const NetworkPlan& plan, const SimOptions& options)
    : plan_(plan),
      options_(options),
      control_plane_(
          ControlPlaneOptions{options.topologyd, options.etcd, options.out_dir,
                              Out("topology.textproto"), options.leader_ttl,
                              // Four reports per lease: one or two late
                              // on a loaded machine cost nothing.
                              std::max(absl::Seconds(3), 4 * options.keepalive),
                              options.interrupted, options.tcp_delay,
                              options.store_delay,
                              [&plan](const std::string& id) {
                                return plan.relay(id) != nullptr;
                              },
                              SimPki(Out("pki"))},
          &supervisor_, &run_.control_plane, &run_.problems),
      relays_(
          plan, &layout_,
          RelayProcessOptions{
              options.relayd, options.out_dir,
              options.controller ? control_plane_.Addresses() : "",
              options.parent_timeout, options.keepalive,
              options.startup_timeout, options.interrupted, SimPki(Out("pki"))},
          &supervisor_),
      admin_(&control_plane_, options.controller, &run_.control_plane,
             [this](absl::Time until) { return SleepUntil(until); }),
      steps_(plan, layout_,
             ScenarioStepsOptions{options.controller, options.leader_ttl,
                                  options.srtp && options.controller},
             &supervisor_, &relays_, &control_plane_, &admin_) {
  run_.topology_name = options.topology_name;
  run_.mode = options.controller ? "controller" : "standalone";
  run_.scenario = options.scenario;
  run_.probe_interval_s = options.probe_interval_s;
  run_.parent_timeout = options.parent_timeout;
  run_.keepalive = options.keepalive;
}

absl::StatusOr<SimRun> Simulation::Run() {
  started_ = absl::Now();
  if (absl::Status s = Prepare(); !s.ok()) return s;
  if (absl::Status s = control_plane_.Start(); !s.ok()) return s;
  relays_started_ = absl::Now();
  if (absl::Status s = relays_.StartAll(); !s.ok()) return s;
  if (options_.controller) {
    if (absl::Status s = TakeAssignments(); !s.ok()) return s;
  }
  if (absl::Status s = StartProbes(); !s.ok()) return s;
  if (absl::Status s = WarmUp(); !s.ok()) return s;
  if (absl::Status s = MintWatchUrls(); !s.ok()) return s;
  if (absl::Status s = StartWhepSites(); !s.ok()) return s;
  if (absl::Status s = StartSource(); !s.ok()) return s;
  if (absl::Status s = PlayScenario(); !s.ok()) return s;
  if (absl::Status s = Finish(); !s.ok()) return s;
  return std::move(run_);
}

void Simulation::Tick() {
  for (const Ended& ended : supervisor_.ReapExited()) {
    if (control_plane_.OnExit(ended)) continue;
    // The source ends by itself after --duration.
    if (ended.kind == "relay-source" && ended.code == 0) continue;
    run_.problems.push_back(absl::StrCat(
        ended.description, " (unexpected; see ", options_.out_dir, "/logs)"));
  }
  control_plane_.Tick();
}

absl::Status Simulation::SleepUntil(absl::Time until) {
  while (absl::Now() < until) {
    if (Interrupted()) return absl::CancelledError("interrupted");
    Tick();
    absl::SleepFor(std::min(kPoll, until - absl::Now()));
  }
  return absl::OkStatus();
}

absl::Status Simulation::Prepare() {
  if (absl::Status s = MakeDir(Out("")); !s.ok()) return s;
  // In an OUT relay-sim wrote before (its topology.textproto there),
  // topologyd would resume from the old state and the logs, appended to,
  // would mix both runs: its subdirectories are emptied first.
  const bool used = std::filesystem::exists(Out("topology.textproto"));
  for (const char* dir :
       {"logs", "config", "ports", "probes", "metrics", "controller", "pki"}) {
    std::error_code ignored;
    if (used) std::filesystem::remove_all(Out(dir), ignored);
    if (absl::Status s = MakeDir(Out(dir)); !s.ok()) return s;
  }
  std::error_code ignored;
  std::filesystem::remove(Out("watch-urls.txt"), ignored);
  absl::StatusOr<ProcessLayout> layout = LayOutProcesses(
      plan_, options_.scenario,
      LayoutOptions{options_.controller, options_.sites_per_probe,
                    options_.relays_per_process, options_.browser_edges,
                    KeysFromController()});
  if (!layout.ok()) return layout.status();
  layout_ = *std::move(layout);
  // Mutual TLS between every process that speaks gRPC: a certificate per
  // relayd process, naming its relays.
  std::vector<std::pair<std::string, std::vector<std::string>>> groups;
  for (const RelayProcessGroup& group : layout_.relay_groups) {
    std::vector<std::string> ids;
    for (const PlanRelay* relay : group.relays) ids.push_back(relay->id);
    groups.emplace_back(group.name, std::move(ids));
  }
  // The stream keys' holders: relay-source as the command center, each
  // relay-probe process for its sites.
  SimPki::Holders holders;
  if (KeysFromController()) {
    holders.emplace_back(kSourceHolder,
                         std::vector<std::string>{layout_.stream_source});
    for (const ProbeGroupRun& group : layout_.probe_groups) {
      holders.emplace_back(group.name, layout_.members[group.name]);
    }
  }
  if (absl::Status s =
          SimPki(Out("pki")).Make(control_plane_.Hosts(), groups, holders);
      !s.ok()) {
    return s;
  }
  if (options_.srtp && !KeysFromController()) {
    if (absl::Status s = SimPki(Out("pki")).MakeStreamKey(); !s.ok()) {
      return s;
    }
  }
  run_.groups = layout_.probe_groups;
  run_.relay_processes = static_cast<int>(layout_.relay_groups.size());
  std::string text;
  google::protobuf::TextFormat::PrintToString(layout_.topology, &text);
  return WriteFile(Out("topology.textproto"), text);
}

absl::Status Simulation::TakeAssignments() {
  const absl::Time start = absl::Now();
  // Up and acked: a relay slow to register may have been counted down
  // and its children placed elsewhere until it showed up.
  absl::StatusOr<int> acked =
      admin_.WaitForAcks({}, start + options_.startup_timeout,
                         /*all_up=*/true);
  if (!acked.ok()) {
    return absl::DeadlineExceededError(
        absl::StrCat("relays did not ack their first assignment: ",
                     acked.status().message()));
  }
  run_.control_plane.set_first_assignment_ms(
      absl::ToDoubleMilliseconds(absl::Now() - relays_started_));
  absl::StatusOr<cascade::v1::GetTopologyResponse> topology =
      admin_.GetTopology();
  if (!topology.ok()) return topology.status();
  int moved = 0;
  for (const cascade::v1::NodeView& node : topology->nodes()) {
    // Tier probes stay on their one relay: latency at that tier.
    auto site = layout_.site_parents.find(node.id());
    if (site == layout_.site_parents.end() ||
        layout_.tier_probe_keys.contains(node.id())) {
      continue;
    }
    std::vector<std::string> parents;
    for (const std::string& parent : node.parents()) {
      if (plan_.relay(parent) != nullptr) parents.push_back(parent);
    }
    if (parents.empty()) {
      run_.problems.push_back(absl::StrCat("topologyd gave site ", node.id(),
                                           " no parent; it joins ",
                                           site->second[0]));
      continue;
    }
    if (parents != site->second) ++moved;
    site->second = std::move(parents);
  }
  if (moved > 0) {
    run_.problems.push_back(absl::StrCat(
        moved,
        " sites got other parents from topologyd than the topology "
        "names (capacity); they join topologyd's"));
  }
  return absl::OkStatus();
}

}  // namespace cascade::sim
