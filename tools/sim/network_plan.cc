#include "tools/sim/network_plan.h"

#include <algorithm>
#include <random>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "control/link_key.h"

namespace cascade::sim {
namespace {

using cascade::v1::Node;
using cascade::v1::Tier;
using cascade::v1::Topology;

// topologyd's node key length.
constexpr size_t kNodeKeyBytes = 32;

// 127.<net>.x.y for the index-th host of a kind (y never 0 or 255).
std::string HostAddress(int net, int index, int port) {
  return absl::StrFormat("127.%d.%d.%d:%d", net, index / 250, index % 250 + 1,
                         port);
}

}  // namespace

const PlanRelay* NetworkPlan::relay(const std::string& id) const {
  auto it = relay_index.find(id);
  return it == relay_index.end() ? nullptr : &relays[it->second];
}

std::string NetworkPlan::LinkKey(const std::string& parent,
                                 const std::string& child) const {
  auto it = node_keys.find(child);
  return it == node_keys.end()
             ? ""
             : absl::BytesToHexString(control::LinkKey(it->second, parent));
}

std::vector<std::string> NetworkPlan::PrimaryPath(const std::string& id) const {
  std::vector<std::string> path;
  std::string at = id;
  if (auto site = site_index.find(id); site != site_index.end()) {
    path.push_back(id);
    at = sites[site->second].parents[0];
  }
  // Bounded by the number of relays: parents are always on a higher tier.
  for (size_t i = 0; i <= relays.size(); ++i) {
    const PlanRelay* node = relay(at);
    if (node == nullptr) break;
    path.push_back(at);
    if (node->parents.empty()) break;
    at = node->parents[0];
  }
  return path;
}

absl::StatusOr<std::string> NetworkPlan::Resolve(
    const std::string& selector) const {
  Tier tier = cascade::v1::TIER_UNSPECIFIED;
  if (selector == "@national") tier = cascade::v1::TIER_NATIONAL;
  if (selector == "@largest_provincial") tier = cascade::v1::TIER_PROVINCIAL;
  if (selector == "@largest_district") tier = cascade::v1::TIER_DISTRICT;
  if (tier == cascade::v1::TIER_UNSPECIFIED) {
    if (relay(selector) != nullptr || site_index.contains(selector)) {
      return selector;
    }
    return absl::NotFoundError(
        absl::StrCat("no node \"", selector, "\" in the simulated network"));
  }
  const PlanRelay* best = nullptr;
  for (const PlanRelay& r : relays) {
    if (r.tier != tier || r.standby) continue;
    if (best == nullptr || r.sites_below > best->sites_below) best = &r;
  }
  if (best == nullptr) {
    return absl::NotFoundError(absl::StrCat("no relay matches ", selector));
  }
  return best->id;
}

absl::StatusOr<NetworkPlan> PlanNetwork(const Topology& topology, int max_sites,
                                        int port) {
  absl::flat_hash_map<std::string, const Node*> by_id;
  for (const Node& node : topology.nodes()) by_id[node.id()] = &node;
  auto parents_of = [](const Node& node) {
    std::vector<std::string> parents;
    if (!node.parent().empty()) parents.push_back(node.parent());
    for (const std::string& p : node.standby_parents()) parents.push_back(p);
    return parents;
  };

  // The kept sites, then every relay reachable upward from them.
  absl::flat_hash_set<std::string> kept;
  std::vector<const Node*> pending;
  int sites = 0;
  for (const Node& node : topology.nodes()) {
    if (node.tier() != cascade::v1::TIER_SITE) continue;
    if (max_sites > 0 && sites >= max_sites) break;
    ++sites;
    kept.insert(node.id());
    pending.push_back(&node);
  }
  if (sites == 0)
    return absl::InvalidArgumentError("the topology has no sites");
  while (!pending.empty()) {
    const Node* node = pending.back();
    pending.pop_back();
    for (const std::string& parent : parents_of(*node)) {
      auto it = by_id.find(parent);
      if (it == by_id.end()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "node ", node->id(), " names an unknown parent ", parent));
      }
      if (kept.insert(parent).second) pending.push_back(it->second);
    }
  }

  NetworkPlan plan;
  *plan.topology.mutable_streams() = topology.streams();
  std::vector<const Node*> relays;
  for (const Node& node : topology.nodes()) {
    if (!kept.contains(node.id())) continue;
    if (node.tier() == cascade::v1::TIER_SITE) {
      plan.site_index[node.id()] = static_cast<int>(plan.sites.size());
      plan.sites.push_back(
          {node.id(), parents_of(node),
           HostAddress(2, static_cast<int>(plan.sites.size()), port)});
    } else {
      relays.push_back(&node);
    }
  }
  std::stable_sort(
      relays.begin(), relays.end(),
      [](const Node* a, const Node* b) { return a->tier() < b->tier(); });
  for (const Node* node : relays) {
    PlanRelay relay;
    relay.id = node->id();
    relay.tier = node->tier();
    relay.standby = node->role() == cascade::v1::ROLE_STANDBY;
    relay.address = HostAddress(1, static_cast<int>(plan.relays.size()), port);
    relay.parents = parents_of(*node);
    if (relay.parents.empty()) plan.roots.push_back(relay.id);
    plan.relay_index[relay.id] = static_cast<int>(plan.relays.size());
    plan.relays.push_back(std::move(relay));
  }
  if (plan.roots.empty()) {
    return absl::InvalidArgumentError(
        "the kept relays have no root (a relay without a parent)");
  }
  // The active root first: the source's main destination.
  std::stable_partition(
      plan.roots.begin(), plan.roots.end(),
      [&](const std::string& id) { return !plan.relay(id)->standby; });

  // Node keys as the topology gives them, else from a fixed seed so runs
  // are reproducible; link keys are derived from them as topologyd derives
  // them, so relays and sites agree whether the relays run standalone or
  // under topologyd.
  std::mt19937_64 random(0x5eed);
  for (const Node& node : topology.nodes()) {
    if (!kept.contains(node.id())) continue;
    std::string key = node.key();
    while (node.key().empty() && key.size() < kNodeKeyBytes) {
      const uint64_t word = random();
      key.append(reinterpret_cast<const char*>(&word), sizeof(word));
    }
    plan.node_keys[node.id()] = std::move(key);
  }
  auto link = [&](const std::string& parent, const std::string& child) {
    auto it = plan.relay_index.find(parent);
    if (it != plan.relay_index.end()) {
      plan.relays[it->second].children.push_back(child);
    }
  };
  for (const PlanRelay& relay : std::vector<PlanRelay>(plan.relays)) {
    for (const std::string& parent : relay.parents) link(parent, relay.id);
  }
  for (PlanSite& site : plan.sites) {
    if (site.parents.empty() || plan.relay(site.parents[0]) == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("site ", site.id, " has no relay parent"));
    }
    // A standby that is not a relay (another site) cannot serve it.
    site.parents.erase(std::remove_if(site.parents.begin(), site.parents.end(),
                                      [&](const std::string& parent) {
                                        return plan.relay(parent) == nullptr;
                                      }),
                       site.parents.end());
    for (const std::string& parent : site.parents) link(parent, site.id);
    for (const std::string& relay : plan.PrimaryPath(site.id)) {
      if (auto it = plan.relay_index.find(relay);
          it != plan.relay_index.end()) {
        ++plan.relays[it->second].sites_below;
      }
    }
  }

  plan.source_address = absl::StrCat("127.0.0.2:", port);
  for (const Node& node : topology.nodes()) {
    if (!kept.contains(node.id())) continue;
    Node* copy = plan.topology.add_nodes();
    *copy = node;
    copy->set_key(plan.node_keys[node.id()]);
    if (const PlanRelay* relay = plan.relay(node.id())) {
      copy->set_media_address(relay->address);
    } else {
      copy->set_media_address(plan.sites[plan.site_index[node.id()]].address);
    }
  }
  return plan;
}

}  // namespace cascade::sim
