// The whep benchmark's driver: relayd's browser edge (docs/webrtc.md) under
// relay-probe --whep viewers of one ~2 Mbit/s stream from relay-source. The
// largest viewer count served with no loss by relayd under one core, the
// edge's CPU per delivered packet against plain forwarding to as many
// static children, and many viewers joining at once.
#ifndef CASCADE_TOOLS_BENCH_WHEP_SECTION_H_
#define CASCADE_TOOLS_BENCH_WHEP_SECTION_H_

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "tools/bench/report.h"

namespace cascade::bench {

struct WhepOptions {
  int first_viewers = 50;       // the search doubles from here
  int max_viewers = 1600;       // and stops here
  int viewers_per_probe = 200;  // viewers in one relay-probe process
  double window_seconds = 5;    // relayd's CPU measured this long per step
  // The search starts no step after this long.
  absl::Duration search_budget = absl::Minutes(2);
  int join_viewers = 500;
};

absl::Status RunWhep(const WhepOptions& options, Context& context);

}  // namespace cascade::bench

#endif  // CASCADE_TOOLS_BENCH_WHEP_SECTION_H_
