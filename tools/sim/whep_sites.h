// relay-sim --whep_sites: sites that watch as WebRTC viewers (relay-probe
// --whep) at the browser edges, inside the private network, counted in the
// report like the relay-protocol sites.
#ifndef CASCADE_TOOLS_SIM_WHEP_SITES_H_
#define CASCADE_TOOLS_SIM_WHEP_SITES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/controller.pb.h"
#include "tools/sim/browser_edge.h"
#include "tools/sim/network_plan.h"

namespace cascade::sim {

// The most WHEP sites per edge: one relay-probe process watches them all.
inline constexpr int kMaxWhepSitesPerEdge = 500;

// One relay-probe --whep process: the WHEP sites of one browser edge.
struct WhepSiteGroup {
  std::string name;  // "whep-EDGE": its probe group, logs/NAME.log
  std::string edge;  // the district relay they watch at
  // relay-probe --listen: the first viewer's address; viewer i listens on
  // its port + i.
  std::string listen;
  // Their ids (EDGE-whepK, K from 1) and listen addresses, by viewer.
  std::vector<std::string> site_ids;
  std::vector<std::string> addresses;
};

// `per_edge` WHEP sites at each of `edges` (--browser_edge's districts).
// Each group gets an address of its own, 127.4.X.Y (sites are 127.2.x.y,
// tier probes 127.3.0.z), ports from the plan's media port on. Fails,
// naming the cause, without edges, on a count outside
// 1..kMaxWhepSitesPerEdge, or on an id the plan already has.
absl::StatusOr<std::vector<WhepSiteGroup>> PlanWhepSites(
    const NetworkPlan& plan, const std::vector<std::string>& edges,
    int per_edge);

// The plan the report is built on: `plan` with each WHEP site as a site
// whose one parent is its edge, after the plan's own sites.
NetworkPlan WithWhepSites(const NetworkPlan& plan,
                          const std::vector<WhepSiteGroup>& groups);

// The URL WHEP sites inside the private network open: topologyd's minted
// https://EDGE_ADDRESS/watch#... at the edge's own address there, in plain
// HTTP (`listen`, a loopback address: relayd serves plain HTTP there).
absl::StatusOr<std::string> InsideWatchUrl(
    const cascade::v1::MintEdgeTokenResponse& minted,
    const std::string& listen);

// What a WHEP group's final relay-probe line (the last of `log`, its
// output) says of its sessions: how many connected, and each viewer's first
// picture after relay-source started, the clock the steps count on
// (`offset_s`: the probe's start, seconds from then; the probe counts from
// its start).
// `problems` gets a line per viewer without a picture, or one when there is
// no readable final line.
std::string WhepSummary(const WhepSiteGroup& group, const std::string& log,
                        double offset_s, std::vector<std::string>* problems);

}  // namespace cascade::sim

#endif  // CASCADE_TOOLS_SIM_WHEP_SITES_H_
