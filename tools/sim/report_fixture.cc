#include "tools/sim/report_fixture.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace cascade::sim {
namespace {

constexpr double kRate = 50;  // packets/s per site

// Spread over 10..60 ms, one distinct value per site of a large plan.
double SiteP99(size_t site) {
  return 10 + 50.0 * static_cast<double>(site * 7919 % 10007) / 10007;
}

}  // namespace

SimRun SyntheticRun(const NetworkPlan& plan,
                    const SyntheticRunOptions& options) {
  SimRun run;
  run.topology_name = "synthetic";
  run.mode = "controller";
  run.scenario.set_name("synthetic");
  run.scenario.set_duration_s(options.duration_s);
  run.scenario.set_frame_rate(15);
  run.scenario.set_video_kbps(200);
  run.probe_interval_s = options.interval_s;
  run.parent_timeout = absl::Milliseconds(300);
  run.keepalive = absl::Milliseconds(250);
  const int64_t sent = static_cast<int64_t>(kRate * options.duration_s);
  run.source.emplace();
  run.source->set_video_packets(sent);

  // The first site's parent's sites in a group of their own, as relay-sim
  // splits probes along fault targets; the rest in chunks.
  const std::string target =
      plan.sites.empty() ? "" : plan.sites[0].parents.at(0);
  std::vector<size_t> first;
  std::vector<size_t> rest;
  for (size_t i = 0; i < plan.sites.size(); ++i) {
    (plan.sites[i].parents.at(0) == target ? first : rest).push_back(i);
  }
  std::vector<std::vector<size_t>> groups = {first};
  const size_t chunk =
      static_cast<size_t>(std::max(options.sites_per_group, 1));
  for (size_t i = 0; i < rest.size(); i += chunk) {
    groups.emplace_back(rest.begin() + i,
                        rest.begin() + std::min(i + chunk, rest.size()));
  }

  const double kill_at = options.duration_s / 2;
  const double interval = options.interval_s;
  for (size_t g = 0; g < groups.size(); ++g) {
    const std::vector<size_t>& sites = groups[g];
    if (sites.empty()) continue;
    ProbeGroupRun group;
    group.name = g == 0 ? "sites-below-" + target : absl::StrCat("sites-", g);
    group.tier = "site";
    const bool stalls = g == 0 && options.kill_gap_ms > 0;
    int64_t packets = 0;
    const int intervals = static_cast<int>(options.duration_s / interval);
    for (int k = 1; k <= intervals; ++k) {
      const double t = k * interval;
      cascade::v1::ProbeLine line;
      line.set_type("interval");
      line.set_elapsed_s(t);
      // Nothing in the interval after the kill; the stall is reported in
      // the next.
      const bool stalled = stalls && t > kill_at && t <= kill_at + interval;
      if (!stalled) {
        packets += static_cast<int64_t>(kRate * interval) *
                   static_cast<int64_t>(sites.size());
      }
      line.set_packets(packets);
      if (stalls && t > kill_at + interval && t <= kill_at + 2 * interval) {
        line.set_interval_gap_ms(options.kill_gap_ms);
        line.set_longest_gap_ms(options.kill_gap_ms);
      }
      group.intervals.push_back(line);
    }
    cascade::v1::ProbeLine final;
    final.set_type("final");
    final.set_elapsed_s(options.duration_s);
    final.set_latency_samples(static_cast<int64_t>(100 * sites.size()));
    final.set_latency_p50_ms(10);
    for (size_t i : sites) {
      const PlanSite& plan_site = plan.sites[i];
      group.site_ids.push_back(plan_site.id);
      group.addresses.push_back(plan_site.address);
      const bool misses =
          options.missing_every > 0 && i % options.missing_every == 0;
      cascade::v1::ProbeSite* site = final.add_per_site();
      site->set_listen(plan_site.address);
      site->set_packets(misses ? sent - 1 : sent);
      site->set_lost(misses ? 1 : 0);
      site->set_latency_p99_ms(SiteP99(i));
      final.set_latency_p99_ms(std::max(final.latency_p99_ms(), SiteP99(i)));
      final.set_latency_max_ms(final.latency_p99_ms() + 5);
    }
    group.final = final;
    run.groups.push_back(std::move(group));
  }
  if (options.tier_probes) {
    double p99 = 2;
    for (const char* tier : {"national", "provincial", "district"}) {
      ProbeGroupRun group;
      group.name = absl::StrCat("tier-", tier);
      group.tier = tier;
      group.final.emplace();
      group.final->set_type("final");
      group.final->set_latency_samples(100);
      group.final->set_latency_p50_ms(p99 / 2);
      group.final->set_latency_p99_ms(p99);
      group.final->set_latency_max_ms(p99 + 1);
      run.groups.push_back(std::move(group));
      p99 += 3;
    }
  }
  if (options.kill_gap_ms > 0) {
    cascade::v1::SimStepResult kill;
    kill.set_at_s(kill_at);
    kill.set_label("kill");
    kill.set_action("kill");
    kill.set_target(target);
    kill.set_ok(true);
    run.steps.push_back(kill);
  }
  return run;
}

}  // namespace cascade::sim
