#include "tools/bench/join_section.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/bench/join_bench.h"
#include "tools/bench/relay_tree.h"

namespace cascade::bench {

absl::Status RunJoin(const JoinOptions& options, Context& context) {
  const int joins = options.joins;
  JoinSetup setup;
  setup.joins = joins;
  absl::StatusOr<TreeBinaries> binaries = FindTreeBinaries(context.argv0);
  if (!binaries.ok()) return binaries.status();
  setup.binaries = *binaries;
  std::printf(
      "\n== join: relay-source (GOP %.0f s) -> relayd -> a site joining at a "
      "random point of the GOP, %d joins per case, no PLI from the site; time "
      "from the site's start (activation) to its first decoded picture\n",
      absl::ToDoubleSeconds(setup.gop), joins);
  std::printf("%-16s %6s %10s %10s %10s\n", "case", "joins", "median ms",
              "max ms", "no picture");
  std::map<bool, std::vector<double>> times;
  cascade::v1::BenchJoin& section = *context.report.mutable_join();
  section.set_gop_s(absl::ToDoubleSeconds(setup.gop));
  for (const bool cache : {true, false}) {
    setup.keyframe_cache = cache;
    setup.work_dir =
        absl::StrCat(context.work_dir, cache ? "/join-cache" : "/join-none");
    absl::StatusOr<JoinResult> result = RunJoins(setup);
    const char* name = cache ? "keyframe cache" : "no cache";
    if (!result.ok()) {
      std::printf("%-16s not measured: %s\n", name,
                  std::string(result.status().message()).c_str());
      continue;
    }
    std::vector<double>& t = times[cache];
    t = result->first_frame_ms;
    std::sort(t.begin(), t.end());
    std::optional<double> median, worst;
    if (!t.empty()) {
      median = t[t.size() / 2];
      worst = t.back();
    }
    std::printf("%-16s %6zu %10s %10s %10d\n", name, t.size(),
                median ? absl::StrFormat("%.0f", *median).c_str() : "-",
                worst ? absl::StrFormat("%.0f", *worst).c_str() : "-",
                result->failed);
    std::fflush(stdout);
    cascade::v1::BenchJoinCase& entry = *section.add_results();
    entry.set_keyframe_cache(cache);
    entry.set_joins(joins);
    entry.set_no_picture(result->failed);
    if (median) entry.set_median_ms(*median);
    if (worst) entry.set_max_ms(*worst);
    entry.mutable_first_frame_ms()->Add(t.begin(), t.end());
  }
  ++context.cases_run;
  std::printf("\ntargets:\n");
  const std::vector<double>& cached = times[true];
  const bool measured = static_cast<int>(cached.size()) == joins;
  ReportTarget(
      "join: first decodable frame under 100 ms with the cache",
      measured ? std::optional<bool>(cached.back() < 100) : std::nullopt,
      measured ? absl::StrFormat(
                     "max %.0f ms over %d joins; without "
                     "the cache median %s ms",
                     cached.back(), joins,
                     times[false].empty()
                         ? "-"
                         : absl::StrFormat(
                               "%.0f", times[false][times[false].size() / 2])
                               .c_str())
               : "some joins saw no picture or did not run",
      section.mutable_targets());
  return absl::OkStatus();
}

}  // namespace cascade::bench
