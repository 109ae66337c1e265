// The failover benchmark (issue 8): a small tree of real relayd processes
// with relay-source at the top and relay-probe sites at the bottom; the
// provincial relay is killed (SIGKILL) mid-stream and the sites' longest gap
// and lost packets are read from relay-probe's report. Run many times: the
// figures are a distribution, not one lucky run.
//
//   relay-source -> N -> P1 (killed) and P2 (hot standby) -> D [P1, P2]
//   -> sites (one relay-probe process)
#ifndef CASCADE_TOOLS_BENCH_FAILOVER_BENCH_H_
#define CASCADE_TOOLS_BENCH_FAILOVER_BENCH_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tools/bench/relay_tree.h"

namespace cascade::bench {

struct FailoverSetup {
  TreeBinaries binaries;
  std::string work_dir;  // one run's configs and logs
  int sites = 20;
  absl::Duration stream = absl::Seconds(5);
  absl::Duration kill_after = absl::Seconds(2);
  int video_kbps = 1000;
};

struct FailoverRun {
  double longest_gap_ms = 0;  // at any site
  int64_t lost = 0;           // packets sent but missing at the sites
  int64_t packets_per_site = 0;
  int64_t plis = 0;
};

// One run: starts the tree, streams, kills P1, stops everything.
absl::StatusOr<FailoverRun> RunFailoverOnce(const FailoverSetup& setup);

}  // namespace cascade::bench

#endif  // CASCADE_TOOLS_BENCH_FAILOVER_BENCH_H_
