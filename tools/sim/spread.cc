#include "tools/sim/spread.h"

#include <algorithm>
#include <functional>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"

namespace cascade::sim {
namespace {

using cascade::v1::SimFaultResult;
using cascade::v1::SimFigure;
using cascade::v1::SimReport;

// A figure's value and whether it met its target; nullopt when the report
// has nothing to measure it by.
struct Measured {
  double value = 0;
  bool met = false;
};
using Measure = std::function<std::optional<Measured>(const SimReport&)>;

struct Headline {
  const char* name;
  // For the progress line.
  const char* label;
  const char* unit;
  const char* target;
  Measure measure;
};

std::vector<const SimFaultResult*> Windows(
    const SimReport& report,
    const std::function<bool(const SimFaultResult&)>& of) {
  std::vector<const SimFaultResult*> windows;
  for (const SimFaultResult& fault : report.failover()) {
    if (of(fault)) windows.push_back(&fault);
  }
  return windows;
}

bool IsKill(const SimFaultResult& fault) { return fault.action() == "kill"; }
bool UnderLoss(const SimFaultResult& fault) { return fault.loss_percent() > 0; }
bool IsDrainOrRestore(const SimFaultResult& fault) {
  return fault.action() == "drain" || fault.action() == "restore";
}

// The longest gap in the windows, below `limit`.
Measure GapBelow(bool (*of)(const SimFaultResult&), double limit) {
  return [of, limit](const SimReport& report) -> std::optional<Measured> {
    const std::vector<const SimFaultResult*> windows = Windows(report, of);
    if (windows.empty()) return std::nullopt;
    double longest = 0;
    for (const SimFaultResult* fault : windows) {
      longest = std::max(longest, fault->longest_gap_ms());
    }
    return Measured{longest, longest < limit};
  };
}

// The longest gap in the windows, at most `stall` beyond one frame
// interval: an exact gap includes the time between two frames, which no
// relay can shorten (67 ms at 15 fps, 200 ms at 5), so "no stall" is a gap
// within the frame interval plus `stall`.
Measure GapWithinFrames(bool (*of)(const SimFaultResult&), double stall) {
  return [of, stall](const SimReport& report) -> std::optional<Measured> {
    const std::vector<const SimFaultResult*> windows = Windows(report, of);
    if (windows.empty()) return std::nullopt;
    double longest = 0;
    for (const SimFaultResult* fault : windows) {
      longest = std::max(longest, fault->longest_gap_ms());
    }
    const double frame_ms =
        report.frame_rate() > 0 ? 1000.0 / report.frame_rate() : 0;
    return Measured{longest, longest < frame_ms + stall};
  };
}

// A count summed over the windows, none expected.
Measure NoneIn(bool (*of)(const SimFaultResult&),
               int64_t (*count)(const SimFaultResult&)) {
  return [of, count](const SimReport& report) -> std::optional<Measured> {
    const std::vector<const SimFaultResult*> windows = Windows(report, of);
    if (windows.empty()) return std::nullopt;
    int64_t total = 0;
    for (const SimFaultResult* fault : windows) total += count(*fault);
    return Measured{static_cast<double>(total), total == 0};
  };
}

int64_t BeyondChildren(const SimFaultResult& fault) {
  return fault.switches_beyond_children();
}
int64_t SiteFailovers(const SimFaultResult& fault) {
  return fault.parent_switches() + fault.other_sites_parent_switches();
}

// The slowest selected site's first packet at the center, once every
// selected site's stream got there (none before its call).
std::optional<Measured> UpstreamFirstPacket(const SimReport& report) {
  if (report.upstream().empty()) return std::nullopt;
  double slowest = 0;
  double earliest = 0;
  for (const cascade::v1::SimUpstream& up : report.upstream()) {
    if (up.packets_received() == 0) return std::nullopt;
    slowest = std::max(slowest, up.first_packet_ms());
    earliest = std::min(earliest, up.first_packet_ms());
  }
  return Measured{slowest, earliest >= 0 && slowest < 300};
}

std::optional<Measured> Delivery(const SimReport& report) {
  return Measured{report.delivery_ratio(),
                  report.sites_total() > 0 &&
                      report.sites_all_packets() == report.sites_total()};
}

const std::vector<Headline>& Headlines() {
  static const auto* headlines = new std::vector<Headline>{
      {"kill_gap_ms", "kill gap", " ms", "< 450", GapBelow(IsKill, 450)},
      {"kill_switches_beyond_children",
       "parent changes beyond the killed relay's children", "", "= 0",
       NoneIn(IsKill, BeyondChildren)},
      {"loss_site_switches", "site failovers under loss", "", "= 0",
       NoneIn(UnderLoss, SiteFailovers)},
      {"drain_restore_gap_ms", "drain/restore gap", " ms",
       "< a frame interval + 50", GapWithinFrames(IsDrainOrRestore, 50)},
      {"drain_restore_sites_failed_over", "sites failed over at drain/restore",
       "", "= 0", NoneIn(IsDrainOrRestore, SiteFailovers)},
      {"upstream_first_packet_ms", "first upstream packet", " ms", "< 300",
       UpstreamFirstPacket},
      {"delivery_ratio", "delivery", "", "= 1 (every site every packet)",
       Delivery},
  };
  return *headlines;
}

std::string Value(const std::string& name, double value) {
  return name == "delivery_ratio" ? absl::StrFormat("%.5f", value)
                                  : absl::StrFormat("%.0f", value);
}

std::string Elapsed(double seconds) {
  return absl::FormatDuration(
      absl::Trunc(absl::Seconds(seconds), absl::Seconds(1)));
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

}  // namespace

std::vector<SimFigure> HeadlineFigures(const SimReport& report) {
  std::vector<SimFigure> figures;
  for (const Headline& headline : Headlines()) {
    SimFigure& figure = figures.emplace_back();
    figure.set_name(headline.name);
    figure.set_target(headline.target);
    if (std::optional<Measured> measured = headline.measure(report)) {
      figure.set_measured(true);
      figure.set_value(measured->value);
      figure.set_met(measured->met);
    }
  }
  return figures;
}

cascade::v1::SimSpread Spread(
    const std::vector<cascade::v1::SimRunOutcome>& runs) {
  cascade::v1::SimSpread spread;
  spread.set_runs(static_cast<uint32_t>(runs.size()));
  for (const cascade::v1::SimRunOutcome& run : runs) {
    if (!run.completed()) spread.set_runs_failed(spread.runs_failed() + 1);
    spread.set_wall_s(spread.wall_s() + run.wall_s());
    *spread.add_run_outcomes() = run;
  }
  for (const Headline& headline : Headlines()) {
    cascade::v1::SimFigureSpread* figure = spread.add_figures();
    figure->set_name(headline.name);
    figure->set_target(headline.target);
    std::vector<double> values;
    for (const cascade::v1::SimRunOutcome& run : runs) {
      for (const SimFigure& measured : run.figures()) {
        if (measured.name() != headline.name || !measured.measured()) continue;
        values.push_back(measured.value());
        if (measured.met()) figure->set_runs_met(figure->runs_met() + 1);
      }
    }
    figure->set_runs_measured(static_cast<uint32_t>(values.size()));
    if (values.empty()) continue;
    figure->set_min(*std::min_element(values.begin(), values.end()));
    figure->set_max(*std::max_element(values.begin(), values.end()));
    figure->set_median(Median(values));
  }
  return spread;
}

std::string RunLine(const cascade::v1::SimRunOutcome& run, int runs) {
  std::string line = absl::StrFormat("run %d of %d (%s): ", run.run(), runs,
                                     Elapsed(run.wall_s()));
  if (!run.completed()) return line + "FAILED: " + run.failure();
  std::vector<std::string> parts;
  for (const Headline& headline : Headlines()) {
    for (const SimFigure& figure : run.figures()) {
      if (figure.name() != headline.name) continue;
      if (!figure.measured()) {
        parts.push_back(absl::StrCat(headline.label, " n/a"));
      } else {
        parts.push_back(absl::StrCat(
            headline.label, " ", Value(figure.name(), figure.value()),
            headline.unit,
            figure.met() ? ""
                         : absl::StrCat(" (missed ", figure.target(), ")")));
      }
    }
  }
  return line + absl::StrJoin(parts, ", ");
}

std::string SpreadTable(const cascade::v1::SimSpread& spread) {
  std::string table = absl::StrFormat(
      "%-32s %-30s %9s %9s %9s  %s\n", "figure", "target", "min", "median",
      "max", absl::StrCat("met (of ", spread.runs(), ")"));
  for (const cascade::v1::SimFigureSpread& figure : spread.figures()) {
    const bool any = figure.runs_measured() > 0;
    absl::StrAppendFormat(
        &table, "%-32s %-30s %9s %9s %9s  %d\n", figure.name(), figure.target(),
        any ? Value(figure.name(), figure.min()) : "-",
        any ? Value(figure.name(), figure.median()) : "-",
        any ? Value(figure.name(), figure.max()) : "-", figure.runs_met());
  }
  return table;
}

}  // namespace cascade::sim
