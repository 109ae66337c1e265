#include "tools/sim/repeat.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/json_util.h"
#include "tools/sim/files.h"
#include "tools/sim/report.h"
#include "tools/sim/spread.h"
#include "tools/sim/supervisor.h"

namespace cascade::sim {
namespace {

constexpr absl::Duration kPoll = absl::Milliseconds(100);
// How long a relay-sim told to stop may take to stop its processes.
constexpr absl::Duration kStopGrace = absl::Seconds(30);

// The last non-empty line of `text`: relay-sim's reason when it fails.
std::string LastLine(const std::string& text) {
  std::string last;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (!line.empty()) last = std::string(line);
  }
  return last;
}

// Runs relay-sim into `dir` and waits for it; what it left, or why not.
absl::StatusOr<cascade::v1::SimRunOutcome> RunOnce(const RepeatOptions& options,
                                                   int run,
                                                   Supervisor* supervisor) {
  cascade::v1::SimRunOutcome outcome;
  outcome.set_run(run);
  const std::string dir = absl::StrCat(options.out_dir, "/run-", run);
  outcome.set_out_dir(dir);
  const absl::Time start = absl::Now();
  const std::string log = dir + "/relay-sim.log";
  std::vector<std::string> argv = {options.relay_sim};
  argv.insert(argv.end(), options.flags.begin(), options.flags.end());
  argv.push_back("--out=" + dir);
  const std::string name = absl::StrCat("relay-sim run ", run);
  absl::Status started = MakeDir(dir);
  if (started.ok()) {
    std::remove(log.c_str());
    started = supervisor->Start(name, "relay-sim", argv, log);
  }
  std::string failure;
  if (!started.ok()) failure = std::string(started.message());
  while (started.ok() && supervisor->Running(name)) {
    if (options.interrupted != nullptr && options.interrupted->load()) {
      supervisor->Stop(name, kStopGrace).IgnoreError();
      return absl::CancelledError("interrupted");
    }
    if (absl::Now() - start > options.run_timeout) {
      supervisor->Stop(name, kStopGrace).IgnoreError();
      failure = absl::StrCat("still running after ",
                             absl::FormatDuration(options.run_timeout),
                             "; stopped (see ", log, ")");
      break;
    }
    absl::SleepFor(kPoll);
  }
  for (const Ended& ended : supervisor->ReapExited()) {
    if (ended.code != 0) {
      failure = absl::StrCat(ended.description, ": ", LastLine(ReadFile(log)));
    }
  }
  if (failure.empty()) {
    cascade::v1::SimReport report;
    if (google::protobuf::util::JsonStringToMessage(
            ReadFile(dir + "/report.json"), &report)
            .ok()) {
      outcome.set_completed(true);
      for (const cascade::v1::SimFigure& figure : HeadlineFigures(report)) {
        *outcome.add_figures() = figure;
      }
    } else {
      failure = absl::StrCat("no readable ", dir, "/report.json");
    }
  }
  outcome.set_failure(failure);
  outcome.set_wall_s(absl::ToDoubleSeconds(absl::Now() - start));
  return outcome;
}

}  // namespace

absl::StatusOr<cascade::v1::SimSpread> RunRepeated(const RepeatOptions& options,
                                                   std::ostream& progress) {
  if (absl::Status s = MakeDir(options.out_dir); !s.ok()) return s;
  Supervisor supervisor;
  std::vector<cascade::v1::SimRunOutcome> outcomes;
  for (int run = 1; run <= options.runs; ++run) {
    absl::StatusOr<cascade::v1::SimRunOutcome> outcome =
        RunOnce(options, run, &supervisor);
    if (!outcome.ok()) return outcome.status();
    progress << "relay-sim: " << RunLine(*outcome, options.runs) << std::endl;
    outcomes.push_back(*std::move(outcome));
  }
  cascade::v1::SimSpread spread = Spread(outcomes);
  spread.set_scenario(options.scenario);
  spread.set_topology(options.topology);
  if (absl::Status s =
          WriteFile(options.out_dir + "/spread.json", ReportJson(spread));
      !s.ok()) {
    return s;
  }
  return spread;
}

}  // namespace cascade::sim
