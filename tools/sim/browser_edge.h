// relay-sim --browser_edge: district relays that also serve browsers
// (relayd --edge), which districts they are, and the watch URL a person
// opens for a site under each.
#ifndef CASCADE_TOOLS_SIM_BROWSER_EDGE_H_
#define CASCADE_TOOLS_SIM_BROWSER_EDGE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/controller.pb.h"
#include "tools/sim/network_plan.h"

namespace cascade::sim {

// The edge's HTTP port on its relay's own private address: fixed, as the
// media port is, so a revived relay serves the same address again.
inline constexpr int kEdgePort = 8080;

// One district relay with a browser edge.
struct BrowserEdge {
  std::string relay;  // its id
  // relayd --edge: the relay's own address, port kEdgePort, inside the
  // private network.
  std::string listen;
  // Where a browser on the machine reaches it (the bridge's TCP and UDP
  // ends on the machine's 127.0.0.1, browser_bridge.h): the topology's
  // Node.edge_address, and relayd --edge_candidates.
  std::string http;
  std::string media;
};

// The districts of --browser_edge=SPEC: "N" picks N active districts with
// sites, spread over the plan's order (district i * districts / N); else a
// comma-separated list of district ids or "@largest_district". Fails, naming
// the cause, on an unknown node, a relay of another tier, a repeat, or more
// districts than the plan has.
absl::StatusOr<std::vector<std::string>> PickBrowserEdges(
    const NetworkPlan& plan, absl::string_view spec);

// The relay's address with its port replaced by kEdgePort.
std::string EdgeListenAddress(const PlanRelay& relay);

// http://EDGE_ADDRESS/watch#... from topologyd's minted
// https://EDGE_ADDRESS/watch#...: the sim's edges serve plain HTTP, which
// relayd allows on loopback addresses only.
absl::StatusOr<std::string> PlainHttpUrl(
    const cascade::v1::MintEdgeTokenResponse& minted);

}  // namespace cascade::sim

#endif  // CASCADE_TOOLS_SIM_BROWSER_EDGE_H_
