// relay-sim's report as files (report.json, report.html, report.svg) and
// the lines it prints of a run's report when the run ends.
#ifndef CASCADE_TOOLS_SIM_REPORT_FILES_H_
#define CASCADE_TOOLS_SIM_REPORT_FILES_H_

#include <string>

#include "absl/status/status.h"
#include "proto/sim_scenario.pb.h"

namespace cascade::sim {

// report.json (unless `html_only`: --render keeps the one it read),
// report.html and report.svg in `dir`, each whole or not at all.
absl::Status WriteReportFiles(const cascade::v1::SimReport& report,
                              const std::string& dir, bool html_only);

// The headline figures and each controller takeover, for the console.
std::string RunSummary(const cascade::v1::SimReport& report,
                       const std::string& dir);

}  // namespace cascade::sim

#endif  // CASCADE_TOOLS_SIM_REPORT_FILES_H_
