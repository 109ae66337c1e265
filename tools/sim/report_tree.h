// The tree of a report, coloured by health, as an inline <svg>: one mark per
// site, grouped by the relay it hangs from (a district) and by the relay
// just below a root (a province).
#ifndef CASCADE_TOOLS_SIM_REPORT_TREE_H_
#define CASCADE_TOOLS_SIM_REPORT_TREE_H_

#include <string>

#include "proto/sim_scenario.pb.h"

namespace cascade::sim {

// Drawn from report.nodes:
// - every root (a node without a parent: the national relay and its
//   standby) as a chip, <g class='root' data-node='ID'>;
// - per relay just below a root, a box <g class='top' data-node='ID'>
//   holding per relay with sites a block <g class='leaf' data-node='ID'>
//   of one <rect class='site'> per site ('site miss' for a site that did
//   not get every packet, titled with its id);
// - every other relay with no site below (standbys) as a small hollow
//   <rect class='idle' data-node='ID'>.
// A report without site nodes (older report.json) gets each relay's
// direct sites as anonymous marks from its counts.
std::string TreeSvg(const cascade::v1::SimReport& report);

}  // namespace cascade::sim

#endif  // CASCADE_TOOLS_SIM_REPORT_TREE_H_
