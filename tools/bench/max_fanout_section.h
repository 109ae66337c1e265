// The max_fanout benchmark: the most 2 Mbit/s sites one relayd feeds with no
// loss, at each thread count (the scaling curve); doubling the sites, then
// halving the interval to within 10%.
#ifndef CASCADE_TOOLS_BENCH_MAX_FANOUT_SECTION_H_
#define CASCADE_TOOLS_BENCH_MAX_FANOUT_SECTION_H_

#include <vector>

#include "absl/status/status.h"
#include "tools/bench/report.h"

namespace cascade::bench {

struct MaxFanoutOptions {
  double seconds = 3;                     // of load per size
  std::vector<int> relayd_threads = {1};  // relayd --threads values
};

absl::Status RunMaxFanout(const MaxFanoutOptions& options, Context& context);

}  // namespace cascade::bench

#endif  // CASCADE_TOOLS_BENCH_MAX_FANOUT_SECTION_H_
