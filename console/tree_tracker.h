// The console's view of the tree: each snapshot of the controller's nodes
// (Admin GetTopology's NodeViews) turned into the few figures the page's
// map colours by (proto/console.proto), and the nodes whose figures changed
// since the previous snapshot. Pure: time is passed in.
#ifndef CASCADE_CONSOLE_TREE_TRACKER_H_
#define CASCADE_CONSOLE_TREE_TRACKER_H_

#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "proto/console.pb.h"
#include "proto/controller.pb.h"

namespace cascade::console {

// A node is receiving while its packet counter grew within this long; a
// report older than this is late. Relays report every 250 ms.
inline constexpr absl::Duration kReceivingWindow = absl::Seconds(2);

class TreeTracker {
 public:
  struct Update {
    cascade::v1::ConsoleTree tree;
    // Nodes new or changed since the previous Apply (the report's age
    // alone is no change; its lateness is), and those gone.
    cascade::v1::ConsoleDelta delta;
  };

  Update Apply(const cascade::v1::GetTopologyResponse& topology,
               absl::Time now);

 private:
  struct Seen {
    uint64_t packets_in = 0;
    absl::Time grew = absl::InfinitePast();
    // Serialized, its report age cleared: what a change is compared on.
    std::string key;
  };
  absl::flat_hash_map<std::string, Seen> seen_;
};

}  // namespace cascade::console

#endif  // CASCADE_CONSOLE_TREE_TRACKER_H_
