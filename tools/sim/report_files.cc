#include "tools/sim/report_files.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/files.h"
#include "tools/sim/report.h"
#include "tools/sim/report_html.h"

namespace cascade::sim {

absl::Status WriteReportFiles(const cascade::v1::SimReport& report,
                              const std::string& dir, bool html_only) {
  // Each file tried, whatever became of the others.
  for (const absl::Status& written :
       {html_only
            ? absl::OkStatus()
            : WriteFileAtomically(dir + "/report.json", ReportJson(report)),
        WriteFileAtomically(dir + "/report.html", ReportHtml(report)),
        WriteFileAtomically(dir + "/report.svg", ReportSvg(report))}) {
    if (!written.ok()) return written;
  }
  return absl::OkStatus();
}

std::string RunSummary(const cascade::v1::SimReport& report,
                       const std::string& dir) {
  double longest_kill_gap = 0;
  for (const auto& fault : report.failover()) {
    if (fault.action() == "kill") {
      longest_kill_gap = std::max(longest_kill_gap, fault.longest_gap_ms());
    }
  }
  std::string summary = absl::StrFormat(
      "relay-sim: %u/%u sites got every packet, delivery %.5f, latency p50 "
      "%.1f p99 %.1f max %.1f ms, longest gap after a kill %.0f ms, %d "
      "problems\nrelay-sim: wrote %s and %s\n",
      report.sites_all_packets(), report.sites_total(), report.delivery_ratio(),
      report.latency_ms().p50(), report.latency_ms().p99(),
      report.latency_ms().max(), longest_kill_gap, report.problems_size(),
      dir + "/report.json", dir + "/report.html");
  for (const auto& change : report.control_plane().leader_changes()) {
    if (change.from().empty()) continue;  // the first election
    absl::StrAppendFormat(
        &summary, "relay-sim: at %.1f s %s took over from %s in %.0f ms (%s)\n",
        change.at_s(), change.to(), change.from(), change.takeover_ms(),
        change.cause());
  }
  return summary;
}

}  // namespace cascade::sim
