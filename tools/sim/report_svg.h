// The plots of report.html and report.svg, each an inline <svg> that opens
// with "<svg width='W' height='H'". Their elements carry classes and data-
// attributes (data-tier, data-points, data-band) so a test can count what
// was drawn.
#ifndef CASCADE_TOOLS_SIM_REPORT_SVG_H_
#define CASCADE_TOOLS_SIM_REPORT_SVG_H_

#include <string>

#include "proto/sim_scenario.pb.h"

namespace cascade::sim {

// Plot width; every plot is this wide.
inline constexpr int kPlotWidth = 900;

// Classes of the plots, for the page and the standalone picture.
extern const char kPlotStyle[];

// `text` safe inside an element or a quoted attribute.
std::string HtmlEscape(const std::string& text);

// Green when every site below got every packet, through amber to red.
std::string HealthColour(double health);

// The empirical CDF of latency per tier: one point per site (its p99),
// sorted, against the share of the tier's sites at or below it. The site
// tier's points are latency_ms.site_p99; a tier probe is one site, its
// tier's p99. Each tier is a <polyline class='cdf' data-tier='TIER'
// data-points='N'> of N points.
std::string LatencyCdfSvg(const cascade::v1::SimReport& report);

// Packets per second per site over time as bands over the sites: per time
// bucket the min, 1st percentile, median and max of the site groups' rates,
// each group weighing as many sites as it has (a group's sites share its
// mean rate). The sites below each fault's target are drawn as lines of
// their own, and every step is marked.
std::string TimelineSvg(const cascade::v1::SimReport& report);

// The height of a plot from its opening tag, 0 if it has none.
int SvgHeight(const std::string& svg);

}  // namespace cascade::sim

#endif  // CASCADE_TOOLS_SIM_REPORT_SVG_H_
