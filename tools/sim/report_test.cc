#include "tools/sim/report.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/sim/report_html.h"
#include "tools/sim/test_topology.h"

namespace cascade::sim {
namespace {

constexpr int64_t kSent = 1000;

// One province, two districts of two sites each: the second district's
// sites in a probe group of their own (the scenario kills that district).
class ReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto plan = PlanNetwork(GenerateTopology({{"Test", 2, 4}}, 100), 0, 5000);
    ASSERT_TRUE(plan.ok());
    plan_ = *std::move(plan);
    run_.mode = "standalone";
    run_.scenario.set_name("unit");
    run_.scenario.set_duration_s(10);
    run_.source.emplace();
    run_.source->set_video_packets(kSent - 100);
    run_.source->set_audio_packets(100);
    run_.groups.push_back(Group("sites-a", {0, 1}, 20, /*gap_first=*/-1));
    run_.groups.push_back(Group("sites-b", {2, 3}, 20, /*gap_first=*/26));
    cascade::v1::SimStepResult kill;
    kill.set_at_s(5);
    kill.set_label("kill");
    kill.set_action("kill");
    kill.set_target(plan_.sites[2].parents[0]);
    run_.steps.push_back(kill);
    run_.usage["relayd"] = KindUsage{3, 6.0, 10, 25};
    run_.wall_s = 12;
  }

  // A probe group that got 100 packets/s per site every 0.2 s interval
  // (stalls of 70 ms), except nothing in the three intervals from number
  // `gap_first` on: a 666 ms stall, reported once it ended.
  ProbeGroupRun Group(const std::string& name, std::vector<int> sites,
                      double p99, int gap_first) {
    ProbeGroupRun group;
    group.name = name;
    group.tier = "site";
    int64_t packets = 0;
    double longest_gap_ms = 70;
    for (int i = 1; i <= 50; ++i) {
      const double t = i * 0.2;
      if (gap_first < 0 || i < gap_first || i >= gap_first + 3) {
        packets += 20 * static_cast<int64_t>(sites.size());
      }
      if (gap_first >= 0 && i == gap_first + 3) longest_gap_ms = 666;
      cascade::v1::ProbeLine line;
      line.set_type("interval");
      line.set_elapsed_s(t);
      line.set_packets(packets);
      line.set_longest_gap_ms(longest_gap_ms);
      group.intervals.push_back(line);
    }
    cascade::v1::ProbeLine final;
    final.set_type("final");
    final.set_latency_samples(100);
    final.set_latency_p50_ms(p99 / 2);
    final.set_latency_p99_ms(p99);
    final.set_latency_max_ms(p99 + 1);
    for (int i : sites) {
      group.site_ids.push_back(plan_.sites[i].id);
      group.addresses.push_back(plan_.sites[i].address);
      cascade::v1::ProbeSite* site = final.add_per_site();
      site->set_listen(plan_.sites[i].address);
      site->set_packets(kSent);
      site->set_latency_p99_ms(p99);
    }
    group.final = final;
    return group;
  }

  NetworkPlan plan_;
  SimRun run_;
};

TEST_F(ReportTest, EverySiteCompleteGivesRatioOne) {
  const auto report = BuildReport(plan_, run_);
  EXPECT_EQ(report.sites_total(), 4u);
  EXPECT_EQ(report.sites_all_packets(), 4u);
  EXPECT_EQ(report.packets_expected(), 4 * kSent);
  EXPECT_DOUBLE_EQ(report.delivery_ratio(), 1.0);
  EXPECT_EQ(report.problems_size(), 0);
  ASSERT_EQ(report.latency_ms().per_tier_size(), 1);
  EXPECT_EQ(report.latency_ms().per_tier(0).tier(), "site");
  EXPECT_DOUBLE_EQ(report.latency_ms().p99(), 20);
  EXPECT_EQ(report.latency_ms().site_p99_size(), 4);
  EXPECT_DOUBLE_EQ(report.cpu().at("relayd").cores(), 0.5);
  EXPECT_DOUBLE_EQ(report.memory().at("relayd").peak_rss_mb_total(), 25);
}

// A rotation topologyd accepted must show at relay-source; one skipped
// (the program not under topologyd's keys) asks for nothing.
TEST_F(ReportTest, OnlyAcceptedKeyRotationsAskForAKeyChange) {
  cascade::v1::SimStepResult rotate;
  rotate.set_action("rotate_stream_key");
  rotate.set_ok(true);
  rotate.set_skipped(true);
  run_.steps.push_back(rotate);
  EXPECT_EQ(BuildReport(plan_, run_).problems_size(), 0);

  run_.steps.back().set_skipped(false);
  const auto report = BuildReport(plan_, run_);
  ASSERT_EQ(report.problems_size(), 1);
  EXPECT_NE(report.problems(0).find("changed its stream key 0 times for 1"),
            std::string::npos)
      << report.problems(0);
  run_.source->set_key_changes(1);
  EXPECT_EQ(BuildReport(plan_, run_).problems_size(), 0);
}

TEST_F(ReportTest, LostPacketsAndMissingReportsCountAgainstDelivery) {
  run_.groups[0].final->mutable_per_site(1)->set_lost(10);
  run_.groups[0].final->mutable_per_site(1)->set_packets(kSent - 10);
  run_.groups[1].final.reset();
  const auto report = BuildReport(plan_, run_);
  EXPECT_EQ(report.sites_all_packets(), 1u);
  EXPECT_EQ(report.packets_received(), 2 * kSent - 10);
  EXPECT_EQ(report.packets_lost(), 2 * kSent + 10);
  EXPECT_NEAR(report.delivery_ratio(), (2.0 * kSent - 10) / (4 * kSent), 1e-9);
  ASSERT_EQ(report.problems_size(), 1);
  EXPECT_NE(report.problems(0).find("sites-b"), std::string::npos);
  // The tree: the first district whole, the second without a good site.
  for (const auto& node : report.nodes()) {
    if (node.id() == plan_.sites[0].parents[0]) {
      EXPECT_EQ(node.sites(), 2u);
      EXPECT_EQ(node.sites_all_packets(), 1u);
    }
    if (node.id() == "national") {
      EXPECT_NEAR(SiteHealth(node), 0.25, 1e-9);
    }
  }
}

TEST_F(ReportTest, GapIsMeasuredOnlyForTheAffectedGroup) {
  const auto report = BuildReport(plan_, run_);
  ASSERT_EQ(report.failover_size(), 1);
  const auto& fault = report.failover(0);
  EXPECT_EQ(fault.affected_sites(), 2u);
  EXPECT_EQ(fault.affected_sites_all_packets(), 2u);
  // The probes' own stall figure, not the interval-resolution one.
  EXPECT_TRUE(fault.longest_gap_exact());
  EXPECT_DOUBLE_EQ(fault.longest_gap_ms(), 666);
  // Without the gap in its own group, the kill shows none: no stall beat
  // the usual 70 ms, and no interval went short of packets.
  run_.groups[1] = Group("sites-b", {2, 3}, 20, /*gap_first=*/-1);
  const auto quiet = BuildReport(plan_, run_).failover(0);
  EXPECT_FALSE(quiet.longest_gap_exact());
  EXPECT_EQ(quiet.longest_gap_ms(), 0);
  EXPECT_DOUBLE_EQ(quiet.longest_gap_bound_ms(), 70);
}

// A stall that does not beat an earlier, longer one is seen at interval
// resolution and bounded by that earlier one.
TEST_F(ReportTest, GapBelowAnEarlierOneIsBoundedAndResolvedByRate) {
  for (auto& line : run_.groups[1].intervals) line.set_longest_gap_ms(900);
  const auto fault = BuildReport(plan_, run_).failover(0);
  EXPECT_FALSE(fault.longest_gap_exact());
  EXPECT_NEAR(fault.longest_gap_ms(), 600, 1);
  EXPECT_DOUBLE_EQ(fault.longest_gap_bound_ms(), 900);
}

// A probe that says which stall ended in each interval gives every window
// its own gap, exact, even below an earlier, longer stall: the kill at 5 s
// shows its 180 ms, not the 900 ms of a loss phase before it, nor the
// 240 ms that ended before the kill.
TEST_F(ReportTest, IntervalGapsMakeEveryWindowExact) {
  for (auto& line : run_.groups[1].intervals) {
    line.set_longest_gap_ms(900);
    const double t = line.elapsed_s();
    line.set_interval_gap_ms(t == 4.8 ? 240 : t == 5.4 ? 180 : 60);
  }
  const auto fault = BuildReport(plan_, run_).failover(0);
  EXPECT_TRUE(fault.longest_gap_exact());
  EXPECT_DOUBLE_EQ(fault.longest_gap_ms(), 180);
}

// Per step: what the affected probes lost within the window after repair,
// and their failovers; the whole run's loss from the per-site figures.
TEST_F(ReportTest, LossAndSwitchesAreCountedPerWindow) {
  for (auto& line : run_.groups[1].intervals) {
    const double t = line.elapsed_s();
    // 30 missing at 6 s, 25 of them repaired by 6.4 s; 2 lost before.
    line.set_lost(t < 3 ? 0 : t < 6 ? 2 : t < 6.4 ? 32 : 7);
    line.set_parent_switches(t < 5.4 ? 0 : 2);
    line.set_parent_moves(t < 5.6 ? 1 : 4);
  }
  run_.groups[1].final->mutable_per_site(0)->set_lost(7);
  run_.scenario.set_duration_s(8);
  const auto fault = BuildReport(plan_, run_).failover(0);
  EXPECT_EQ(fault.packets_lost(), 5);
  EXPECT_EQ(fault.packets_lost_run(), 7);
  EXPECT_EQ(fault.parent_switches(), 2);
  EXPECT_EQ(fault.parent_moves(), 3) << "released, not failed over";
  EXPECT_EQ(fault.affected_sites_all_packets(), 1u);
}

// Site failovers outside the target count apart; the killed district's
// sites are its children, the other district's are not.
TEST_F(ReportTest, SwitchesBeyondTheTargetsChildrenAreCounted) {
  for (auto& line : run_.groups[1].intervals) {
    line.set_parent_switches(line.elapsed_s() < 5.4 ? 0 : 2);
  }
  for (auto& line : run_.groups[0].intervals) {
    line.set_parent_switches(line.elapsed_s() < 7 ? 0 : 1);
  }
  auto fault = BuildReport(plan_, run_).failover(0);
  EXPECT_EQ(fault.parent_switches(), 2);
  EXPECT_EQ(fault.other_sites_parent_switches(), 1);
  EXPECT_EQ(fault.switches_beyond_children(), 1);
  EXPECT_EQ(fault.relays_switched_size(), 0);

  // The province killed instead: every site is below it, none its child.
  run_.steps[0].set_target("prov-test");
  fault = BuildReport(plan_, run_).failover(0);
  EXPECT_EQ(fault.parent_switches(), 3);
  EXPECT_EQ(fault.other_sites_parent_switches(), 0);
  EXPECT_EQ(fault.switches_beyond_children(), 3);
}

// Relays whose failovers or moves rose between the step and the end: its
// children are expected to, any other relay is beyond them; the killed
// relay (no figure after) and relays not read are left out.
TEST_F(ReportTest, RelaysThatChangedParentAreNamed) {
  run_.steps[0].set_target("prov-test");
  run_.relay_parent_changes = {{{"national", 0},
                                {"prov-test", 0},
                                {"prov-test-standby", 0},
                                {"dist-test-01", 2},
                                {"dist-test-02", 0}},
                               {{"national", 0},
                                {"prov-test-standby", 1},
                                {"dist-test-01", 3},
                                {"dist-test-02", 1}}};
  auto fault = BuildReport(plan_, run_).failover(0);
  EXPECT_EQ(std::vector<std::string>(fault.relays_switched().begin(),
                                     fault.relays_switched().end()),
            (std::vector<std::string>{"prov-test-standby", "dist-test-01",
                                      "dist-test-02"}));
  EXPECT_EQ(fault.switches_beyond_children(), 1);
  // A step on the whole network has no children: every change is beyond.
  run_.steps[0].set_target("");
  EXPECT_EQ(BuildReport(plan_, run_).failover(0).switches_beyond_children(), 3);
}

// Each window carries the loss the last loss step set.
TEST_F(ReportTest, WindowsCarryTheLossOnEveryHop) {
  cascade::v1::SimStepResult loss;
  loss.set_action("loss_percent");
  loss.set_at_s(1);
  loss.set_loss_percent(1);
  cascade::v1::SimStepResult ends = loss;
  ends.set_at_s(3);
  ends.set_loss_percent(0);
  run_.steps.insert(run_.steps.begin(), {loss, ends});
  const auto report = BuildReport(plan_, run_);
  ASSERT_EQ(report.failover_size(), 3);
  EXPECT_DOUBLE_EQ(report.failover(0).loss_percent(), 1);
  EXPECT_DOUBLE_EQ(report.failover(1).loss_percent(), 0);
  EXPECT_DOUBLE_EQ(report.failover(2).loss_percent(), 0);
}

TEST_F(ReportTest, TierProbesReportTheirOwnLatency) {
  ProbeGroupRun tier;
  tier.name = "tier-national";
  tier.tier = "national";
  tier.final.emplace();
  tier.final->set_latency_samples(50);
  tier.final->set_latency_p50_ms(1.5);
  tier.final->set_latency_p99_ms(3);
  run_.groups.push_back(tier);
  const auto report = BuildReport(plan_, run_);
  ASSERT_EQ(report.latency_ms().per_tier_size(), 2);
  EXPECT_EQ(report.latency_ms().per_tier(0).tier(), "national");
  EXPECT_DOUBLE_EQ(report.latency_ms().per_tier(0).p99(), 3);
  EXPECT_EQ(report.sites_all_packets(), 4u);
}

TEST_F(ReportTest, JsonAndHtmlCarryTheFigures) {
  const auto report = BuildReport(plan_, run_);
  const std::string json = ReportJson(report);
  for (const char* field :
       {"\"sites_total\": 4", "\"sites_all_packets\": 4", "\"delivery_ratio\"",
        "\"latency_ms\"", "\"failover\"", "\"control_plane\"", "\"cpu\"",
        "\"memory\"", "\"video_kbps\"", "\"mode\": \"standalone\""}) {
    EXPECT_NE(json.find(field), std::string::npos) << field << "\n" << json;
  }
  const std::string html = ReportHtml(report);
  EXPECT_EQ(html.find("<!DOCTYPE html>"), 0u);
  EXPECT_EQ(html.find("http"), std::string::npos) << "no external assets";
  size_t svgs = 0;
  for (size_t at = html.find("<svg"); at != std::string::npos;
       at = html.find("<svg", at + 1)) {
    ++svgs;
  }
  EXPECT_EQ(svgs, 3u);
  EXPECT_NE(html.find("4 / 4"), std::string::npos);
  // The standalone picture: one SVG document holding the three plots.
  const std::string svg = ReportSvg(report);
  EXPECT_EQ(svg.find("<svg xmlns='http://www.w3.org/2000/svg'"), 0u);
  EXPECT_NE(svg.find("4 / 4 sites got every packet"), std::string::npos);
  size_t nested = 0;
  for (size_t at = svg.find("<svg", 1); at != std::string::npos;
       at = svg.find("<svg", at + 1)) {
    ++nested;
  }
  EXPECT_EQ(nested, 3u);
  EXPECT_EQ(svg.find("<svg width='900' height='0'"), std::string::npos);
}

TEST_F(ReportTest, LeaderChangesAppearInJsonAndHtml) {
  run_.control_plane.set_store("etcd");
  run_.control_plane.add_controllers("127.0.0.11:7700");
  run_.control_plane.add_controllers("127.0.0.12:7700");
  cascade::v1::SimLeaderChange* change =
      run_.control_plane.add_leader_changes();
  change->set_at_s(15.5);
  change->set_from("127.0.0.11:7700");
  change->set_to("127.0.0.12:7700");
  change->set_cause("kill -9 of the leader by the scenario");
  change->set_takeover_ms(2115.4);
  change->set_state_sequence(3);
  const auto report = BuildReport(plan_, run_);
  const std::string json = ReportJson(report);
  for (const char* field :
       {"\"store\": \"etcd\"", "\"leader_changes\"", "\"takeover_ms\": 2115.4",
        "\"to\": \"127.0.0.12:7700\""}) {
    EXPECT_NE(json.find(field), std::string::npos) << field << "\n" << json;
  }
  const std::string html = ReportHtml(report);
  EXPECT_NE(html.find("Leaders (etcd store, 127.0.0.11:7700, 127.0.0.12:7700)"),
            std::string::npos);
  EXPECT_NE(html.find("<td>2115</td>"), std::string::npos);
  // Without leader changes (the journal) there is no such table.
  run_.control_plane.clear_leader_changes();
  EXPECT_EQ(ReportHtml(BuildReport(plan_, run_)).find("Leaders ("),
            std::string::npos);
}

// Two sites selected at 7 s: the first's stream reached the center 40 ms
// after the call; the second's arrived before its selection, and a stream
// nobody selected came too: both are problems.
class UpstreamReportTest : public ReportTest {
 protected:
  static constexpr double kCalledMs = 1.7e12;

  void SetUp() override {
    ReportTest::SetUp();
    run_.mode = "controller";
    cascade::v1::SimStepResult select;
    select.set_at_s(7);
    select.set_label("select two");
    select.set_action("select_sites");
    select.set_ok(true);
    select.set_detail("selected them");
    run_.steps.push_back(select);
    run_.groups[0].final->mutable_per_site(0)->set_upstream_sent(150);
    run_.groups[1].final->mutable_per_site(1)->set_upstream_sent(140);
    for (const auto& [site, ssrc] :
         {std::pair{plan_.sites[0].id, 11u}, {plan_.sites[3].id, 12u}}) {
      UpstreamSelectionRun selection;
      selection.step_index = 1;
      selection.site = site;
      selection.ssrc = ssrc;
      selection.ok = true;
      selection.called_unix_ms = kCalledMs;
      selection.at_s = 7;
      run_.upstream.push_back(selection);
    }
  }

  void CenterGot(uint32_t ssrc, int64_t packets, double first_after_ms) {
    cascade::v1::SourceUpstream* up = run_.source->add_upstream();
    up->set_ssrc(ssrc);
    up->set_packets(packets);
    up->set_first_unix_ms(kCalledMs + first_after_ms);
    up->set_latency_samples(packets);
    up->set_latency_p50_ms(3.5);
    up->set_latency_p99_ms(20.25);
    up->set_latency_max_ms(30);
  }

  bool HasProblem(const cascade::v1::SimReport& report,
                  const std::string& text) {
    for (const std::string& problem : report.problems()) {
      if (problem.find(text) != std::string::npos) return true;
    }
    return false;
  }
};

TEST_F(UpstreamReportTest, EachSelectionMeetsWhatReachedTheCenter) {
  CenterGot(11, 60, 40);
  CenterGot(12, 80, -500);
  CenterGot(99, 5, 100);
  const auto report = BuildReport(plan_, run_);
  ASSERT_EQ(report.upstream_size(), 2);
  const auto& first = report.upstream(0);
  EXPECT_EQ(first.step(), "select two");
  EXPECT_EQ(first.site(), plan_.sites[0].id);
  EXPECT_EQ(first.ssrc(), 11u);
  EXPECT_TRUE(first.selected());
  EXPECT_DOUBLE_EQ(first.selected_at_s(), 7);
  EXPECT_EQ(first.packets_sent(), 150);
  EXPECT_EQ(first.packets_received(), 60);
  EXPECT_DOUBLE_EQ(first.first_packet_ms(), 40);
  EXPECT_DOUBLE_EQ(first.latency_p50_ms(), 3.5);
  EXPECT_DOUBLE_EQ(first.latency_p99_ms(), 20.25);
  EXPECT_EQ(first.latency_samples(), 60);
  const auto& second = report.upstream(1);
  EXPECT_EQ(second.packets_sent(), 140);
  EXPECT_DOUBLE_EQ(second.first_packet_ms(), -500);
  EXPECT_EQ(report.upstream_unselected_packets(), 5);
  EXPECT_TRUE(HasProblem(report, "upstream of " + plan_.sites[3].id +
                                     " reached the center 500 ms before"));
  EXPECT_TRUE(HasProblem(report,
                         "5 upstream packets reached the center with "
                         "an SSRC no selection named"));
  EXPECT_EQ(report.problems_size(), 2);
  EXPECT_EQ(report.steps(1).detail(),
            absl::StrCat("selected them; ", plan_.sites[0].id,
                         ": 60 packets at the center, the first 40 ms after "
                         "the call, latency p50 3.5 ms, p99 20.2 ms; ",
                         plan_.sites[3].id,
                         ": 80 packets at the center, the first -500 ms "
                         "after the call, latency p50 3.5 ms, p99 20.2 ms"));
  const std::string json = ReportJson(report);
  for (const char* field : {"\"upstream\": [", "\"first_packet_ms\": 40",
                            "\"upstream_unselected_packets\": \"5\""}) {
    EXPECT_NE(json.find(field), std::string::npos) << field << "\n" << json;
  }
  const std::string html = ReportHtml(report);
  EXPECT_NE(html.find("Upstream at the center"), std::string::npos);
  EXPECT_NE(html.find("<td>60</td><td>40</td><td>3.5</td><td>20.2</td>"),
            std::string::npos)
      << html;
}

TEST_F(UpstreamReportTest, NothingAtTheCenterIsAProblemOnlyUnderAController) {
  CenterGot(11, 60, 40);
  auto report = BuildReport(plan_, run_);
  EXPECT_EQ(report.upstream(1).packets_received(), 0);
  EXPECT_EQ(report.problems_size(), 1);
  EXPECT_TRUE(HasProblem(report, "upstream of " + plan_.sites[3].id +
                                     ": selected, but nothing reached"));
  EXPECT_NE(report.steps(1).detail().find("; nothing of " + plan_.sites[3].id +
                                          " reached the center"),
            std::string::npos);
  // Standalone relays are never told of a selection.
  run_.mode = "standalone";
  report = BuildReport(plan_, run_);
  EXPECT_EQ(report.problems_size(), 0) << report.problems(0);
  EXPECT_EQ(report.upstream(1).packets_received(), 0);
}

// A selection topologyd accepted without pushing it (it learns after a
// restart): its first packet's time includes that wait, which is said.
TEST_F(UpstreamReportTest, SelectionNotPushedAtTheCallIsAProblem) {
  CenterGot(11, 60, 1250);
  CenterGot(12, 80, 40);
  run_.upstream[0].pushed_at_call = false;
  const auto report = BuildReport(plan_, run_);
  EXPECT_EQ(report.problems_size(), 1);
  EXPECT_TRUE(HasProblem(report, "SelectUpstream of " + plan_.sites[0].id +
                                     " changed no relay's assignment when "
                                     "called"));
  EXPECT_TRUE(HasProblem(report, "1250 ms after the call"));
}

TEST(ParseTest, ProbeAndSourceLinesParseAndJunkIsRefused) {
  auto line = ParseProbeLine(
      "{\"type\":\"final\",\"elapsed_s\":3.5,\"sites\":2,\"packets\":10,"
      "\"freeze_ms\":[],\"first_frame_ms\":null,\"per_site\":[{\"listen\":"
      "\"127.2.0.1:5000\",\"packets\":5,\"lost\":1}],\"new_field\":1}");
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(line->type(), "final");
  EXPECT_EQ(line->per_site(0).lost(), 1);
  EXPECT_FALSE(ParseProbeLine("{\"type\":").ok());
  auto source = ParseSourceLine(
      "{\"frames\":90,\"video_packets\":300,"
      "\"audio_packets\":150,\"x\":\"y\"}");
  ASSERT_TRUE(source.ok());
  EXPECT_EQ(source->video_packets() + source->audio_packets(), 450);
  // The upstream streams as relay-source prints them.
  source = ParseSourceLine(
      "{\"video_ssrc\":1,\"frames\":90,\"video_packets\":300,"
      "\"audio_packets\":0,\"upstream\":[{\"ssrc\":1431306241,\"packets\":61,"
      "\"bytes\":12200,\"first_unix_ms\":1764320000123.456,"
      "\"latency_samples\":61,\"latency_p50_ms\":1.250,"
      "\"latency_p99_ms\":9.500,\"latency_max_ms\":12.000}]}");
  ASSERT_TRUE(source.ok()) << source.status();
  ASSERT_EQ(source->upstream_size(), 1);
  EXPECT_EQ(source->upstream(0).ssrc(), 1431306241u);
  EXPECT_EQ(source->upstream(0).packets(), 61);
  EXPECT_DOUBLE_EQ(source->upstream(0).first_unix_ms(), 1764320000123.456);
  EXPECT_DOUBLE_EQ(source->upstream(0).latency_p99_ms(), 9.5);
  line = ParseProbeLine(
      "{\"type\":\"final\",\"upstream_sent\":70,\"per_site\":[{\"listen\":"
      "\"127.2.0.1:5000\",\"upstream_sent\":70}]}");
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(line->upstream_sent(), 70);
  EXPECT_EQ(line->per_site(0).upstream_sent(), 70);
  EXPECT_FALSE(ParseSourceLine("not json").ok());
}

}  // namespace
}  // namespace cascade::sim
