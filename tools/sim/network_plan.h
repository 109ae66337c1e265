// The simulated network: which relays and sites run, on which private
// addresses, with which links and keys. Built from a topology (a reference
// file or any other), optionally trimmed to its first N sites.
#ifndef CASCADE_TOOLS_SIM_NETWORK_PLAN_H_
#define CASCADE_TOOLS_SIM_NETWORK_PLAN_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "proto/topology.pb.h"

namespace cascade::sim {

struct PlanRelay {
  std::string id;
  cascade::v1::Tier tier = cascade::v1::TIER_UNSPECIFIED;
  bool standby = false;
  // "IP:PORT" of its media socket on the private network.
  std::string address;
  // Parent ids in order of preference; empty for the root (fed by the
  // source).
  std::vector<std::string> parents;
  // Relays and sites that name this relay as a parent (primary or standby).
  std::vector<std::string> children;
  int sites_below = 0;  // through primary parents
};

struct PlanSite {
  std::string id;
  // The relays it joins, in order: its primary parent, then its standbys
  // (the topology's standby_parents), which relay-probe fails over to.
  std::vector<std::string> parents;
  std::string address;
};

struct NetworkPlan {
  // Trimmed, addresses rewritten, every node with its key.
  cascade::v1::Topology topology;
  std::vector<PlanRelay> relays;  // parents before children
  std::vector<PlanSite> sites;
  // Relays without a parent, fed by the source directly: the active one
  // first, then hot standbys (topology/reference has a standby national).
  std::vector<std::string> roots;
  std::string source_address;
  absl::flat_hash_map<std::string, int> relay_index;
  absl::flat_hash_map<std::string, int> site_index;

  const PlanRelay* relay(const std::string& id) const;
  // The hex activation key of the link child -> parent (same at both ends):
  // control::LinkKey of the child's node key and the parent's id.
  std::string LinkKey(const std::string& parent,
                      const std::string& child) const;
  // Relay ids from `id` up to the root through primary parents (`id` first).
  std::vector<std::string> PrimaryPath(const std::string& id) const;
  // Resolves a scenario node: an id, "@national", "@largest_provincial",
  // "@largest_district" (most sites below, active relays only).
  absl::StatusOr<std::string> Resolve(const std::string& selector) const;

  // Every node's key (also in `topology`), as topologyd holds it.
  absl::flat_hash_map<std::string, std::string> node_keys;
};

// Every relay and site of `topology` gets an address on 127.0.0.0/8 (relays
// 127.1.x.y, sites 127.2.x.y, all on `port`; the network is private, so
// fixed ports cannot collide). `max_sites` > 0 keeps the first that many
// sites and only the relays above them. Fails on a topology without a root
// or with a node whose parent is unknown.
absl::StatusOr<NetworkPlan> PlanNetwork(const cascade::v1::Topology& topology,
                                        int max_sites, int port);

}  // namespace cascade::sim

#endif  // CASCADE_TOOLS_SIM_NETWORK_PLAN_H_
