#include "tools/sim/sim.h"

#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <algorithm>
#include <random>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "google/protobuf/text_format.h"
#include "proto/controller.grpc.pb.h"
#include "tools/sim/control_plane.h"
#include "tools/sim/files.h"
#include "tools/sim/metrics.h"
#include "tools/sim/private_network.h"
#include "tools/sim/standalone_config.h"
#include "tools/sim/supervisor.h"
#include "topology/client/controllers.h"
#include "topology/controller.h"

namespace cascade::sim {
namespace {

constexpr char kSiteTier[] = "site";
constexpr absl::Duration kPoll = absl::Milliseconds(50);
constexpr absl::Duration kAdminDeadline = absl::Seconds(3);
// relayd processes started before waiting for their ports (see
// StartRelays).
constexpr size_t kRelayProcessWave = 64;
// The longest wait for relays to ack a change's assignments.
constexpr absl::Duration kPushTimeout = absl::Seconds(10);
// Beyond the leader's lease: etcd expiring it, a campaign, the new leader
// recovering the state from etcd.
constexpr absl::Duration kTakeoverMargin = absl::Seconds(15);
// Upstream streams of the sites a select_sites step selects: SSRCs from
// here on (skipping the topology's), and relay-probe's default upstream
// rate (20 packets/s of 200 bytes) as the streams' bitrate.
constexpr uint32_t kUpstreamSsrcBase = 0x55500001;
constexpr uint32_t kUpstreamKbps = 32;
// Relay counters summed into the report.
constexpr const char* kRelayMetrics[] = {
    "relay_stream_packets_in_total",
    "relay_stream_packets_out_total",
    "relay_nacks_received_total",
    "relay_nacks_answered_total",
    "relay_nacks_sent_total",
    "relay_nack_repaired_total",
    "relay_nack_gave_up_total",
    "relay_keyframe_requests_received_total",
    "relay_keyframe_requests_sent_total",
    "relay_keyframe_cache_packets_sent_total",
    "relay_activations_total",
    "relay_child_timeouts_total",
    "relay_drops_total",
    "relay_udp_send_errors_total"};

// The value after "key=" in a relayd port file, or 0.
int PortFileValue(const std::string& text, absl::string_view key) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    int port = 0;
    if (absl::ConsumePrefix(&line, key) && absl::ConsumePrefix(&line, "=") &&
        absl::SimpleAtoi(line, &port)) {
      return port;
    }
  }
  return 0;
}

std::string Host(const std::string& address) {
  return std::string(address.substr(0, address.rfind(':')));
}

// One relayd process and the relays it runs.
struct RelayProcessGroup {
  std::string name;
  std::vector<const PlanRelay*> relays;
  int generation = 0;  // restarts so far (revive)
};

// Where a relay serves its Prometheus text.
struct MetricsPage {
  std::string address;
  std::string path;
};

class Simulation {
 public:
  Simulation(const NetworkPlan& plan, const SimOptions& options)
      : plan_(plan),
        options_(options),
        random_(0x7e57),
        control_plane_(
            ControlPlaneOptions{
                options.topologyd, options.etcd, options.out_dir,
                Out("topology.textproto"), options.leader_ttl,
                // Four reports per lease: one or two late
                // on a loaded machine cost nothing.
                std::max(absl::Seconds(3), 4 * options.keepalive),
                options.interrupted},
            &supervisor_, &run_.control_plane, &run_.problems) {
    run_.topology_name = options.topology_name;
    run_.mode = options.controller ? "controller" : "standalone";
    run_.scenario = options.scenario;
    run_.probe_interval_s = options.probe_interval_s;
    run_.parent_timeout = options.parent_timeout;
    run_.keepalive = options.keepalive;
  }

  absl::StatusOr<SimRun> Run() {
    started_ = absl::Now();
    if (absl::Status s = Prepare(); !s.ok()) return s;
    if (absl::Status s = control_plane_.Start(); !s.ok()) return s;
    if (absl::Status s = StartRelays(); !s.ok()) return s;
    if (options_.controller) {
      if (absl::Status s = TakeAssignments(); !s.ok()) return s;
    }
    if (absl::Status s = StartProbes(); !s.ok()) return s;
    if (absl::Status s = WarmUp(); !s.ok()) return s;
    if (absl::Status s = StartSource(); !s.ok()) return s;
    if (absl::Status s = PlayScenario(); !s.ok()) return s;
    if (absl::Status s = Finish(); !s.ok()) return s;
    return std::move(run_);
  }

 private:
  std::string Out(absl::string_view relative) const {
    return absl::StrCat(options_.out_dir, "/", relative);
  }

  bool Interrupted() const {
    return options_.interrupted != nullptr && options_.interrupted->load();
  }

  // Notes processes that ended on their own (the control plane restarts
  // controllers) and runs the control plane's restarts and polls.
  void Tick() {
    for (const Ended& ended : supervisor_.ReapExited()) {
      if (control_plane_.OnExit(ended)) continue;
      // The source ends by itself after --duration.
      if (ended.kind == "relay-source" && ended.code == 0) continue;
      run_.problems.push_back(absl::StrCat(
          ended.description, " (unexpected; see ", options_.out_dir, "/logs)"));
    }
    control_plane_.Tick();
  }

  absl::Status SleepUntil(absl::Time until) {
    while (absl::Now() < until) {
      if (Interrupted()) return absl::CancelledError("interrupted");
      Tick();
      absl::SleepFor(std::min(kPoll, until - absl::Now()));
    }
    return absl::OkStatus();
  }

  // A node key of topologyd's length (32 bytes) for a tier probe.
  std::string NewNodeKey() {
    std::string key;
    for (int i = 0; i < 4; ++i) {
      const uint64_t word = random_();
      key.append(reinterpret_cast<const char*>(&word), sizeof(word));
    }
    return key;
  }

  // The hex key of the link child -> parent, derived from the child's node
  // key as topologyd derives it (tier probes are not in the plan).
  std::string LinkKeyHex(const std::string& parent,
                         const std::string& child) const {
    auto probe = tier_probe_keys_.find(child);
    const std::string& key = probe == tier_probe_keys_.end()
                                 ? plan_.node_keys.at(child)
                                 : probe->second;
    return absl::BytesToHexString(topology::LinkKey(key, parent));
  }

  // The sites a select_sites step of `count` selects: spread over the tree
  // (different provinces where there are any).
  std::vector<std::string> SitesToSelect(uint32_t count) const {
    const size_t n = std::min<size_t>(count, plan_.sites.size());
    std::vector<std::string> sites;
    for (size_t i = 0; i < n; ++i) {
      sites.push_back(plan_.sites[i * plan_.sites.size() / n].id);
    }
    return sites;
  }

  // One upstream stream (a video track of its own SSRC) for each site a
  // select_sites step will select, and only those, to keep the load low.
  void AddUpstreamStreams(cascade::v1::Topology* topology) {
    absl::flat_hash_set<uint32_t> used;
    for (const cascade::v1::Stream& stream : topology->streams()) {
      for (const cascade::v1::Track& track : stream.tracks()) {
        used.insert(track.ssrc());
      }
    }
    uint32_t ssrc = kUpstreamSsrcBase;
    for (const cascade::v1::SimStep& step : options_.scenario.steps()) {
      if (!step.has_select_sites()) continue;
      for (const std::string& site : SitesToSelect(step.select_sites())) {
        if (upstream_ssrc_.contains(site)) continue;
        while (used.contains(ssrc)) ++ssrc;
        used.insert(ssrc);
        upstream_ssrc_[site] = ssrc;
        cascade::v1::Stream* stream = topology->add_streams();
        stream->set_id("upstream-" + site);
        stream->set_direction(cascade::v1::DIRECTION_UPSTREAM);
        stream->set_source_node(site);
        stream->set_bitrate_kbps(kUpstreamKbps);
        cascade::v1::Track* track = stream->add_tracks();
        track->set_ssrc(ssrc);
        track->set_media("video");
        track->set_payload_type(96);
        track->set_encoding("H264/90000");
      }
    }
  }

  absl::Status Prepare() {
    for (const char* dir :
         {"", "logs", "config", "ports", "probes", "metrics", "controller"}) {
      if (absl::Status s = MakeDir(Out(dir)); !s.ok()) return s;
    }
    // topologyd's topology: the plan's, with the tier probes as sites of
    // their relays (one more child each).
    cascade::v1::Topology topology = plan_.topology;
    // Tier probes: one site joined straight to the relays above the first
    // site, so latency is measured at every tier.
    const std::vector<std::string> path = plan_.PrimaryPath(plan_.sites[0].id);
    int tier_index = 0;
    for (const std::string& id : path) {
      const PlanRelay* relay = plan_.relay(id);
      if (relay == nullptr) continue;
      ProbeGroupRun group;
      group.tier = relay->tier == cascade::v1::TIER_NATIONAL     ? "national"
                   : relay->tier == cascade::v1::TIER_PROVINCIAL ? "provincial"
                                                                 : "district";
      group.name = "tier-" + group.tier;
      const std::string probe_id = "probe-" + group.tier;
      tier_probe_keys_[probe_id] = NewNodeKey();
      extra_children_[id].push_back({probe_id, LinkKeyHex(id, probe_id)});
      group.addresses.push_back(
          absl::StrFormat("127.3.0.%d:%d", ++tier_index, 5000));
      members_[group.name] = {probe_id};
      site_parents_[probe_id] = {id};
      cascade::v1::Node* node = topology.add_nodes();
      node->set_id(probe_id);
      node->set_tier(cascade::v1::TIER_SITE);
      node->set_parent(id);
      node->set_media_address(group.addresses.back());
      node->set_key(tier_probe_keys_[probe_id]);
      for (cascade::v1::Node& above : *topology.mutable_nodes()) {
        if (above.id() == id && above.capacity().max_children() > 0) {
          above.mutable_capacity()->set_max_children(
              above.capacity().max_children() + 1);
        }
      }
      run_.groups.push_back(std::move(group));
    }
    for (const PlanSite& site : plan_.sites) {
      site_parents_[site.id] = site.parents;
    }
    AddUpstreamStreams(&topology);
    std::string text;
    google::protobuf::TextFormat::PrintToString(topology, &text);
    if (absl::Status s = WriteFile(Out("topology.textproto"), text); !s.ok()) {
      return s;
    }
    if (absl::Status s = GroupSites(); !s.ok()) return s;
    return GroupRelays();
  }

  // Sites in probe processes: one group per fault target (so a fault's
  // affected sites are whole groups) or else per province, split to at
  // most sites_per_probe.
  absl::Status GroupSites() {
    absl::flat_hash_set<std::string> targets;
    for (const cascade::v1::SimStep& step : options_.scenario.steps()) {
      for (const std::string* node :
           {&step.kill(), &step.revive(), &step.drain(), &step.restore()}) {
        if (node->empty()) continue;
        absl::StatusOr<std::string> id = plan_.Resolve(*node);
        if (!id.ok()) return id.status();
        const PlanRelay* relay = plan_.relay(*id);
        if (relay != nullptr && relay->tier != cascade::v1::TIER_NATIONAL) {
          targets.insert(*id);
        }
      }
    }
    std::vector<std::string> keys;
    absl::flat_hash_map<std::string, std::vector<int>> members;
    for (size_t i = 0; i < plan_.sites.size(); ++i) {
      std::string key;
      for (const std::string& id : plan_.PrimaryPath(plan_.sites[i].id)) {
        const PlanRelay* relay = plan_.relay(id);
        if (relay == nullptr) continue;
        if (targets.contains(id) ||
            (key.empty() && relay->tier == cascade::v1::TIER_PROVINCIAL)) {
          key = id;
          if (targets.contains(id)) break;
        }
      }
      if (!members.contains(key)) keys.push_back(key);
      members[key].push_back(static_cast<int>(i));
    }
    for (const std::string& key : keys) {
      const std::vector<int>& sites = members[key];
      for (size_t start = 0; start < sites.size();
           start += options_.sites_per_probe) {
        ProbeGroupRun group;
        group.tier = kSiteTier;
        group.name = absl::StrCat("sites-", key.empty() ? "other" : key, "-",
                                  start / options_.sites_per_probe + 1);
        std::vector<std::string>& members = members_[group.name];
        const size_t end =
            std::min(sites.size(), start + options_.sites_per_probe);
        for (size_t k = start; k < end; ++k) {
          const PlanSite& site = plan_.sites[sites[k]];
          group.site_ids.push_back(site.id);
          group.addresses.push_back(site.address);
          members.push_back(site.id);
        }
        run_.groups.push_back(std::move(group));
      }
    }
    return absl::OkStatus();
  }

  // Relays in relayd processes (relayd --relays), so that hundreds of
  // relays cost a few dozen loop threads: the relays of a province (its
  // active relay and its districts) share one, standbys share others, at
  // most relays_per_process each. Roots (started with --source) and relays
  // a step kills or revives run alone: kill -9 must hit exactly its relay.
  // Standalone relays read one config file each, so they run alone too.
  absl::Status GroupRelays() {
    absl::flat_hash_set<std::string> alone(plan_.roots.begin(),
                                           plan_.roots.end());
    for (const cascade::v1::SimStep& step : options_.scenario.steps()) {
      for (const std::string* node : {&step.kill(), &step.revive()}) {
        if (node->empty()) continue;
        absl::StatusOr<std::string> id = plan_.Resolve(*node);
        if (!id.ok()) return id.status();
        alone.insert(*id);
      }
    }
    const int per_process =
        options_.controller ? options_.relays_per_process : 1;
    std::vector<std::string> keys;
    absl::flat_hash_map<std::string, std::vector<int>> members;
    for (size_t i = 0; i < plan_.relays.size(); ++i) {
      const PlanRelay& relay = plan_.relays[i];
      // Prefixed by kind: no id can make two kinds of key collide.
      std::string key = "alone " + relay.id;
      if (alone.contains(relay.id)) {
        // Stays alone.
      } else if (relay.standby) {
        key = "standbys";
      } else {
        for (const std::string& id : plan_.PrimaryPath(relay.id)) {
          const PlanRelay* above = plan_.relay(id);
          if (above != nullptr && above->tier == cascade::v1::TIER_PROVINCIAL) {
            key = "province " + id;
            break;
          }
        }
      }
      if (!members.contains(key)) keys.push_back(key);
      members[key].push_back(static_cast<int>(i));
    }
    for (const std::string& key : keys) {
      const std::vector<int>& relays = members[key];
      for (size_t start = 0; start < relays.size(); start += per_process) {
        RelayProcessGroup group;
        const size_t end = std::min(relays.size(), start + per_process);
        for (size_t k = start; k < end; ++k) {
          group.relays.push_back(&plan_.relays[relays[k]]);
        }
        // Named by its first relay: logs/NAME.log, ports/NAME.ports.
        group.name = group.relays.front()->id;
        if (group.relays.size() > 1) {
          absl::StrAppend(&group.name, "+", group.relays.size() - 1);
        }
        for (const PlanRelay* relay : group.relays) {
          group_of_relay_[relay->id] = relay_groups_.size();
        }
        relay_groups_.push_back(std::move(group));
      }
    }
    run_.relay_processes = static_cast<int>(relay_groups_.size());
    return absl::OkStatus();
  }

  // A site's relay-probe line: LISTEN PARENT NODE_ID KEY [PARENT KEY]...
  // [upstream=SSRC], the active parent first, then its standbys; a site to
  // be selected sends its upstream stream from the start (the relays drop
  // it until the selection).
  std::string ProbeLine(const std::string& id,
                        const std::string& address) const {
    std::string line = address;
    const std::vector<std::string>& parents = site_parents_.at(id);
    for (size_t i = 0; i < parents.size(); ++i) {
      absl::StrAppend(&line, " ", plan_.relay(parents[i])->address,
                      i == 0 ? " " + id : "", " ", LinkKeyHex(parents[i], id));
    }
    if (auto up = upstream_ssrc_.find(id); up != upstream_ssrc_.end()) {
      absl::StrAppend(&line, " upstream=", up->second);
    }
    return line;
  }

  // An Admin call on the controller that leads; a follower's refusal (the
  // leader changed) is sent once more to the new leader, as it was surely
  // not applied.
  grpc::Status CallLeader(
      const std::function<grpc::Status(cascade::v1::Admin::Stub*,
                                       grpc::ClientContext*)>& rpc) {
    grpc::Status status;
    for (int attempt = 0; attempt < 2; ++attempt) {
      cascade::v1::Admin::Stub* leader = control_plane_.Leader();
      if (leader == nullptr) {
        return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                            control_plane_.on_etcd()
                                ? "no topologyd leads"
                                : "topologyd is not running");
      }
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() +
                           absl::ToChronoMilliseconds(kAdminDeadline));
      status = rpc(leader, &context);
      if (status.ok() || !topology::RedirectOf(context).not_leader) break;
      control_plane_.ForgetLeader();
    }
    return status;
  }

  absl::StatusOr<cascade::v1::GetTopologyResponse> GetTopology() {
    cascade::v1::GetTopologyResponse response;
    grpc::Status status = CallLeader(
        [&](cascade::v1::Admin::Stub* admin, grpc::ClientContext* context) {
          return admin->GetTopology(context, cascade::v1::GetTopologyRequest(),
                                    &response);
        });
    if (!status.ok()) {
      return absl::UnavailableError(
          absl::StrCat("GetTopology: ", status.error_message()));
    }
    return response;
  }

  // Assignment versions of the relays (sites have no controller link).
  using Versions = absl::flat_hash_map<std::string, uint64_t>;
  static Versions RelayVersions(
      const cascade::v1::GetTopologyResponse& topology) {
    Versions versions;
    for (const cascade::v1::NodeView& node : topology.nodes()) {
      if (node.tier() != cascade::v1::TIER_SITE) {
        versions[node.id()] = node.assignment_version();
      }
    }
    return versions;
  }

  // Waits until every relay whose assignment differs from `before` has
  // acked it, and with `all_up` until every relay is up and every node has
  // a parent too (bounded by `deadline`); returns how many relays had a new
  // assignment.
  absl::StatusOr<int> WaitForAcks(const Versions& before, absl::Time deadline,
                                  bool all_up = false) {
    while (true) {
      absl::StatusOr<cascade::v1::GetTopologyResponse> topology = GetTopology();
      int changed = 0;
      int pending = 0;
      int orphans = 0;
      if (topology.ok()) {
        for (const cascade::v1::NodeView& node : topology->nodes()) {
          // A relay that came up late leaves its sites without a parent
          // until topologyd's next recompute, acked or not.
          if (all_up && node.orphan()) ++orphans;
          if (node.tier() == cascade::v1::TIER_SITE) continue;
          if (all_up && node.status() != cascade::v1::STATUS_UP) ++pending;
          auto was = before.find(node.id());
          if (was != before.end() && was->second == node.assignment_version()) {
            continue;
          }
          ++changed;
          if (node.acked_version() != node.assignment_version() ||
              node.assignment_version() == 0) {
            ++pending;
          }
        }
        if (pending == 0 && orphans == 0) return changed;
      }
      if (absl::Now() >= deadline) {
        return absl::DeadlineExceededError(
            topology.ok() ? absl::StrCat(pending, " of ", changed,
                                         " relays had not acked; ", orphans,
                                         " nodes had no parent")
                          : std::string(topology.status().message()));
      }
      // Ticking: a controller may need its restart meanwhile.
      if (absl::Status s = SleepUntil(absl::Now() + absl::Milliseconds(100));
          !s.ok()) {
        return s;
      }
    }
  }

  // Controller mode: every relay is up and acked its assignment, then each
  // site joins the parents topologyd gave it (its view's effective
  // parents), with the link keys derived from its node key.
  absl::Status TakeAssignments() {
    const absl::Time start = absl::Now();
    // Up and acked: a relay slow to register may have been counted down
    // and its children placed elsewhere until it showed up.
    absl::StatusOr<int> acked =
        WaitForAcks({}, start + options_.startup_timeout, /*all_up=*/true);
    if (!acked.ok()) {
      return absl::DeadlineExceededError(
          absl::StrCat("relays did not ack their first assignment: ",
                       acked.status().message()));
    }
    run_.control_plane.set_first_assignment_ms(
        absl::ToDoubleMilliseconds(absl::Now() - relays_started_));
    absl::StatusOr<cascade::v1::GetTopologyResponse> topology = GetTopology();
    if (!topology.ok()) return topology.status();
    int moved = 0;
    for (const cascade::v1::NodeView& node : topology->nodes()) {
      // Tier probes stay on their one relay: latency at that tier.
      auto site = site_parents_.find(node.id());
      if (site == site_parents_.end() || tier_probe_keys_.contains(node.id())) {
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

  // The process that runs relay `id`, as the supervisor knows it.
  std::string RelayProcess(const std::string& id) const {
    const RelayProcessGroup& group = relay_groups_[group_of_relay_.at(id)];
    return group.generation == 0
               ? "relayd " + group.name
               : absl::StrCat("relayd ", group.name, "#", group.generation);
  }

  absl::Status StartRelayGroup(const RelayProcessGroup& group) {
    const PlanRelay& first = *group.relays.front();
    const std::string port_file = Out("ports/" + group.name + ".ports");
    std::remove(port_file.c_str());
    std::vector<std::string> args = {
        options_.relayd, "--metrics=" + Host(first.address) + ":0",
        "--port_file=" + port_file,
        "--parent_timeout=" + absl::FormatDuration(options_.parent_timeout),
        "--keepalive=" + absl::FormatDuration(options_.keepalive)};
    const std::string log = Out("logs/" + group.name + ".log");
    if (options_.controller) {
      // Parents, children, keys and streams come from topologyd; the root
      // takes the stream from the source.
      args.push_back("--controller=" + control_plane_.Addresses());
      if (group.relays.size() == 1) {
        args.insert(args.end(),
                    {"--id=" + first.id, "--listen=" + first.address});
      } else {
        std::vector<std::string> specs;
        for (const PlanRelay* relay : group.relays) {
          specs.push_back(relay->id + "@" + relay->address);
        }
        args.push_back("--relays=" + absl::StrJoin(specs, ","));
      }
      if (first.parents.empty()) {
        args.push_back("--source=" + plan_.source_address);
      }
      return supervisor_.Start(RelayProcess(first.id), "relayd", args, log);
    }
    const std::string config = Out("config/" + first.id + ".textproto");
    std::string text;
    auto extra = extra_children_.find(first.id);
    google::protobuf::TextFormat::PrintToString(
        StandaloneConfig(plan_, first,
                         extra == extra_children_.end()
                             ? std::vector<ExtraChild>{}
                             : extra->second),
        &text);
    if (absl::Status s = WriteFile(config, text); !s.ok()) return s;
    args.push_back("--config=" + config);
    return supervisor_.Start(RelayProcess(first.id), "relayd", args, log);
  }

  // Once the group's process has bound: where each of its relays serves
  // its metrics.
  absl::Status WaitForRelayGroup(const RelayProcessGroup& group,
                                 absl::Time deadline) {
    absl::StatusOr<std::string> ports = WaitForFile(
        Out("ports/" + group.name + ".ports"), deadline, options_.interrupted);
    if (!ports.ok()) {
      return absl::DeadlineExceededError(
          absl::StrCat("relayd ", group.name, " did not bind (see ",
                       Out("logs/" + group.name + ".log"), ")"));
    }
    const std::string address =
        absl::StrCat(Host(group.relays.front()->address), ":",
                     PortFileValue(*ports, "metrics"));
    for (const PlanRelay* relay : group.relays) {
      metrics_[relay->id] = {address, group.relays.size() == 1
                                          ? "/metrics"
                                          : "/metrics/" + relay->id};
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> RelayMetrics(const std::string& id,
                                           absl::Duration timeout) {
    auto page = metrics_.find(id);
    if (page == metrics_.end()) {
      return absl::NotFoundError(absl::StrCat(id, " serves no metrics"));
    }
    return HttpGet(page->second.address, page->second.path, timeout);
  }

  // In waves of processes: with a process per relay, 828 of them loading
  // gRPC at once starved the machine (load average 650 at national scale);
  // a bound wave keeps every start short. A wave of grouped processes
  // registers up to a thousand relays at once, which topologyd takes in
  // about 3 s.
  absl::Status StartRelays() {
    relays_started_ = absl::Now();
    for (size_t wave = 0; wave < relay_groups_.size();
         wave += kRelayProcessWave) {
      const size_t end =
          std::min(relay_groups_.size(), wave + kRelayProcessWave);
      for (size_t i = wave; i < end; ++i) {
        if (absl::Status s = StartRelayGroup(relay_groups_[i]); !s.ok()) {
          return s;
        }
      }
      const absl::Time deadline = absl::Now() + options_.startup_timeout;
      for (size_t i = wave; i < end; ++i) {
        if (absl::Status s = WaitForRelayGroup(relay_groups_[i], deadline);
            !s.ok()) {
          return s;
        }
      }
    }
    return absl::OkStatus();
  }

  absl::Status StartProbes() {
    const absl::Time start = absl::Now();
    for (const ProbeGroupRun& group : run_.groups) {
      const std::string sites_file = Out("probes/" + group.name + ".sites");
      std::string lines;
      const std::vector<std::string>& members = members_[group.name];
      for (size_t i = 0; i < members.size(); ++i) {
        absl::StrAppend(&lines, ProbeLine(members[i], group.addresses[i]),
                        "\n");
      }
      if (absl::Status s = WriteFile(sites_file, lines); !s.ok()) return s;
      const std::string port_file = Out("ports/" + group.name + ".ports");
      std::remove(port_file.c_str());
      if (absl::Status s = supervisor_.Start(
              "probe " + group.name, "relay-probe",
              {options_.probe, "--sites_file=" + sites_file, "--json",
               "--duration=0",
               absl::StrCat("--interval=", options_.probe_interval_s),
               "--decode_sites=1", "--port_file=" + port_file,
               "--parent_timeout=" +
                   absl::FormatDuration(options_.parent_timeout),
               "--keepalive=" + absl::FormatDuration(options_.keepalive)},
              Out("logs/" + group.name + ".log"));
          !s.ok()) {
        return s;
      }
    }
    const absl::Time deadline = start + options_.startup_timeout;
    for (ProbeGroupRun& group : run_.groups) {
      absl::StatusOr<std::string> ports =
          WaitForFile(Out("ports/" + group.name + ".ports"), deadline,
                      options_.interrupted);
      if (!ports.ok()) {
        return absl::DeadlineExceededError(
            absl::StrCat("relay-probe ", group.name, " did not bind (see ",
                         Out("logs/" + group.name + ".log"), ")"));
      }
      probes_started_[group.name] = absl::Now();
    }
    return absl::OkStatus();
  }

  // Waits until every relay serves every child that names it first: the
  // tree is joined before the first packet.
  absl::Status WarmUp() {
    absl::flat_hash_map<std::string, int> expected;
    for (const PlanRelay& relay : plan_.relays) {
      if (!relay.parents.empty()) ++expected[relay.parents[0]];
    }
    // Sites and tier probes.
    for (const auto& [id, parents] : site_parents_) ++expected[parents[0]];
    const absl::Time deadline = absl::Now() + options_.startup_timeout;
    std::vector<std::string> pending;
    for (const auto& [id, count] : expected) pending.push_back(id);
    while (!pending.empty() && absl::Now() < deadline) {
      if (Interrupted()) return absl::CancelledError("interrupted");
      std::vector<std::string> still;
      for (const std::string& id : pending) {
        absl::StatusOr<std::string> text = RelayMetrics(id, absl::Seconds(1));
        if (!text.ok() || MetricSum(*text, "relay_children") < expected[id]) {
          still.push_back(id);
        }
      }
      pending = std::move(still);
      if (!pending.empty()) absl::SleepFor(absl::Milliseconds(200));
    }
    run_.warmup_s = absl::ToDoubleSeconds(absl::Now() - started_);
    if (!pending.empty()) {
      run_.problems.push_back(absl::StrCat(
          pending.size(), " relays still missing children after warm-up, e.g. ",
          pending[0]));
    }
    return absl::OkStatus();
  }

  absl::Status StartSource() {
    uint32_t video_ssrc = 0;
    uint32_t audio_ssrc = 0;
    for (const cascade::v1::Stream& stream : plan_.topology.streams()) {
      if (stream.direction() != cascade::v1::DIRECTION_DOWNSTREAM) continue;
      for (const cascade::v1::Track& track : stream.tracks()) {
        (track.media() == "audio" ? audio_ssrc : video_ssrc) = track.ssrc();
      }
    }
    const cascade::v1::SimScenario& scenario = options_.scenario;
    std::vector<std::string> standby_roots;
    for (size_t i = 1; i < plan_.roots.size(); ++i) {
      standby_roots.push_back(plan_.relay(plan_.roots[i])->address);
    }
    absl::Status started = supervisor_.Start(
        "relay-source", "relay-source",
        {options_.source, "--json", "--bind=" + plan_.source_address,
         "--dest=" + plan_.relay(plan_.roots[0])->address,
         "--standby_dest=" + absl::StrJoin(standby_roots, ","),
         absl::StrCat("--ssrc=", video_ssrc),
         absl::StrCat("--audio_ssrc=", audio_ssrc),
         absl::StrCat("--bitrate=", scenario.video_kbps()),
         absl::StrCat("--fps=", scenario.frame_rate()),
         absl::StrCat("--gop=", 2 * scenario.frame_rate()),
         absl::StrCat("--audio=", scenario.audio() ? "true" : "false"),
         absl::StrCat("--duration=", scenario.duration_s())},
        Out("logs/relay-source.log"));
    media_start_ = absl::Now();
    for (ProbeGroupRun& group : run_.groups) {
      group.offset_s =
          absl::ToDoubleSeconds(probes_started_[group.name] - media_start_);
    }
    return started;
  }

  absl::Status PlayScenario() {
    std::vector<cascade::v1::SimStep> steps(options_.scenario.steps().begin(),
                                            options_.scenario.steps().end());
    std::stable_sort(
        steps.begin(), steps.end(),
        [](const auto& a, const auto& b) { return a.at_s() < b.at_s(); });
    for (const cascade::v1::SimStep& step : steps) {
      if (absl::Status s =
              SleepUntil(media_start_ + absl::Seconds(step.at_s()));
          !s.ok()) {
        return s;
      }
      // When it began: a step may wait (for acks, for a new leader).
      const double at_s = absl::ToDoubleSeconds(absl::Now() - media_start_);
      cascade::v1::SimStepResult result = Execute(step);
      result.set_at_s(at_s);
      result.set_label(step.label());
      run_.steps.push_back(std::move(result));
    }
    // Until the source is done, bounded.
    const absl::Time deadline = media_start_ +
                                absl::Seconds(options_.scenario.duration_s()) +
                                absl::Seconds(30);
    while (supervisor_.Running("relay-source")) {
      if (absl::Now() >= deadline) {
        run_.problems.push_back("relay-source overran its duration; stopped");
        break;
      }
      if (absl::Status s = SleepUntil(absl::Now() + kPoll); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  // An Admin call with its latency recorded under control_plane; `called`
  // (when given) gets the time of the call.
  bool Admin(const std::string& label, const std::string& call,
             const std::function<grpc::Status(cascade::v1::Admin::Stub*,
                                              grpc::ClientContext*)>& rpc,
             std::string* detail, absl::Time* called = nullptr) {
    cascade::v1::SimAdminCall* record = run_.control_plane.add_admin_calls();
    record->set_label(label);
    record->set_call(call);
    // Under a controller the change is pushed to the relays: the versions
    // before it tell which relays it reached.
    absl::StatusOr<cascade::v1::GetTopologyResponse> before =
        options_.controller ? GetTopology()
                            : absl::StatusOr<cascade::v1::GetTopologyResponse>(
                                  absl::UnimplementedError("standalone"));
    const absl::Time start = absl::Now();
    if (called != nullptr) *called = start;
    grpc::Status status = CallLeader(rpc);
    record->set_ms(absl::ToDoubleMilliseconds(absl::Now() - start));
    record->set_ok(status.ok());
    *detail = status.ok() ? "accepted by topologyd"
                          : absl::StrCat("topologyd: ", status.error_message());
    if (status.ok() && before.ok()) {
      absl::StatusOr<int> acked =
          WaitForAcks(RelayVersions(*before), absl::Now() + kPushTimeout);
      const double push_ms = absl::ToDoubleMilliseconds(absl::Now() - start);
      if (acked.ok() && *acked == 0) {
        absl::StrAppend(detail, "; no relay's assignment changed");
      } else if (acked.ok()) {
        run_.control_plane.add_assignment_push_ms(push_ms);
        absl::StrAppendFormat(detail,
                              "; %d relays applied and acked their new "
                              "assignments %.0f ms after the call",
                              *acked, push_ms);
      } else {
        absl::StrAppend(detail, "; not every relay acked within ",
                        absl::FormatDuration(kPushTimeout), ": ",
                        acked.status().message());
      }
    }
    record->set_detail(*detail);
    return status.ok();
  }

  cascade::v1::SimStepResult Execute(const cascade::v1::SimStep& step) {
    cascade::v1::SimStepResult result;
    std::string node;
    switch (step.action_case()) {
      case cascade::v1::SimStep::kKill:
      case cascade::v1::SimStep::kRevive:
      case cascade::v1::SimStep::kDrain:
      case cascade::v1::SimStep::kRestore: {
        const std::string& selector = step.has_kill()     ? step.kill()
                                      : step.has_revive() ? step.revive()
                                      : step.has_drain()  ? step.drain()
                                                          : step.restore();
        absl::StatusOr<std::string> id = plan_.Resolve(selector);
        if (!id.ok()) {
          result.set_detail(std::string(id.status().message()));
          return result;
        }
        node = *id;
        result.set_target(node);
        break;
      }
      default:
        break;
    }
    std::string detail;
    bool ok = false;
    const char* standalone_note =
        options_.controller
            ? ""
            : "; relays run standalone, so the media path does not change";
    switch (step.action_case()) {
      case cascade::v1::SimStep::kLossPercent: {
        result.set_action("loss_percent");
        absl::Status s = SetRandomLoss(step.loss_percent() / 100);
        ok = s.ok();
        detail = ok ? absl::StrCat(step.loss_percent(), "% loss on every hop")
                    : std::string(s.message());
        break;
      }
      case cascade::v1::SimStep::kKill: {
        result.set_action("kill");
        const PlanRelay* relay = plan_.relay(node);
        absl::Status s = relay == nullptr
                             ? absl::InvalidArgumentError("not a relay")
                             : supervisor_.Kill(RelayProcess(node));
        ok = s.ok();
        detail = ok ? absl::StrCat("kill -9 of relayd ", node, " (",
                                   relay->sites_below, " sites below)")
                    : std::string(s.message());
        break;
      }
      case cascade::v1::SimStep::kRevive: {
        result.set_action("revive");
        const PlanRelay* relay = plan_.relay(node);
        if (relay == nullptr) {
          detail = "not a relay";
          break;
        }
        // Alone in its process (GroupRelays).
        RelayProcessGroup& group = relay_groups_[group_of_relay_.at(node)];
        ++group.generation;
        absl::Status s = StartRelayGroup(group);
        if (s.ok()) {
          s = WaitForRelayGroup(group, absl::Now() + absl::Seconds(10));
        }
        ok = s.ok();
        detail = ok ? "relayd started again with the same configuration"
                    : std::string(s.message());
        break;
      }
      case cascade::v1::SimStep::kDrain: {
        result.set_action("drain");
        ok = Admin(
            step.label(), "DrainNode " + node,
            [&](cascade::v1::Admin::Stub* admin, grpc::ClientContext* context) {
              cascade::v1::DrainNodeRequest request;
              request.set_id(node);
              cascade::v1::ChangeResponse response;
              return admin->DrainNode(context, request, &response);
            },
            &detail);
        detail += standalone_note;
        break;
      }
      case cascade::v1::SimStep::kRestore: {
        result.set_action("restore");
        ok = Admin(
            step.label(), "Restore " + node,
            [&](cascade::v1::Admin::Stub* admin, grpc::ClientContext* context) {
              cascade::v1::RestoreRequest request;
              request.set_id(node);
              cascade::v1::ChangeResponse response;
              return admin->Restore(context, request, &response);
            },
            &detail);
        detail += standalone_note;
        break;
      }
      case cascade::v1::SimStep::kRestartControllerAfterS: {
        result.set_action("restart_controller");
        absl::StatusOr<std::string> killed = control_plane_.KillLeader(
            absl::Seconds(step.restart_controller_after_s()));
        ok = killed.ok();
        detail = ok ? *killed : std::string(killed.status().message());
        if (ok && control_plane_.on_etcd()) ok = AwaitTakeover(&detail);
        break;
      }
      case cascade::v1::SimStep::kStallLeaderS: {
        result.set_action("stall_leader");
        absl::StatusOr<std::string> stalled =
            control_plane_.StallLeader(absl::Seconds(step.stall_leader_s()));
        ok = stalled.ok();
        detail = ok ? *stalled : std::string(stalled.status().message());
        if (ok && control_plane_.on_etcd()) ok = AwaitTakeover(&detail);
        break;
      }
      case cascade::v1::SimStep::kSelectSites: {
        result.set_action("select_sites");
        const std::vector<std::string> chosen =
            SitesToSelect(step.select_sites());
        ok = !chosen.empty();
        for (const std::string& site : chosen) {
          std::string call_detail;
          absl::Time called;
          const bool accepted = Admin(
              step.label(), "SelectUpstream " + site,
              [&](cascade::v1::Admin::Stub* admin,
                  grpc::ClientContext* context) {
                cascade::v1::UpstreamRequest request;
                request.set_site(site);
                cascade::v1::ChangeResponse response;
                return admin->SelectUpstream(context, request, &response);
              },
              &call_detail, &called);
          ok &= accepted;
          if (detail.empty()) detail = call_detail;
          // The step is recorded after it ran: it will be the next one.
          UpstreamSelectionRun selection;
          selection.step_index = run_.steps.size();
          selection.site = site;
          selection.ssrc = upstream_ssrc_.at(site);
          selection.ok = accepted;
          selection.called_unix_ms =
              absl::ToDoubleMilliseconds(called - absl::UnixEpoch());
          selection.at_s = absl::ToDoubleSeconds(called - media_start_);
          run_.upstream.push_back(std::move(selection));
        }
        detail = absl::StrCat("selected ", absl::StrJoin(chosen, ", "), ": ",
                              detail, standalone_note);
        break;
      }
      default:
        detail = "step without an action";
        break;
    }
    result.set_ok(ok);
    result.set_detail(detail);
    return result;
  }

  // After a fault on the leader: waits (bounded) until another controller
  // leads and every relay reported to it; names it and both times in
  // `detail`.
  bool AwaitTakeover(std::string* detail) {
    const absl::Time deadline =
        absl::Now() + options_.leader_ttl + kTakeoverMargin;
    while (control_plane_.TakeoverPending() && absl::Now() < deadline) {
      if (!SleepUntil(absl::Now() + kPoll).ok()) break;
    }
    if (control_plane_.TakeoverPending()) {
      absl::StrAppend(
          detail, "; no other controller led within ",
          absl::FormatDuration(options_.leader_ttl + kTakeoverMargin));
      return false;
    }
    const LeaderChange& change = control_plane_.leader_changes().back();
    absl::StrAppendFormat(detail,
                          "; %s took over %.0f ms after it (state "
                          "sequence %d)",
                          change.to,
                          absl::ToDoubleMilliseconds(change.takeover),
                          change.state_sequence);
    // The relays move to the new leader by themselves (their controller
    // lists) and report to it.
    const absl::Time fault = change.at - change.takeover;
    const absl::Time reports_due = absl::Now() + kPushTimeout;
    int silent = static_cast<int>(plan_.relays.size());
    while (silent > 0 && absl::Now() < reports_due && !Interrupted()) {
      absl::StatusOr<cascade::v1::GetTopologyResponse> topology = GetTopology();
      if (topology.ok()) {
        silent = 0;
        for (const cascade::v1::NodeView& node : topology->nodes()) {
          if (node.tier() != cascade::v1::TIER_SITE &&
              node.last_report_ms_ago() < 0) {
            ++silent;
          }
        }
      }
      // Ticking: the stalled controller continues meanwhile.
      if (silent > 0)
        SleepUntil(absl::Now() + absl::Milliseconds(100)).IgnoreError();
    }
    if (silent > 0) {
      absl::StrAppendFormat(detail,
                            "; %d relays had not reported to it %s later",
                            silent, absl::FormatDuration(kPushTimeout));
      return false;
    }
    control_plane_.NoteRelaysBack(absl::Now() - fault);
    absl::StrAppendFormat(
        detail, "; every relay reported to it %.0f ms after the fault",
        absl::ToDoubleMilliseconds(absl::Now() - fault));
    return true;
  }

  void CollectRelayMetrics() {
    for (const PlanRelay& relay : plan_.relays) {
      if (!supervisor_.Running(RelayProcess(relay.id))) continue;
      absl::StatusOr<std::string> text =
          RelayMetrics(relay.id, absl::Seconds(2));
      if (!text.ok()) {
        run_.problems.push_back(absl::StrCat("metrics of ", relay.id, ": ",
                                             text.status().message()));
        continue;
      }
      WriteFile(Out("metrics/" + relay.id + ".prom"), *text).IgnoreError();
      for (const char* name : kRelayMetrics) {
        run_.relay_metrics[name] += MetricSum(*text, name);
      }
    }
  }

  absl::Status Finish() {
    const std::string source_log = ReadFile(Out("logs/relay-source.log"));
    for (absl::string_view line : absl::StrSplit(source_log, '\n')) {
      if (!absl::StartsWith(line, "{")) continue;
      absl::StatusOr<cascade::v1::SourceCounters> counters =
          ParseSourceLine(std::string(line));
      if (counters.ok()) run_.source = *counters;
    }
    // Repairs of the last packets are still in flight: let them land.
    if (absl::Status s = SleepUntil(absl::Now() + absl::Seconds(1.5));
        !s.ok()) {
      return s;
    }
    CollectRelayMetrics();
    for (const ProbeGroupRun& group : run_.groups) {
      supervisor_.Signal("probe " + group.name, SIGTERM).IgnoreError();
    }
    for (const ProbeGroupRun& group : run_.groups) {
      supervisor_.Stop("probe " + group.name, absl::Seconds(10)).IgnoreError();
    }
    run_.usage = supervisor_.UsageByKind();
    run_.wall_s = absl::ToDoubleSeconds(absl::Now() - started_);
    control_plane_.Stop();
    supervisor_.StopAll(absl::Seconds(3));
    control_plane_.RecordLeaderChanges(media_start_);
    for (ProbeGroupRun& group : run_.groups) {
      const std::string log = ReadFile(Out("logs/" + group.name + ".log"));
      for (absl::string_view line : absl::StrSplit(log, '\n')) {
        if (!absl::StartsWith(line, "{\"type\":")) continue;
        absl::StatusOr<cascade::v1::ProbeLine> parsed =
            ParseProbeLine(std::string(line));
        if (!parsed.ok()) {
          run_.problems.push_back(std::string(parsed.status().message()));
          continue;
        }
        if (parsed->type() == "final") {
          group.final = *std::move(parsed);
        } else {
          group.intervals.push_back(*std::move(parsed));
        }
      }
    }
    run_.control_plane.set_assignments_pushed(options_.controller);
    run_.control_plane.set_note(absl::StrCat(
        options_.controller
            ? "relays ran with --controller: parents, children, keys and "
              "streams from topologyd's assignments; assignment_push_ms is "
              "each admin change until every relay it reached acked"
            : "relays ran on standalone configs generated from the topology "
              "(--mode=standalone), so no assignment was pushed; admin calls "
              "and controller start times are measured",
        control_plane_.on_etcd()
            ? absl::StrCat("; three topologyd on one etcd (--leader-ttl=",
                           absl::FormatDuration(options_.leader_ttl),
                           "), relays and relay-sim given all three; "
                           "leader_changes lists each new leader and how long "
                           "the takeover took")
            : ""));
    return absl::OkStatus();
  }

  const NetworkPlan& plan_;
  const SimOptions& options_;
  std::mt19937_64 random_;
  Supervisor supervisor_;
  SimRun run_;
  absl::Time started_;
  absl::Time media_start_;
  absl::flat_hash_map<std::string, std::vector<ExtraChild>> extra_children_;
  // Each probe group's members (sites, or a tier probe) in file order.
  absl::flat_hash_map<std::string, std::vector<std::string>> members_;
  // The parents each site and tier probe joins, in order.
  absl::flat_hash_map<std::string, std::vector<std::string>> site_parents_;
  // Tier probes' node keys (they are not in the plan).
  absl::flat_hash_map<std::string, std::string> tier_probe_keys_;
  absl::Time relays_started_;
  absl::flat_hash_map<std::string, absl::Time> probes_started_;
  // The relayd processes, and which runs each relay.
  std::vector<RelayProcessGroup> relay_groups_;
  absl::flat_hash_map<std::string, size_t> group_of_relay_;
  absl::flat_hash_map<std::string, MetricsPage> metrics_;
  // The SSRC of each upstream stream, by site (AddUpstreamStreams).
  absl::flat_hash_map<std::string, uint32_t> upstream_ssrc_;
  ControlPlane control_plane_;
};

}  // namespace

absl::StatusOr<SimRun> RunSimulation(const NetworkPlan& plan,
                                     const SimOptions& options) {
  Simulation simulation(plan, options);
  return simulation.Run();
}

}  // namespace cascade::sim
