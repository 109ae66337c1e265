// The headline figures of a run's report, each against its target, and
// their spread over repeated runs (relay-sim --repeat, spread.json).
#ifndef CASCADE_TOOLS_SIM_SPREAD_H_
#define CASCADE_TOOLS_SIM_SPREAD_H_

#include <string>
#include <vector>

#include "proto/sim_scenario.pb.h"

namespace cascade::sim {

// Every headline figure of `report`, in a fixed order, measured or not
// (a scenario without a kill has no kill gap):
//   kill_gap_ms                    longest gap in a kill's window < 450
//   kill_switches_beyond_children  parent changes there by nodes that are
//                                  not the killed relay's children = 0
//   loss_site_switches             site failovers while loss is on = 0
//   drain_restore_gap_ms           longest gap in a drain's or restore's
//                                  window < 50
//   drain_restore_sites_failed_over  site failovers there = 0
//   upstream_first_packet_ms       the slowest selected site's first packet
//                                  at the center after its call < 300
//                                  (measured when every one got some)
//   delivery_ratio                 1.00000: every site every packet
std::vector<cascade::v1::SimFigure> HeadlineFigures(
    const cascade::v1::SimReport& report);

// Each figure's min, median and max over the runs that measured it and how
// many runs met its target; a run without a report met none.
cascade::v1::SimSpread Spread(
    const std::vector<cascade::v1::SimRunOutcome>& runs);

// One line for a run that ended: "run K of N (2m03s): kill gap 311 ms ok,
// ..." or why it failed.
std::string RunLine(const cascade::v1::SimRunOutcome& run, int runs);
// The spread as a table, one figure a line.
std::string SpreadTable(const cascade::v1::SimSpread& spread);

}  // namespace cascade::sim

#endif  // CASCADE_TOOLS_SIM_SPREAD_H_
