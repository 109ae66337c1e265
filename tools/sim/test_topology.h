// Small synthetic topologies for relay-sim's tests (relay-sim itself runs
// the reference files of topology/reference).
#ifndef CASCADE_TOOLS_SIM_TEST_TOPOLOGY_H_
#define CASCADE_TOOLS_SIM_TEST_TOPOLOGY_H_

#include <cstdint>
#include <string>

#include "absl/types/span.h"
#include "proto/topology.pb.h"

namespace cascade::sim {

struct ProvinceShape {
  std::string name;
  int districts = 0;
  int sites = 0;
};

// A tree for `provinces`: one national relay, per province an active
// provincial relay and a standby, districts below the active one (standby
// parent: the province's standby), sites spread evenly over their
// province's districts (standby parent: the province's active relay, as in
// topology/reference). Downstream stream "command" at `video_kbps`.
cascade::v1::Topology GenerateTopology(
    absl::Span<const ProvinceShape> provinces, uint32_t video_kbps);

}  // namespace cascade::sim

#endif  // CASCADE_TOOLS_SIM_TEST_TOPOLOGY_H_
