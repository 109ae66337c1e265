// The scenario's steps on the media's clock, then the end of the run: the
// final counters of every process, parsed into the report's raw figures.
#include <signal.h>

#include <algorithm>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "base/files.h"
#include "tools/sim/files.h"
#include "tools/sim/simulation.h"

namespace cascade::sim {

absl::Status Simulation::PlayScenario() {
  std::vector<cascade::v1::SimStep> steps(options_.scenario.steps().begin(),
                                          options_.scenario.steps().end());
  std::stable_sort(
      steps.begin(), steps.end(),
      [](const auto& a, const auto& b) { return a.at_s() < b.at_s(); });
  for (const cascade::v1::SimStep& step : steps) {
    if (absl::Status s = SleepUntil(media_start_ + absl::Seconds(step.at_s()));
        !s.ok()) {
      return s;
    }
    // Which relays change parent in each step's window: read at its start.
    run_.relay_parent_changes.push_back(relays_.ParentChanges());
    // When it began: a step may wait (for acks, for a new leader).
    const double at_s = absl::ToDoubleSeconds(absl::Now() - media_start_);
    cascade::v1::SimStepResult result =
        steps_.Execute(step, run_.steps.size(), media_start_, &run_.upstream);
    result.set_at_s(at_s);
    result.set_label(step.label());
    run_.steps.push_back(std::move(result));
    // Steps wait (acks, a new leader, each step's metrics): one pushed
    // past the media acts on an idle tree, which no figure measures.
    if (at_s > options_.scenario.duration_s()) {
      run_.problems.push_back(absl::StrFormat(
          "step \"%s\" began at %.1f s, after the media ended (%g s): "
          "its effect on the stream is not measured",
          step.label(), at_s, options_.scenario.duration_s()));
    }
  }
  // Until the source is done, bounded.
  const absl::Time deadline = media_start_ +
                              absl::Seconds(options_.scenario.duration_s()) +
                              absl::Seconds(30);
  while (supervisor_.Running("relay-source")) {
    if (absl::Now() >= deadline) {
      run_.problems.push_back("relay-source overran its duration; stopped");
      break;
    }
    if (absl::Status s = SleepUntil(absl::Now() + kPoll); !s.ok()) return s;
  }
  // A controller a late step killed starts again before the final
  // counters are read, as the step says: the relays are not left
  // reconnecting to nothing while they are measured.
  if (std::optional<absl::Time> restart = control_plane_.NextRestart()) {
    if (absl::Status s = SleepUntil(*restart + kPoll); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status Simulation::Finish() {
  const std::string source_log = ReadFile(Out("logs/relay-source.log"));
  for (absl::string_view line : absl::StrSplit(source_log, '\n')) {
    if (!absl::StartsWith(line, "{")) continue;
    absl::StatusOr<cascade::v1::SourceCounters> counters =
        ParseSourceLine(std::string(line));
    if (counters.ok()) run_.source = *counters;
  }
  // Repairs of the last packets are still in flight: let them land.
  if (absl::Status s = SleepUntil(absl::Now() + absl::Seconds(1.5)); !s.ok()) {
    return s;
  }
  relays_.CollectFinalMetrics(&run_.relay_metrics,
                              &run_.relay_parent_changes.emplace_back(),
                              &run_.problems);
  for (const ProbeGroupRun& group : run_.groups) {
    supervisor_.Signal("probe " + group.name, SIGTERM).IgnoreError();
  }
  for (const ProbeGroupRun& group : run_.groups) {
    supervisor_.Stop("probe " + group.name, absl::Seconds(10)).IgnoreError();
  }
  run_.usage = supervisor_.UsageByKind();
  run_.wall_s = absl::ToDoubleSeconds(absl::Now() - started_);
  control_plane_.Stop();
  supervisor_.StopAll(absl::Seconds(3));
  control_plane_.RecordLeaderChanges(media_start_);
  for (ProbeGroupRun& group : run_.groups) {
    const std::string log = ReadFile(Out("logs/" + group.name + ".log"));
    for (absl::string_view line : absl::StrSplit(log, '\n')) {
      if (!absl::StartsWith(line, "{\"type\":")) continue;
      absl::StatusOr<cascade::v1::ProbeLine> parsed =
          ParseProbeLine(std::string(line));
      if (!parsed.ok()) {
        run_.problems.push_back(std::string(parsed.status().message()));
        continue;
      }
      if (parsed->type() == "final") {
        group.final = *std::move(parsed);
      } else {
        group.intervals.push_back(*std::move(parsed));
      }
    }
  }
  SummarizeWhepSites();
  run_.control_plane.set_assignments_pushed(options_.controller);
  run_.control_plane.set_note(absl::StrCat(
      options_.controller
          ? "relays ran with --controller: parents, children, keys and "
            "streams from topologyd's assignments; assignment_push_ms is "
            "each admin change until every relay it reached acked"
          : "relays ran on standalone configs generated from the topology "
            "(--mode=standalone), so no assignment was pushed; admin calls "
            "and controller start times are measured",
      control_plane_.on_etcd()
          ? absl::StrCat(
                "; three topologyd on one etcd over mutual TLS "
                "(--leader-ttl=",
                absl::FormatDuration(options_.leader_ttl),
                options_.store_delay > absl::ZeroDuration()
                    ? absl::StrCat(", every request to etcd held ",
                                   absl::FormatDuration(options_.store_delay),
                                   " by tcp-delay: store_delay_ms")
                    : "",
                "), relays and relay-sim given all three; "
                "leader_changes lists each new leader and how long "
                "the takeover took")
          : ""));
  return absl::OkStatus();
}

}  // namespace cascade::sim
