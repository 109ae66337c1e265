// The failover benchmark's driver: the provincial relay of a small tree
// killed mid-stream, many times (tools/bench/failover_bench.h); the sites'
// longest gap and lost packets per run, and the targets (max gap under
// 500 ms, nothing lost).
#ifndef CASCADE_TOOLS_BENCH_FAILOVER_SECTION_H_
#define CASCADE_TOOLS_BENCH_FAILOVER_SECTION_H_

#include "absl/status/status.h"
#include "tools/bench/report.h"

namespace cascade::bench {

struct FailoverOptions {
  int runs = 20;
  int sites = 20;  // below the district relay
};

absl::Status RunFailover(const FailoverOptions& options, Context& context);

}  // namespace cascade::bench

#endif  // CASCADE_TOOLS_BENCH_FAILOVER_SECTION_H_
