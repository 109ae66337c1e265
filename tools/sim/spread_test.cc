#include "tools/sim/spread.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace cascade::sim {
namespace {

using cascade::v1::SimFigure;
using cascade::v1::SimReport;
using cascade::v1::SimRunOutcome;

// The figures of one synthetic run of the default scenario.
struct Figures {
  double kill_gap_ms = 311;
  int64_t kill_beyond_children = 0;
  int64_t loss_switches = 0;
  double drain_gap_ms = 12;
  double restore_gap_ms = 8;
  int64_t drain_failovers = 0;
  std::vector<double> first_packet_ms = {40, 87, 61};
  uint32_t sites_all_packets = 100;
};

cascade::v1::SimFaultResult* Window(SimReport* report,
                                    const std::string& action, double gap_ms,
                                    double loss_percent = 0) {
  cascade::v1::SimFaultResult* fault = report->add_failover();
  fault->set_action(action);
  fault->set_longest_gap_ms(gap_ms);
  fault->set_loss_percent(loss_percent);
  return fault;
}

// The default scenario's windows: loss on and off, kill and return, drain
// and restore, controller restart; three selected sites.
SimReport Report(const Figures& figures) {
  SimReport report;
  Window(&report, "loss_percent", 200, 1)
      ->set_other_sites_parent_switches(figures.loss_switches);
  // Failovers after the loss ended do not count.
  Window(&report, "loss_percent", 200)->set_parent_switches(7);
  Window(&report, "kill", figures.kill_gap_ms)
      ->set_switches_beyond_children(figures.kill_beyond_children);
  Window(&report, "revive", 0)->set_switches_beyond_children(3);
  Window(&report, "drain", figures.drain_gap_ms)
      ->set_parent_switches(figures.drain_failovers);
  Window(&report, "restore", figures.restore_gap_ms);
  Window(&report, "restart_controller", 900);
  for (double ms : figures.first_packet_ms) {
    cascade::v1::SimUpstream* up = report.add_upstream();
    up->set_first_packet_ms(ms);
    up->set_packets_received(ms < 0 ? 10 : 300);
  }
  report.set_sites_total(100);
  report.set_sites_all_packets(figures.sites_all_packets);
  report.set_delivery_ratio(figures.sites_all_packets == 100 ? 1 : 0.99);
  return report;
}

// A copy: callers pass temporaries (HeadlineFigures(...)).
SimFigure Named(const std::vector<SimFigure>& figures,
                const std::string& name) {
  for (const SimFigure& figure : figures) {
    if (figure.name() == name) return figure;
  }
  ADD_FAILURE() << "no figure " << name;
  return SimFigure();
}

SimRunOutcome Completed(int run, const Figures& figures) {
  SimRunOutcome outcome;
  outcome.set_run(run);
  outcome.set_completed(true);
  outcome.set_wall_s(120);
  for (const SimFigure& figure : HeadlineFigures(Report(figures))) {
    *outcome.add_figures() = figure;
  }
  return outcome;
}

SimRunOutcome Failed(int run) {
  SimRunOutcome outcome;
  outcome.set_run(run);
  outcome.set_failure("relay-sim killed by signal 11");
  outcome.set_wall_s(30);
  return outcome;
}

const cascade::v1::SimFigureSpread& Figure(const cascade::v1::SimSpread& spread,
                                           const std::string& name) {
  for (const auto& figure : spread.figures()) {
    if (figure.name() == name) return figure;
  }
  static const cascade::v1::SimFigureSpread kNone;
  ADD_FAILURE() << "no figure " << name;
  return kNone;
}

TEST(HeadlineFiguresTest, ARunThatMeetsEveryTarget) {
  const std::vector<SimFigure> figures = HeadlineFigures(Report(Figures()));
  ASSERT_EQ(figures.size(), 7u);
  for (const SimFigure& figure : figures) {
    EXPECT_TRUE(figure.measured()) << figure.name();
    EXPECT_TRUE(figure.met()) << figure.name();
  }
  EXPECT_DOUBLE_EQ(Named(figures, "kill_gap_ms").value(), 311);
  EXPECT_EQ(Named(figures, "kill_gap_ms").target(), "< 450");
  EXPECT_DOUBLE_EQ(Named(figures, "drain_restore_gap_ms").value(), 12);
  // Only the windows under loss count, not the 7 failovers after it.
  EXPECT_DOUBLE_EQ(Named(figures, "loss_site_switches").value(), 0);
  EXPECT_DOUBLE_EQ(Named(figures, "upstream_first_packet_ms").value(), 87);
  EXPECT_DOUBLE_EQ(Named(figures, "delivery_ratio").value(), 1);
}

// A drain or restore gap counts beyond the stream's own frame interval:
// 90 ms at 15 fps (67 ms apart) is no stall, 130 ms is one.
TEST(HeadlineFiguresTest, DrainGapIsJudgedAgainstTheFrameInterval) {
  Figures figures;
  figures.drain_gap_ms = 90;
  SimReport report = Report(figures);
  report.set_frame_rate(15);
  EXPECT_TRUE(Named(HeadlineFigures(report), "drain_restore_gap_ms").met());
  figures.drain_gap_ms = 130;
  report = Report(figures);
  report.set_frame_rate(15);
  EXPECT_FALSE(Named(HeadlineFigures(report), "drain_restore_gap_ms").met());
}

TEST(HeadlineFiguresTest, EachTargetMissedOnItsOwn) {
  Figures missed;
  missed.kill_gap_ms = 450;
  missed.kill_beyond_children = 2;
  missed.loss_switches = 1;
  missed.restore_gap_ms = 306;
  missed.drain_failovers = 12;
  missed.first_packet_ms = {40, 1200, 61};
  missed.sites_all_packets = 99;
  const std::vector<SimFigure> figures = HeadlineFigures(Report(missed));
  for (const SimFigure& figure : figures) {
    EXPECT_TRUE(figure.measured()) << figure.name();
    EXPECT_FALSE(figure.met()) << figure.name();
  }
  EXPECT_DOUBLE_EQ(Named(figures, "kill_switches_beyond_children").value(), 2);
  EXPECT_DOUBLE_EQ(Named(figures, "drain_restore_gap_ms").value(), 306);
  EXPECT_DOUBLE_EQ(Named(figures, "drain_restore_sites_failed_over").value(),
                   12);
  EXPECT_DOUBLE_EQ(Named(figures, "upstream_first_packet_ms").value(), 1200);
}

TEST(HeadlineFiguresTest, UpstreamBeforeTheCallOrMissingIsNotMet) {
  Figures early;
  early.first_packet_ms = {-20, 40};
  EXPECT_FALSE(
      Named(HeadlineFigures(Report(early)), "upstream_first_packet_ms").met());
  SimReport report = Report(Figures());
  report.mutable_upstream(1)->set_packets_received(0);
  const SimFigure missing =
      Named(HeadlineFigures(report), "upstream_first_packet_ms");
  EXPECT_FALSE(missing.measured());
  EXPECT_FALSE(missing.met());
}

TEST(HeadlineFiguresTest, AScenarioWithoutTheStepMeasuresNothing) {
  SimReport report;
  report.set_sites_total(10);
  report.set_sites_all_packets(10);
  report.set_delivery_ratio(1);
  for (const SimFigure& figure : HeadlineFigures(report)) {
    EXPECT_EQ(figure.measured(), figure.name() == "delivery_ratio")
        << figure.name();
  }
}

TEST(SpreadTest, OddNumberOfRuns) {
  Figures a, b, c;
  a.kill_gap_ms = 360;
  b.kill_gap_ms = 300;
  c.kill_gap_ms = 480;
  c.restore_gap_ms = 306;
  const cascade::v1::SimSpread spread =
      Spread({Completed(1, a), Completed(2, b), Completed(3, c)});
  EXPECT_EQ(spread.runs(), 3u);
  EXPECT_EQ(spread.runs_failed(), 0u);
  EXPECT_EQ(spread.run_outcomes_size(), 3);
  EXPECT_DOUBLE_EQ(spread.wall_s(), 360);
  const auto& kill = Figure(spread, "kill_gap_ms");
  EXPECT_EQ(kill.runs_measured(), 3u);
  EXPECT_DOUBLE_EQ(kill.min(), 300);
  EXPECT_DOUBLE_EQ(kill.median(), 360);
  EXPECT_DOUBLE_EQ(kill.max(), 480);
  EXPECT_EQ(kill.runs_met(), 2u);
  const auto& drain = Figure(spread, "drain_restore_gap_ms");
  EXPECT_DOUBLE_EQ(drain.min(), 12);
  EXPECT_DOUBLE_EQ(drain.median(), 12);
  EXPECT_DOUBLE_EQ(drain.max(), 306);
  EXPECT_EQ(drain.runs_met(), 2u);
  EXPECT_EQ(Figure(spread, "delivery_ratio").runs_met(), 3u);
}

TEST(SpreadTest, EvenNumberOfRunsTakesTheMeanOfTheMiddleTwo) {
  std::vector<SimRunOutcome> runs;
  int run = 0;
  for (double gap : {330, 300, 480, 350}) {
    Figures figures;
    figures.kill_gap_ms = gap;
    runs.push_back(Completed(++run, figures));
  }
  const cascade::v1::SimSpread spread = Spread(runs);
  const auto& kill = Figure(spread, "kill_gap_ms");
  EXPECT_EQ(kill.runs_measured(), 4u);
  EXPECT_DOUBLE_EQ(kill.min(), 300);
  EXPECT_DOUBLE_EQ(kill.median(), 340);
  EXPECT_DOUBLE_EQ(kill.max(), 480);
  EXPECT_EQ(kill.runs_met(), 3u);
}

TEST(SpreadTest, AFailedRunCountsButMeetsNothing) {
  Figures slow;
  slow.first_packet_ms = {40, 1200};
  const cascade::v1::SimSpread spread =
      Spread({Completed(1, Figures()), Failed(2), Completed(3, slow)});
  EXPECT_EQ(spread.runs(), 3u);
  EXPECT_EQ(spread.runs_failed(), 1u);
  EXPECT_FALSE(spread.run_outcomes(1).completed());
  for (const auto& figure : spread.figures()) {
    EXPECT_EQ(figure.runs_measured(), 2u) << figure.name();
  }
  const auto& upstream = Figure(spread, "upstream_first_packet_ms");
  EXPECT_DOUBLE_EQ(upstream.min(), 87);
  EXPECT_DOUBLE_EQ(upstream.median(), (87 + 1200) / 2.0);
  EXPECT_DOUBLE_EQ(upstream.max(), 1200);
  EXPECT_EQ(upstream.runs_met(), 1u);
  EXPECT_EQ(Figure(spread, "delivery_ratio").runs_met(), 2u);
  // Nothing measured anywhere: no min, median or max.
  const cascade::v1::SimSpread none = Spread({Failed(1)});
  EXPECT_EQ(Figure(none, "kill_gap_ms").runs_measured(), 0u);
  EXPECT_EQ(Figure(none, "kill_gap_ms").runs_met(), 0u);
  EXPECT_NE(SpreadTable(none).find("kill_gap_ms"), std::string::npos);
}

TEST(SpreadTest, LinesNameTheMissesAndTheFailure) {
  Figures figures;
  figures.restore_gap_ms = 306;
  const std::string line = RunLine(Completed(2, figures), 5);
  EXPECT_EQ(line.find("run 2 of 5 (2m): kill gap 311 ms, "), 0u) << line;
  EXPECT_NE(
      line.find("drain/restore gap 306 ms (missed < a frame interval + 50)"),
      std::string::npos)
      << line;
  EXPECT_NE(line.find("delivery 1.00000"), std::string::npos) << line;
  EXPECT_EQ(RunLine(Failed(3), 5),
            "run 3 of 5 (30s): FAILED: relay-sim killed by signal 11");
  const std::string table = SpreadTable(Spread({Completed(1, figures)}));
  EXPECT_NE(table.find("met (of 1)"), std::string::npos) << table;
  EXPECT_NE(table.find("1.00000"), std::string::npos) << table;
}

}  // namespace
}  // namespace cascade::sim
