#include "tools/sim/report.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/util/json_util.h"

namespace cascade::sim {
namespace {

using cascade::v1::ProbeLine;
using cascade::v1::SimReport;

// A site's final figures as its probe reported them.
struct SiteResult {
  int64_t packets = 0;
  int64_t lost = 0;
  double latency_p99_ms = 0;
  bool reported = false;
};

std::string TierName(cascade::v1::Tier tier) {
  switch (tier) {
    case cascade::v1::TIER_NATIONAL:
      return "national";
    case cascade::v1::TIER_PROVINCIAL:
      return "provincial";
    case cascade::v1::TIER_DISTRICT:
      return "district";
    case cascade::v1::TIER_SITE:
      return "site";
    default:
      return "unknown";
  }
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// Packets per second per site of a probe group, per interval, on the run's
// clock (seconds from the first media packet).
struct RateSeries {
  std::vector<double> t_s;  // end of each interval
  std::vector<double> dt_s;
  std::vector<double> rate;
};

RateSeries Rates(const ProbeGroupRun& group) {
  RateSeries series;
  double last_t = 0;
  int64_t last_packets = 0;
  const double sites = std::max<size_t>(group.site_ids.size(), 1);
  for (const ProbeLine& line : group.intervals) {
    const double dt = line.elapsed_s() - last_t;
    if (dt <= 0) continue;
    series.t_s.push_back(group.offset_s + line.elapsed_s());
    series.dt_s.push_back(dt);
    series.rate.push_back(static_cast<double>(line.packets() - last_packets) /
                          dt / sites);
    last_t = line.elapsed_s();
    last_packets = line.packets();
  }
  return series;
}

// The longest run of intervals ending within [from, to] in which a group got
// less than half its usual rate (the median over the 5 s before `from`).
double LongestGapMs(const RateSeries& series, double from, double to) {
  std::vector<double> before;
  for (size_t i = 0; i < series.t_s.size(); ++i) {
    if (series.t_s[i] < from && series.t_s[i] >= from - 5) {
      before.push_back(series.rate[i]);
    }
  }
  const double usual = Median(before.size() >= 3 ? before : series.rate);
  double longest = 0;
  double current = 0;
  for (size_t i = 0; i < series.t_s.size(); ++i) {
    if (series.t_s[i] < from || series.t_s[i] - series.dt_s[i] > to) continue;
    if (series.rate[i] < usual / 2) {
      current += series.dt_s[i];
      longest = std::max(longest, current);
    } else {
      current = 0;
    }
  }
  return longest * 1000;
}

// The probe's last interval line at or before `t` on the run's clock, or
// null.
const ProbeLine* LineAt(const ProbeGroupRun& group, double t) {
  const ProbeLine* at = nullptr;
  for (const ProbeLine& line : group.intervals) {
    if (group.offset_s + line.elapsed_s() > t) break;
    at = &line;
  }
  return at;
}

// The longest stall the probe saw end in (from, to] on the run's clock, from
// its interval lines; 0 when none says (a probe without the figure).
double IntervalGapMs(const ProbeGroupRun& group, double from, double to) {
  double longest = 0;
  for (const ProbeLine& line : group.intervals) {
    const double t = group.offset_s + line.elapsed_s();
    if (t <= from) continue;
    if (t > to) break;
    longest = std::max(longest, line.interval_gap_ms());
  }
  return longest;
}

// Seconds the probes may still be repairing a window's last packets (the
// relays' ring and the probes' give-up time).
constexpr double kRepairHorizonS = 2;

// Whether every site of a probe group has `target` as its first parent
// (false for no target: a step on the whole network has no children).
bool AllChildrenOf(const NetworkPlan& plan, const ProbeGroupRun& group,
                   const std::string& target) {
  if (target.empty()) return false;
  for (const std::string& id : group.site_ids) {
    auto site = plan.site_index.find(id);
    if (site == plan.site_index.end() ||
        plan.sites[site->second].parents[0] != target) {
      return false;
    }
  }
  return true;
}

// The relays whose parent changes rose between step `s` and the next (or
// the end); those not children of the step's target also count as
// switches beyond its children. A relay not read at both ends (dead, or
// restarted with fresh counters) is left out.
void AddRelaysSwitched(const NetworkPlan& plan, const SimRun& run, size_t s,
                       cascade::v1::SimFaultResult* fault) {
  if (s + 1 >= run.relay_parent_changes.size()) return;
  const auto& before = run.relay_parent_changes[s];
  const auto& after = run.relay_parent_changes[s + 1];
  for (const PlanRelay& relay : plan.relays) {
    auto was = before.find(relay.id);
    auto now = after.find(relay.id);
    if (was == before.end() || now == after.end() ||
        now->second <= was->second) {
      continue;
    }
    fault->add_relays_switched(relay.id);
    if (fault->target().empty() || relay.parents.empty() ||
        relay.parents[0] != fault->target()) {
      fault->set_switches_beyond_children(fault->switches_beyond_children() +
                                          1);
    }
  }
}

// Upstream packets a site's probe sent over the run: its own figure in the
// probe's per-site list, or the probe's total when the site is its only one.
int64_t UpstreamSent(const SimRun& run, const std::string& site) {
  for (const ProbeGroupRun& group : run.groups) {
    auto it = std::find(group.site_ids.begin(), group.site_ids.end(), site);
    if (it == group.site_ids.end() || !group.final.has_value()) continue;
    const ProbeLine& final = *group.final;
    if (final.per_site_size() == static_cast<int>(group.site_ids.size())) {
      return final.per_site(static_cast<int>(it - group.site_ids.begin()))
          .upstream_sent();
    }
    if (group.site_ids.size() == 1) return final.upstream_sent();
  }
  return 0;
}

// Each selected site's upstream stream as the center received it; what
// arrived before its selection, or of an SSRC nobody selected, is a
// problem. Appends the figures to the select_sites steps' details.
void AddUpstream(const SimRun& run, SimReport* report) {
  absl::flat_hash_set<uint32_t> selected;
  for (const UpstreamSelectionRun& selection : run.upstream) {
    selected.insert(selection.ssrc);
    cascade::v1::SimUpstream* up = report->add_upstream();
    up->set_step(selection.step_index < run.steps.size()
                     ? run.steps[selection.step_index].label()
                     : "");
    up->set_selected_at_s(selection.at_s);
    up->set_site(selection.site);
    up->set_ssrc(selection.ssrc);
    up->set_selected(selection.ok);
    up->set_packets_sent(UpstreamSent(run, selection.site));
    if (run.source.has_value()) {
      for (const cascade::v1::SourceUpstream& at_center :
           run.source->upstream()) {
        if (at_center.ssrc() != selection.ssrc) continue;
        up->set_packets_received(at_center.packets());
        up->set_first_packet_ms(at_center.first_unix_ms() -
                                selection.called_unix_ms);
        up->set_latency_samples(at_center.latency_samples());
        up->set_latency_p50_ms(at_center.latency_p50_ms());
        up->set_latency_p99_ms(at_center.latency_p99_ms());
        up->set_latency_max_ms(at_center.latency_max_ms());
      }
    }
    std::string figures;
    if (up->packets_received() == 0) {
      figures =
          absl::StrCat("; nothing of ", up->site(), " reached the center");
      // Standalone relays are never told of a selection.
      if (selection.ok && run.mode == "controller") {
        report->add_problems(absl::StrCat("upstream of ", up->site(),
                                          ": selected, but nothing reached "
                                          "the center"));
      }
    } else {
      figures = absl::StrFormat(
          "; %s: %d packets at the center, the first %.0f ms after the "
          "call, latency p50 %.1f ms, p99 %.1f ms",
          up->site(), up->packets_received(), up->first_packet_ms(),
          up->latency_p50_ms(), up->latency_p99_ms());
      if (selection.ok && !selection.pushed_at_call) {
        report->add_problems(absl::StrFormat(
            "SelectUpstream of %s changed no relay's assignment when called "
            "(topologyd pushes nothing while it learns after a restart): its "
            "first packet at the center, %.0f ms after the call, includes "
            "that wait",
            up->site(), up->first_packet_ms()));
      }
      if (up->first_packet_ms() < 0) {
        report->add_problems(absl::StrFormat(
            "upstream of %s reached the center %.0f ms before its selection",
            up->site(), -up->first_packet_ms()));
      }
    }
    if (selection.step_index < static_cast<size_t>(report->steps_size())) {
      cascade::v1::SimStepResult* step =
          report->mutable_steps(static_cast<int>(selection.step_index));
      step->set_detail(step->detail() + figures);
    }
  }
  if (!run.source.has_value()) return;
  for (const cascade::v1::SourceUpstream& at_center : run.source->upstream()) {
    if (selected.contains(at_center.ssrc())) continue;
    report->set_upstream_unselected_packets(
        report->upstream_unselected_packets() + at_center.packets());
  }
  if (report->upstream_unselected_packets() > 0) {
    report->add_problems(absl::StrCat(
        report->upstream_unselected_packets(),
        " upstream packets reached the center with an SSRC no selection "
        "named"));
  }
}

// A rotate_stream_key step that topologyd accepted must show as a key
// change at relay-source (it sends under the new key after the overlap).
void AddKeyRotations(const SimRun& run, SimReport* report) {
  int64_t rotations = 0;
  for (const cascade::v1::SimStepResult& step : run.steps) {
    if (step.action() == "rotate_stream_key" && step.ok() && !step.skipped()) {
      ++rotations;
    }
  }
  if (rotations == 0 || !run.source.has_value()) return;
  if (run.source->key_changes() < rotations) {
    report->add_problems(absl::StrCat(
        "relay-source changed its stream key ", run.source->key_changes(),
        " times for ", rotations, " accepted rotations (its key at the end: ",
        run.source->key_id(), ")"));
  }
}

}  // namespace

absl::StatusOr<ProbeLine> ParseProbeLine(const std::string& json) {
  ProbeLine line;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  auto status =
      google::protobuf::util::JsonStringToMessage(json, &line, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("relay-probe line: ", status.ToString()));
  }
  return line;
}

absl::StatusOr<cascade::v1::SourceCounters> ParseSourceLine(
    const std::string& json) {
  cascade::v1::SourceCounters counters;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  auto status =
      google::protobuf::util::JsonStringToMessage(json, &counters, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("relay-source line: ", status.ToString()));
  }
  return counters;
}

double SiteHealth(const cascade::v1::SimNodeHealth& node) {
  return node.sites() == 0
             ? 1.0
             : static_cast<double>(node.sites_all_packets()) / node.sites();
}

SimReport BuildReport(const NetworkPlan& plan, const SimRun& run) {
  SimReport report;
  report.set_scenario(run.scenario.name());
  report.set_topology(run.topology_name);
  report.set_mode(run.mode);
  report.set_video_kbps(run.scenario.video_kbps());
  report.set_frame_rate(run.scenario.frame_rate());
  report.set_audio(run.scenario.audio());
  report.set_duration_s(run.scenario.duration_s());
  report.set_probe_interval_s(run.probe_interval_s);
  report.set_parent_timeout_ms(absl::ToDoubleMilliseconds(run.parent_timeout));
  report.set_keepalive_ms(absl::ToDoubleMilliseconds(run.keepalive));
  report.set_warmup_s(run.warmup_s);
  report.set_relays_total(static_cast<uint32_t>(plan.relays.size()));
  report.set_relay_processes(static_cast<uint32_t>(run.relay_processes));
  report.set_sites_total(static_cast<uint32_t>(plan.sites.size()));
  for (const std::string& problem : run.problems) report.add_problems(problem);
  for (const auto& [name, value] : run.relay_metrics) {
    (*report.mutable_relay_metrics())[name] = value;
  }
  *report.mutable_control_plane() = run.control_plane;
  for (const auto& step : run.steps) *report.add_steps() = step;

  const int64_t sent = run.source.has_value() ? run.source->video_packets() +
                                                    run.source->audio_packets()
                                              : 0;
  report.set_packets_sent(sent);
  if (!run.source.has_value()) {
    report.add_problems(
        "relay-source reported no counters: nothing to compare");
  }
  AddKeyRotations(run, &report);
  AddUpstream(run, &report);

  // Every site's result, from the per-site list (or the totals of a probe
  // with a single site, which prints no list).
  std::vector<SiteResult> sites(plan.sites.size());
  auto& latency = *report.mutable_latency_ms();
  int64_t site_samples = 0;
  double weighted_p50 = 0;
  for (const ProbeGroupRun& group : run.groups) {
    if (!group.final.has_value()) {
      if (group.tier == "site" || !group.site_ids.empty()) {
        report.add_problems(
            absl::StrCat("probe ", group.name, " printed no final report"));
      }
      continue;
    }
    const ProbeLine& final = *group.final;
    if (group.tier != "site") {
      cascade::v1::SimTierLatency* tier = latency.add_per_tier();
      tier->set_tier(group.tier);
      tier->set_samples(final.latency_samples());
      tier->set_p50(final.latency_p50_ms());
      tier->set_p99(final.latency_p99_ms());
      tier->set_max(final.latency_max_ms());
      continue;
    }
    site_samples += final.latency_samples();
    weighted_p50 += final.latency_p50_ms() * final.latency_samples();
    latency.set_p99(std::max(latency.p99(), final.latency_p99_ms()));
    latency.set_max(std::max(latency.max(), final.latency_max_ms()));
    absl::flat_hash_map<std::string, size_t> by_address;
    for (size_t i = 0; i < group.addresses.size(); ++i) {
      by_address[group.addresses[i]] = i;
    }
    auto record = [&](size_t i, int64_t packets, int64_t lost, double p99) {
      auto it = plan.site_index.find(group.site_ids[i]);
      if (it == plan.site_index.end()) return;
      sites[it->second] = SiteResult{packets, lost, p99, true};
    };
    if (final.per_site().empty() && group.site_ids.size() == 1) {
      record(0, final.packets(), final.lost(), final.latency_p99_ms());
    }
    for (const cascade::v1::ProbeSite& site : final.per_site()) {
      auto it = by_address.find(site.listen());
      if (it == by_address.end()) continue;
      record(it->second, site.packets(), site.lost(), site.latency_p99_ms());
    }
  }
  if (site_samples > 0) {
    latency.set_p50(weighted_p50 / static_cast<double>(site_samples));
    cascade::v1::SimTierLatency* tier = latency.add_per_tier();
    tier->set_tier("site");
    tier->set_samples(site_samples);
    tier->set_p50(latency.p50());
    tier->set_p99(latency.p99());
    tier->set_max(latency.max());
  }

  // Delivery: a site has every packet when none is missing after repair
  // and it counted at least as many as were sent.
  int64_t received = 0;
  int64_t lost_total = 0;
  uint32_t all_packets = 0;
  std::vector<bool> complete(plan.sites.size());
  for (size_t i = 0; i < sites.size(); ++i) {
    const SiteResult& site = sites[i];
    if (!site.reported) continue;
    latency.add_site_p99(site.latency_p99_ms);
    const int64_t distinct = std::min(site.packets, sent - site.lost);
    received += std::max<int64_t>(distinct, 0);
    lost_total += sent - std::max<int64_t>(distinct, 0);
    complete[i] = sent > 0 && site.lost == 0 && site.packets >= sent;
    if (complete[i]) ++all_packets;
  }
  for (size_t i = 0; i < sites.size(); ++i) {
    if (!sites[i].reported) lost_total += sent;
  }
  std::sort(latency.mutable_site_p99()->begin(),
            latency.mutable_site_p99()->end());
  report.set_sites_all_packets(all_packets);
  report.set_packets_expected(sent * static_cast<int64_t>(plan.sites.size()));
  report.set_packets_received(received);
  report.set_packets_lost(lost_total);
  report.set_delivery_ratio(report.packets_expected() > 0
                                ? static_cast<double>(received) /
                                      report.packets_expected()
                                : 0);

  // Health per relay: the sites below it through primary parents.
  absl::flat_hash_map<std::string, cascade::v1::SimNodeHealth*> health;
  for (const PlanRelay& relay : plan.relays) {
    cascade::v1::SimNodeHealth* node = report.add_nodes();
    node->set_id(relay.id);
    node->set_tier(TierName(relay.tier) + (relay.standby ? " standby" : ""));
    node->set_parent(relay.parents.empty() ? "" : relay.parents[0]);
    health[relay.id] = node;
  }
  for (size_t i = 0; i < plan.sites.size(); ++i) {
    for (const std::string& id : plan.PrimaryPath(plan.sites[i].id)) {
      auto it = health.find(id);
      if (it == health.end()) continue;
      it->second->set_sites(it->second->sites() + 1);
      if (complete[i]) {
        it->second->set_sites_all_packets(it->second->sites_all_packets() + 1);
      }
    }
  }
  // And every site, below its primary parent: report.html draws one mark
  // per site.
  for (size_t i = 0; i < plan.sites.size(); ++i) {
    cascade::v1::SimNodeHealth* node = report.add_nodes();
    node->set_id(plan.sites[i].id);
    node->set_tier("site");
    if (!plan.sites[i].parents.empty()) {
      node->set_parent(plan.sites[i].parents[0]);
    }
    node->set_sites(1);
    node->set_sites_all_packets(complete[i] ? 1 : 0);
  }

  // Timeline per site group, and the gap figures around each step.
  std::vector<RateSeries> rates;
  for (const ProbeGroupRun& group : run.groups) {
    rates.push_back(Rates(group));
    if (group.tier != "site") continue;
    cascade::v1::SimSeries* series = report.add_timeline();
    series->set_name(group.name);
    series->set_sites(static_cast<uint32_t>(group.site_ids.size()));
    for (size_t i = 0; i < rates.back().t_s.size(); ++i) {
      series->add_t_s(rates.back().t_s[i]);
      series->add_packets_per_s(rates.back().rate[i]);
    }
  }
  double loss_percent = 0;
  for (size_t s = 0; s < run.steps.size(); ++s) {
    const cascade::v1::SimStepResult& step = run.steps[s];
    if (step.action() == "loss_percent") loss_percent = step.loss_percent();
    if (step.action() == "select_sites") continue;
    const double until = s + 1 < run.steps.size() ? run.steps[s + 1].at_s()
                                                  : run.scenario.duration_s();
    // Sites below the step's target, or every site for network-wide steps.
    absl::flat_hash_set<std::string> affected;
    for (const PlanSite& site : plan.sites) {
      if (step.target().empty()) {
        affected.insert(site.id);
        continue;
      }
      for (const std::string& id : plan.PrimaryPath(site.id)) {
        if (id == step.target()) affected.insert(site.id);
      }
    }
    cascade::v1::SimFaultResult* fault = report.add_failover();
    fault->set_label(step.label());
    fault->set_action(step.action());
    fault->set_target(step.target());
    fault->set_at_s(step.at_s());
    fault->set_affected_sites(static_cast<uint32_t>(affected.size()));
    fault->set_loss_percent(loss_percent);
    AddRelaysSwitched(plan, run, s, fault);
    for (size_t i = 0; i < plan.sites.size(); ++i) {
      if (!affected.contains(plan.sites[i].id)) continue;
      fault->set_packets_lost_run(fault->packets_lost_run() + sites[i].lost);
      if (complete[i]) {
        fault->set_affected_sites_all_packets(
            fault->affected_sites_all_packets() + 1);
      }
    }
    // Groups are split along fault targets, so a group is either wholly
    // affected or not at all. A window's stall is the longest that ended in
    // it (up to one interval later, for a stall that ended just before the
    // window's end), from the probes' interval figure. Without it, only
    // the running maximum says anything: what changed between the line
    // before the step and the window's end is the step's.
    double measured = 0;  // stalls that beat their group's earlier maximum
    double bound = 0;     // the other groups' earlier maximum
    double rate_gap = 0;  // the other groups' stalls at interval resolution
    for (size_t g = 0; g < run.groups.size(); ++g) {
      const ProbeGroupRun& group = run.groups[g];
      if (group.tier != "site" || group.site_ids.empty()) continue;
      static const ProbeLine kNone;
      const ProbeLine* before = LineAt(group, step.at_s());
      if (before == nullptr) before = &kNone;
      const ProbeLine* end = LineAt(group, until + run.probe_interval_s);
      if (end == nullptr) end = before;
      const int64_t switches = std::max<int64_t>(
          end->parent_switches() - before->parent_switches(), 0);
      if (!AllChildrenOf(plan, group, step.target())) {
        fault->set_switches_beyond_children(fault->switches_beyond_children() +
                                            switches);
      }
      if (!affected.contains(group.site_ids[0])) {
        fault->set_other_sites_parent_switches(
            fault->other_sites_parent_switches() + switches);
        continue;
      }
      const ProbeLine* settled = LineAt(group, until + kRepairHorizonS);
      if (settled == nullptr) settled = end;
      const double window_gap =
          IntervalGapMs(group, step.at_s(), until + run.probe_interval_s);
      if (window_gap > 0) {
        measured = std::max(measured, window_gap);
      } else if (end->longest_gap_ms() > before->longest_gap_ms()) {
        measured = std::max(measured, end->longest_gap_ms());
      } else {
        bound = std::max(bound, before->longest_gap_ms());
        rate_gap =
            std::max(rate_gap, LongestGapMs(rates[g], step.at_s(), until));
      }
      fault->set_packets_lost(
          fault->packets_lost() +
          std::max<int64_t>(settled->lost() - before->lost(), 0));
      fault->set_parent_switches(fault->parent_switches() + switches);
      fault->set_parent_moves(
          fault->parent_moves() +
          std::max<int64_t>(end->parent_moves() - before->parent_moves(), 0));
    }
    const bool exact = measured >= bound;
    fault->set_longest_gap_exact(exact);
    fault->set_longest_gap_ms(
        exact ? measured : std::max(measured, std::min(rate_gap, bound)));
    if (!exact) fault->set_longest_gap_bound_ms(bound);
  }

  for (const auto& [kind, usage] : run.usage) {
    cascade::v1::SimCpu& cpu = (*report.mutable_cpu())[kind];
    cpu.set_processes(static_cast<uint32_t>(usage.processes));
    cpu.set_cpu_seconds(usage.cpu_seconds);
    cpu.set_cores(run.wall_s > 0 ? usage.cpu_seconds / run.wall_s : 0);
    cascade::v1::SimMemory& memory = (*report.mutable_memory())[kind];
    memory.set_peak_rss_mb_max(usage.peak_rss_mb_max);
    memory.set_peak_rss_mb_total(usage.peak_rss_mb_total);
  }
  return report;
}

std::string ReportJson(const google::protobuf::Message& report) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(report, &json, options)
           .ok()) {
    return "{}";
  }
  return json;
}

}  // namespace cascade::sim
