// A run of a plan as relay-sim would have recorded it, made up without
// running anything, for the report's tests (the page at the scale of the
// reference topologies, in a unit test and in the browser).
#ifndef CASCADE_TOOLS_SIM_REPORT_FIXTURE_H_
#define CASCADE_TOOLS_SIM_REPORT_FIXTURE_H_

#include "tools/sim/network_plan.h"
#include "tools/sim/report.h"

namespace cascade::sim {

struct SyntheticRunOptions {
  // Site probes of at most this many sites; the sites of the first site's
  // parent have one of their own (the kill's target).
  int sites_per_group = 300;
  double duration_s = 20;
  double interval_s = 0.5;
  // Every Nth site (0: none) loses one packet after repair.
  int missing_every = 0;
  // > 0: a kill of the first site's parent at half time, whose sites stall
  // this long.
  double kill_gap_ms = 0;
  // Tier probes at the national, provincial and district relays.
  bool tier_probes = true;
};

// Each site gets 50 packets/s and its own p99 latency (spread over
// 10..60 ms, so the CDF has one distinct point per site).
SimRun SyntheticRun(const NetworkPlan& plan,
                    const SyntheticRunOptions& options);

}  // namespace cascade::sim

#endif  // CASCADE_TOOLS_SIM_REPORT_FIXTURE_H_
