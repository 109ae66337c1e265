#include "tools/sim/process_layout.h"

#include <algorithm>
#include <random>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "control/link_key.h"

namespace cascade::sim {
namespace {

constexpr char kSiteTier[] = "site";
// Upstream streams of the sites a select_sites step selects: SSRCs from
// here on (skipping the topology's), and relay-probe's default upstream
// rate (20 packets/s of 200 bytes) as the streams' bitrate.
constexpr uint32_t kUpstreamSsrcBase = 0x55500001;
constexpr uint32_t kUpstreamKbps = 32;

// The hex key of the link child -> parent, derived from the child's node
// key as topologyd derives it (tier probes are not in the plan).
std::string LinkKeyHex(const NetworkPlan& plan, const ProcessLayout& layout,
                       const std::string& parent, const std::string& child) {
  auto probe = layout.tier_probe_keys.find(child);
  const std::string& key = probe == layout.tier_probe_keys.end()
                               ? plan.node_keys.at(child)
                               : probe->second;
  return absl::BytesToHexString(control::LinkKey(key, parent));
}

// A node key of topologyd's length (32 bytes) for a tier probe.
std::string NewNodeKey(std::mt19937_64* random) {
  std::string key;
  for (int i = 0; i < 4; ++i) {
    const uint64_t word = (*random)();
    key.append(reinterpret_cast<const char*>(&word), sizeof(word));
  }
  return key;
}

// Tier probes: one site joined straight to each relay above the first
// site, so latency is measured at every tier.
void AddTierProbes(const NetworkPlan& plan, ProcessLayout* layout) {
  std::mt19937_64 random(0x7e57);
  int tier_index = 0;
  for (const std::string& id : plan.PrimaryPath(plan.sites[0].id)) {
    const PlanRelay* relay = plan.relay(id);
    if (relay == nullptr) continue;
    ProbeGroupRun group;
    group.tier = relay->tier == cascade::v1::TIER_NATIONAL     ? "national"
                 : relay->tier == cascade::v1::TIER_PROVINCIAL ? "provincial"
                                                               : "district";
    group.name = "tier-" + group.tier;
    const std::string probe_id = "probe-" + group.tier;
    layout->tier_probe_keys[probe_id] = NewNodeKey(&random);
    layout->extra_children[id].push_back(
        {probe_id, LinkKeyHex(plan, *layout, id, probe_id)});
    group.addresses.push_back(
        absl::StrFormat("127.3.0.%d:%d", ++tier_index, 5000));
    layout->members[group.name] = {probe_id};
    layout->site_parents[probe_id] = {id};
    cascade::v1::Node* node = layout->topology.add_nodes();
    node->set_id(probe_id);
    node->set_tier(cascade::v1::TIER_SITE);
    node->set_parent(id);
    node->set_media_address(group.addresses.back());
    node->set_key(layout->tier_probe_keys[probe_id]);
    for (cascade::v1::Node& above : *layout->topology.mutable_nodes()) {
      if (above.id() == id && above.capacity().max_children() > 0) {
        above.mutable_capacity()->set_max_children(
            above.capacity().max_children() + 1);
      }
    }
    layout->probe_groups.push_back(std::move(group));
  }
}

// One upstream stream (a video track of its own SSRC) for each site a
// select_sites step will select, and only those, to keep the load low.
void AddUpstreamStreams(const NetworkPlan& plan,
                        const cascade::v1::SimScenario& scenario,
                        ProcessLayout* layout) {
  cascade::v1::Topology& topology = layout->topology;
  absl::flat_hash_set<uint32_t> used;
  for (const cascade::v1::Stream& stream : topology.streams()) {
    for (const cascade::v1::Track& track : stream.tracks()) {
      used.insert(track.ssrc());
    }
  }
  uint32_t ssrc = kUpstreamSsrcBase;
  for (const cascade::v1::SimStep& step : scenario.steps()) {
    if (!step.has_select_sites()) continue;
    for (const std::string& site : SitesToSelect(plan, step.select_sites())) {
      if (layout->upstream_ssrc.contains(site)) continue;
      while (used.contains(ssrc)) ++ssrc;
      used.insert(ssrc);
      layout->upstream_ssrc[site] = ssrc;
      cascade::v1::Stream* stream = topology.add_streams();
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

// topologyd hands stream keys only to a stream's source that is a plain
// endpoint, not to the root relay the plan's streams start at: the
// downstream streams then come from the command center, relay-source's
// address, unless their source is a plain endpoint already.
void AddCommandCenter(const NetworkPlan& plan, ProcessLayout* layout) {
  cascade::v1::Topology& topology = layout->topology;
  absl::flat_hash_set<std::string> plain;
  for (const cascade::v1::Node& node : topology.nodes()) {
    if (node.plain_endpoint()) plain.insert(node.id());
  }
  for (cascade::v1::Stream& stream : *topology.mutable_streams()) {
    if (stream.direction() != cascade::v1::DIRECTION_DOWNSTREAM) continue;
    if (!plain.contains(stream.source_node())) {
      if (!plain.contains(kCommandCenter)) {
        cascade::v1::Node* center = topology.add_nodes();
        center->set_id(kCommandCenter);
        center->set_tier(cascade::v1::TIER_NATIONAL);
        center->set_media_address(plan.source_address);
        center->set_plain_endpoint(true);
        plain.insert(kCommandCenter);
      }
      stream.set_source_node(kCommandCenter);
    }
    if (layout->stream_source.empty()) {
      layout->stream_source = stream.source_node();
    }
  }
}

// Where browsers reach each edge, in topologyd's topology (Node.
// edge_address: the URLs it mints name it).
absl::Status AddBrowserEdges(const NetworkPlan& plan,
                             const std::vector<BrowserEdge>& edges,
                             ProcessLayout* layout) {
  for (const BrowserEdge& edge : edges) {
    if (plan.relay(edge.relay) == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("browser edge \"", edge.relay, "\" is not a relay"));
    }
    layout->browser_edges[edge.relay] = edge;
  }
  for (cascade::v1::Node& node : *layout->topology.mutable_nodes()) {
    auto edge = layout->browser_edges.find(node.id());
    if (edge != layout->browser_edges.end()) {
      node.set_edge_address(edge->second.http);
    }
  }
  return absl::OkStatus();
}

// Indices 0..keys.size()-1 grouped by their key, in the order each key
// first appears, each group cut into chunks of at most `per_chunk`.
struct Chunk {
  std::string key;
  int number = 0;  // within its key, from 0
  std::vector<int> members;
};

std::vector<Chunk> ChunksByKey(const std::vector<std::string>& keys,
                               int per_chunk) {
  std::vector<std::string> order;
  absl::flat_hash_map<std::string, std::vector<int>> members;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (!members.contains(keys[i])) order.push_back(keys[i]);
    members[keys[i]].push_back(static_cast<int>(i));
  }
  std::vector<Chunk> chunks;
  for (const std::string& key : order) {
    const std::vector<int>& all = members[key];
    for (size_t start = 0; start < all.size(); start += per_chunk) {
      const size_t end = std::min(all.size(), start + per_chunk);
      chunks.push_back(
          Chunk{key, static_cast<int>(start / per_chunk),
                std::vector<int>(all.begin() + start, all.begin() + end)});
    }
  }
  return chunks;
}

// The nodes the scenario's kill and revive steps name, and with `drains`
// its drain and restore steps' too.
absl::StatusOr<absl::flat_hash_set<std::string>> StepTargets(
    const NetworkPlan& plan, const cascade::v1::SimScenario& scenario,
    bool drains) {
  absl::flat_hash_set<std::string> targets;
  for (const cascade::v1::SimStep& step : scenario.steps()) {
    for (const std::string* node :
         {&step.kill(), &step.revive(), &step.drain(), &step.restore()}) {
      if (node->empty() ||
          (!drains && (node == &step.drain() || node == &step.restore()))) {
        continue;
      }
      absl::StatusOr<std::string> id = plan.Resolve(*node);
      if (!id.ok()) return id.status();
      targets.insert(*id);
    }
  }
  return targets;
}

// Sites in probe processes: one group per fault target (so a fault's
// affected sites are whole groups) or else per province, split to at
// most sites_per_probe.
absl::Status GroupSites(const NetworkPlan& plan,
                        const cascade::v1::SimScenario& scenario,
                        int sites_per_probe, ProcessLayout* layout) {
  absl::StatusOr<absl::flat_hash_set<std::string>> named =
      StepTargets(plan, scenario, /*drains=*/true);
  if (!named.ok()) return named.status();
  absl::flat_hash_set<std::string> targets;
  for (const std::string& id : *named) {
    const PlanRelay* relay = plan.relay(id);
    if (relay != nullptr && relay->tier != cascade::v1::TIER_NATIONAL) {
      targets.insert(id);
    }
  }
  std::vector<std::string> keys;
  for (const PlanSite& site : plan.sites) {
    std::string& key = keys.emplace_back();
    for (const std::string& id : plan.PrimaryPath(site.id)) {
      const PlanRelay* relay = plan.relay(id);
      if (relay == nullptr) continue;
      if (targets.contains(id) ||
          (key.empty() && relay->tier == cascade::v1::TIER_PROVINCIAL)) {
        key = id;
        if (targets.contains(id)) break;
      }
    }
  }
  for (const Chunk& chunk : ChunksByKey(keys, sites_per_probe)) {
    ProbeGroupRun group;
    group.tier = kSiteTier;
    group.name = absl::StrCat("sites-", chunk.key.empty() ? "other" : chunk.key,
                              "-", chunk.number + 1);
    std::vector<std::string>& group_members = layout->members[group.name];
    for (int i : chunk.members) {
      const PlanSite& site = plan.sites[i];
      group.site_ids.push_back(site.id);
      group.addresses.push_back(site.address);
      group_members.push_back(site.id);
    }
    layout->probe_groups.push_back(std::move(group));
  }
  return absl::OkStatus();
}

// Relays in relayd processes (relayd --relays), so that hundreds of
// relays cost a few dozen loop threads: the relays of a province (its
// active relay and its districts) share one, standbys share others, at
// most relays_per_process each. Roots (started with --source) and relays
// a step kills or revives run alone: kill -9 must hit exactly its relay.
// So do browser edges (relayd --edge serves one relay), and standalone
// relays, which read one config file each.
absl::Status GroupRelays(const NetworkPlan& plan,
                         const cascade::v1::SimScenario& scenario,
                         const LayoutOptions& options, ProcessLayout* layout) {
  absl::StatusOr<absl::flat_hash_set<std::string>> alone =
      StepTargets(plan, scenario, /*drains=*/false);
  if (!alone.ok()) return alone.status();
  alone->insert(plan.roots.begin(), plan.roots.end());
  for (const auto& [id, edge] : layout->browser_edges) alone->insert(id);
  const int per_process = options.controller ? options.relays_per_process : 1;
  std::vector<std::string> keys;
  for (const PlanRelay& relay : plan.relays) {
    // Prefixed by kind: no id can make two kinds of key collide.
    std::string& key = keys.emplace_back("alone " + relay.id);
    if (alone->contains(relay.id)) {
      // Stays alone.
    } else if (relay.standby) {
      key = "standbys";
    } else {
      for (const std::string& id : plan.PrimaryPath(relay.id)) {
        const PlanRelay* above = plan.relay(id);
        if (above != nullptr && above->tier == cascade::v1::TIER_PROVINCIAL) {
          key = "province " + id;
          break;
        }
      }
    }
  }
  for (const Chunk& chunk : ChunksByKey(keys, per_process)) {
    RelayProcessGroup group;
    for (int i : chunk.members) group.relays.push_back(&plan.relays[i]);
    group.name = group.relays.front()->id;
    if (group.relays.size() > 1) {
      absl::StrAppend(&group.name, "+", group.relays.size() - 1);
    }
    for (const PlanRelay* relay : group.relays) {
      layout->group_of_relay[relay->id] = layout->relay_groups.size();
    }
    layout->relay_groups.push_back(std::move(group));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ProcessLayout> LayOutProcesses(
    const NetworkPlan& plan, const cascade::v1::SimScenario& scenario,
    const LayoutOptions& options) {
  ProcessLayout layout;
  layout.topology = plan.topology;
  AddTierProbes(plan, &layout);
  for (const PlanSite& site : plan.sites) {
    layout.site_parents[site.id] = site.parents;
  }
  AddUpstreamStreams(plan, scenario, &layout);
  if (options.controller && options.stream_keys) {
    AddCommandCenter(plan, &layout);
  }
  if (absl::Status s = AddBrowserEdges(plan, options.browser_edges, &layout);
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          GroupSites(plan, scenario, options.sites_per_probe, &layout);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = GroupRelays(plan, scenario, options, &layout); !s.ok()) {
    return s;
  }
  return layout;
}

std::string ProbeSitesLine(const NetworkPlan& plan, const ProcessLayout& layout,
                           const std::string& id, const std::string& address) {
  std::string line = address;
  const std::vector<std::string>& parents = layout.site_parents.at(id);
  for (size_t i = 0; i < parents.size(); ++i) {
    absl::StrAppend(&line, " ", plan.relay(parents[i])->address,
                    i == 0 ? " " + id : "", " ",
                    LinkKeyHex(plan, layout, parents[i], id));
  }
  // A site to be selected sends its upstream stream from the start (the
  // relays drop it until the selection).
  if (auto up = layout.upstream_ssrc.find(id);
      up != layout.upstream_ssrc.end()) {
    absl::StrAppend(&line, " upstream=", up->second);
  }
  return line;
}

std::vector<std::string> SitesToSelect(const NetworkPlan& plan,
                                       uint32_t count) {
  const size_t n = std::min<size_t>(count, plan.sites.size());
  std::vector<std::string> sites;
  for (size_t i = 0; i < n; ++i) {
    sites.push_back(plan.sites[i * plan.sites.size() / n].id);
  }
  return sites;
}

}  // namespace cascade::sim
