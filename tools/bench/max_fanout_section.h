// The max_fanout benchmark: the most 2 Mbit/s sites one relayd (one loop
// thread, so one core) feeds with no loss; doubling the sites, then halving
// the interval to within 10%.
#ifndef CASCADE_TOOLS_BENCH_MAX_FANOUT_SECTION_H_
#define CASCADE_TOOLS_BENCH_MAX_FANOUT_SECTION_H_

#include "absl/status/status.h"
#include "tools/bench/report.h"

namespace cascade::bench {

struct MaxFanoutOptions {
  double seconds = 3;  // of load per size
};

absl::Status RunMaxFanout(const MaxFanoutOptions& options, Context& context);

}  // namespace cascade::bench

#endif  // CASCADE_TOOLS_BENCH_MAX_FANOUT_SECTION_H_
