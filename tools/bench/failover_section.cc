#include "tools/bench/failover_section.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/bench/failover_bench.h"
#include "tools/bench/relay_tree.h"

namespace cascade::bench {

absl::Status RunFailover(const FailoverOptions& options, Context& context) {
  const int runs = options.runs;
  const int sites = options.sites;
  FailoverSetup setup;
  setup.sites = sites;
  absl::StatusOr<TreeBinaries> binaries = FindTreeBinaries(context.argv0);
  if (!binaries.ok()) return binaries.status();
  setup.binaries = *binaries;
  std::printf(
      "\n== failover: source -> N -> P1 (killed) / P2 (standby) -> D -> %d "
      "relay-probe sites; %.0f s of %d kbit/s video + audio, SIGKILL of P1 "
      "after %.0f s; %d runs\n",
      sites, absl::ToDoubleSeconds(setup.stream), setup.video_kbps,
      absl::ToDoubleSeconds(setup.kill_after), runs);
  std::printf("%-4s %12s %8s %12s %6s\n", "run", "longest gap", "lost",
              "packets/site", "PLIs");
  std::vector<double> gaps;
  int64_t lost = 0;
  cascade::v1::BenchFailover& section = *context.report.mutable_failover();
  for (int i = 0; i < runs; ++i) {
    setup.work_dir = absl::StrCat(context.work_dir, "/failover-", i);
    absl::StatusOr<FailoverRun> run = RunFailoverOnce(setup);
    if (!run.ok()) {
      std::printf("%-4d not measured: %s\n", i + 1,
                  std::string(run.status().message()).c_str());
      continue;
    }
    std::printf("%-4d %9.0f ms %8lld %12lld %6lld\n", i + 1,
                run->longest_gap_ms, static_cast<long long>(run->lost),
                static_cast<long long>(run->packets_per_site),
                static_cast<long long>(run->plis));
    std::fflush(stdout);
    gaps.push_back(run->longest_gap_ms);
    lost += run->lost;
    cascade::v1::BenchFailoverRun& entry = *section.add_results();
    entry.set_longest_gap_ms(run->longest_gap_ms);
    entry.set_lost(static_cast<int32_t>(run->lost));
    entry.set_packets_per_site(static_cast<int32_t>(run->packets_per_site));
    entry.set_plis(static_cast<int32_t>(run->plis));
  }
  ++context.cases_run;
  section.set_runs(runs);
  section.set_sites(sites);
  section.set_lost(static_cast<int32_t>(lost));
  std::optional<double> median, worst;
  if (!gaps.empty()) {
    std::sort(gaps.begin(), gaps.end());
    median = gaps[gaps.size() / 2];
    worst = gaps.back();
    section.set_median_gap_ms(*median);
    section.set_max_gap_ms(*worst);
    std::printf(
        "longest gap: median %.0f ms, max %.0f ms over %zu runs; %lld "
        "packets lost in all\n",
        *median, *worst, gaps.size(), static_cast<long long>(lost));
  }
  std::printf("\ntargets:\n");
  const bool measured = static_cast<int>(gaps.size()) == runs;
  const std::string why_not = "some runs did not complete (see above)";
  ReportTarget(
      "failover: max gap under 500 ms",
      measured ? std::optional<bool>(*worst < 500) : std::nullopt,
      measured ? absl::StrFormat("max %.0f ms, median %.0f ms", *worst, *median)
               : why_not,
      section.mutable_targets());
  ReportTarget(
      "failover: zero packets lost",
      measured ? std::optional<bool>(lost == 0) : std::nullopt,
      measured ? absl::StrCat(lost, " lost over ", runs, " runs") : why_not,
      section.mutable_targets());
  return absl::OkStatus();
}

}  // namespace cascade::bench
