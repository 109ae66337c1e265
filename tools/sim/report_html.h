// report.html: a self-contained page (inline SVG, no external assets) with
// the headline figures against their targets (spread.h), the latency CDF
// per tier, the packet rate per site over time around each fault and the
// tree coloured by health (report_svg.h, report_tree.h).
#ifndef CASCADE_TOOLS_SIM_REPORT_HTML_H_
#define CASCADE_TOOLS_SIM_REPORT_HTML_H_

#include <string>

#include "proto/sim_scenario.pb.h"

namespace cascade::sim {

std::string ReportHtml(const cascade::v1::SimReport& report);

// report.svg: the headline figures and the same plots as one standalone
// picture (for a README or a slide).
std::string ReportSvg(const cascade::v1::SimReport& report);

}  // namespace cascade::sim

#endif  // CASCADE_TOOLS_SIM_REPORT_HTML_H_
