// The controller benchmark's driver: apply time, failover push time and
// memory of a real topologyd with every node of the topology watching
// (tools/bench/controller_bench.h), for south19 and a synthetic topology;
// the push targets are judged on the slowest run.
#ifndef CASCADE_TOOLS_BENCH_CONTROLLER_SECTION_H_
#define CASCADE_TOOLS_BENCH_CONTROLLER_SECTION_H_

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "tools/bench/report.h"

namespace cascade::bench {

struct ControllerOptions {
  int nodes = 10000;  // of the synthetic topology; 0: not run
  // Also a synthetic topology of this many nodes with no watcher: the
  // controller's memory and planning time at a size this machine cannot
  // play (issue 23: 1,000,000 nodes in 4 GB); 0: not run.
  int plan_nodes = 0;
  bool south19 = true;
  int runs = 1;  // per case, each with a fresh topologyd
  // topologyd's lease; zero: 3 s for south19, and for the synthetic topology
  // 1 s per 300 nodes (at least 3 s) so that connecting every node fits in
  // one lease.
  absl::Duration lease = absl::ZeroDuration();
};

absl::Status RunController(const ControllerOptions& options, Context& context);

}  // namespace cascade::bench

#endif  // CASCADE_TOOLS_BENCH_CONTROLLER_SECTION_H_
