// relay-sim's report checked against issue 7's criteria, for the runs of
// sim_test: every site every packet, each step done within its window, the
// selected sites' streams at the center, the WHEP viewers at an edge.
#ifndef CASCADE_TESTS_SIM_SIM_CHECKS_H_
#define CASCADE_TESTS_SIM_SIM_CHECKS_H_

#include "proto/sim_scenario.pb.h"

namespace cascade::sim {

// Issue 7's criteria on a controller-mode run of a scenario of `steps`
// steps (one a selection, which has no window) and `pushes` Admin changes
// that reached relays: no problem, every site every packet, every step
// done, no step's window with a gap of a second or a lost packet, the
// selected sites' streams at the center.
void ExpectTheCriteria(const cascade::v1::SimReport& report, int steps = 8,
                       int pushes = 5);

// The WHEP sites of --whep_sites=N at the one browser edge, in the report
// as sites of their district: each got every packet through the faults, in
// a probe group (and timeline series) of their own, and their sessions'
// first pictures are in the detail of the call that minted their token.
void ExpectTheWhepSites(const cascade::v1::SimReport& report, int count);

}  // namespace cascade::sim

#endif  // CASCADE_TESTS_SIM_SIM_CHECKS_H_
