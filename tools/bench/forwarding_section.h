// The forwarding benchmark: every forwarder at every fan-out on the same
// video-shaped load; the table, the ratios of CPU per delivered packet, a
// plot of it, and the targets (relayd within 1.5x of the best bare loop, and
// at least 2x better than GStreamer).
#ifndef CASCADE_TOOLS_BENCH_FORWARDING_SECTION_H_
#define CASCADE_TOOLS_BENCH_FORWARDING_SECTION_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "tools/bench/report.h"

namespace cascade::bench {

struct ForwardingOptions {
  std::vector<std::string> forwarders;  // of kForwarderNames
  std::vector<int> fanouts;
  double seconds = 4;  // of load per run
  int repeat = 3;      // runs per case; the median is shown
  // Delivered packets/s asked for; the input rate is out_pps / fan-out, at
  // least min_input_pps.
  double out_pps = 50000;
  double min_input_pps = 200;
};

absl::Status RunForwarding(const ForwardingOptions& options, Context& context);

}  // namespace cascade::bench

#endif  // CASCADE_TOOLS_BENCH_FORWARDING_SECTION_H_
