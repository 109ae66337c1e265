// The latency benchmark: relayd (at each thread count) and the bare GSO loop
// on the same load; relayd's added per-hop latency is the difference of
// their percentiles. At fan-out 1,000 and more, the p99 is the last child's
// wait: it must stay under 3 ms.
#ifndef CASCADE_TOOLS_BENCH_LATENCY_SECTION_H_
#define CASCADE_TOOLS_BENCH_LATENCY_SECTION_H_

#include <vector>

#include "absl/status/status.h"
#include "tools/bench/report.h"

namespace cascade::bench {

struct LatencyOptions {
  std::vector<int> fanouts;
  double seconds = 5;                     // of load per case
  double input_pps = 1000;                // in video-shaped bursts
  std::vector<int> relayd_threads = {1};  // relayd --threads values
};

absl::Status RunLatency(const LatencyOptions& options, Context& context);

}  // namespace cascade::bench

#endif  // CASCADE_TOOLS_BENCH_LATENCY_SECTION_H_
