// relayd's standalone configuration for one relay of the simulated network,
// generated from the plan: what the controller will push once relayd takes
// its assignment over --controller. Kept apart so that switch is local.
#ifndef CASCADE_TOOLS_SIM_STANDALONE_CONFIG_H_
#define CASCADE_TOOLS_SIM_STANDALONE_CONFIG_H_

#include <string>
#include <vector>

#include "proto/relay_config.pb.h"
#include "tools/sim/network_plan.h"

namespace cascade::sim {

// A child outside the topology that a relay also serves (relay-sim's tier
// probes).
struct ExtraChild {
  std::string id;
  std::string key_hex;
};

// Parents in order with their link keys (the root's parent is the source,
// unauthenticated), every child that names the relay with its link key, and
// the topology's downstream tracks (H.264 ones marked for the keyframe
// cache).
cascade::v1::RelayConfig StandaloneConfig(
    const NetworkPlan& plan, const PlanRelay& relay,
    const std::vector<ExtraChild>& extra_children = {});

}  // namespace cascade::sim

#endif  // CASCADE_TOOLS_SIM_STANDALONE_CONFIG_H_
