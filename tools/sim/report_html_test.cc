// report.html's plots: the tree with a mark per site, the latency CDF with
// a point per site, cards against their targets, bands over time.
#include "tools/sim/report_html.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tools/sim/report.h"
#include "tools/sim/report_fixture.h"
#include "tools/sim/test_topology.h"
#include "topology/topology_file.h"

namespace cascade::sim {
namespace {

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos;
       at = text.find(what, at + what.size())) {
    ++n;
  }
  return n;
}

// From `start` (which must occur) to the first `end` after it.
std::string Between(const std::string& text, const std::string& start,
                    const std::string& end) {
  const size_t from = text.find(start);
  if (from == std::string::npos) return "";
  const size_t to = text.find(end, from);
  return text.substr(from, to == std::string::npos ? to : to - from);
}

// The plot of class `name` in the page.
std::string Plot(const std::string& html, const std::string& name) {
  return Between(html, absl::StrCat("class='", name, "'"), "</svg>");
}

// Two provinces of 7 and 8 sites, and after them a standby national relay
// without a parent that the provinces fail over to, as topology/reference
// has it: the last root has no sites.
NetworkPlan PlanWithStandbyRoot() {
  cascade::v1::Topology topology =
      GenerateTopology({{"North", 2, 7}, {"South", 3, 8}}, 100);
  for (cascade::v1::Node& node : *topology.mutable_nodes()) {
    if (node.tier() == cascade::v1::TIER_PROVINCIAL) {
      node.add_standby_parents("national-standby");
    }
  }
  cascade::v1::Node* standby = topology.add_nodes();
  standby->set_id("national-standby");
  standby->set_tier(cascade::v1::TIER_NATIONAL);
  standby->set_role(cascade::v1::ROLE_STANDBY);
  auto plan = PlanNetwork(topology, 0, 5000);
  EXPECT_TRUE(plan.ok()) << plan.status();
  return plan.ok() ? *std::move(plan) : NetworkPlan();
}

SyntheticRunOptions Missing(int every) {
  SyntheticRunOptions options;
  options.missing_every = every;
  return options;
}

TEST(ReportHtmlTest, TreeHasAMarkPerSiteWhenTheLastRootIsAStandby) {
  const NetworkPlan plan = PlanWithStandbyRoot();
  ASSERT_EQ(plan.sites.size(), 15u);
  const auto report = BuildReport(plan, SyntheticRun(plan, Missing(4)));
  // Sites 0, 4, 8 and 12 lost a packet.
  EXPECT_EQ(report.sites_all_packets(), 11u);
  std::string last_root;
  for (const auto& node : report.nodes()) {
    if (node.parent().empty()) last_root = node.id();
  }
  ASSERT_EQ(last_root, "national-standby");

  const std::string tree = Plot(ReportHtml(report), "tree");
  EXPECT_NE(tree.find("data-sites='15'"), std::string::npos) << tree;
  EXPECT_EQ(Count(tree, "<rect class='site"), 15u);
  EXPECT_EQ(Count(tree, "<rect class='site miss'"), 4u);
  EXPECT_NE(tree.find(absl::StrCat(plan.sites[4].id, " did not get")),
            std::string::npos);
  // Both roots, a box per province, a block per district with its sites.
  EXPECT_NE(tree.find("class='root' data-node='national'"), std::string::npos);
  EXPECT_NE(tree.find("class='root' data-node='national-standby'"),
            std::string::npos);
  EXPECT_EQ(Count(tree, "<g class='top'"), 2u);
  EXPECT_NE(tree.find("class='top' data-node='prov-north'"), std::string::npos);
  EXPECT_EQ(Count(tree, "<g class='leaf'"), 5u);
  for (const PlanRelay& relay : plan.relays) {
    if (relay.tier != cascade::v1::TIER_DISTRICT) continue;
    const std::string block = Between(
        tree, absl::StrCat("<g class='leaf' data-node='", relay.id, "'>"),
        "</g>");
    EXPECT_EQ(Count(block, "<rect class='site"),
              static_cast<size_t>(relay.sites_below))
        << relay.id;
  }
  // The provinces' standbys carry no site.
  EXPECT_NE(tree.find("class='idle' data-node='prov-north-standby'"),
            std::string::npos);
}

TEST(ReportHtmlTest, OlderReportWithoutSiteNodesStillDrawsEverySite) {
  const NetworkPlan plan = PlanWithStandbyRoot();
  auto report = BuildReport(plan, SyntheticRun(plan, Missing(4)));
  auto* nodes = report.mutable_nodes();
  nodes->erase(
      std::remove_if(nodes->begin(), nodes->end(),
                     [](const auto& node) { return node.tier() == "site"; }),
      nodes->end());
  const std::string tree = Plot(ReportHtml(report), "tree");
  EXPECT_EQ(Count(tree, "<rect class='site"), 15u);
  EXPECT_EQ(Count(tree, "<rect class='site miss'"), 4u);
  EXPECT_EQ(Count(tree, "<g class='leaf'"), 5u);
}

// The points of a CDF polyline, as (x, y) in the picture.
std::vector<std::pair<double, double>> CdfPoints(const std::string& plot,
                                                 const std::string& tier) {
  const std::string line = Between(
      plot, absl::StrCat("<polyline class='cdf' data-tier='", tier, "'"), ">");
  const std::string points = Between(line, " points='", "' ").substr(9);
  std::vector<std::pair<double, double>> parsed;
  for (absl::string_view pair :
       absl::StrSplit(points, ' ', absl::SkipWhitespace())) {
    std::pair<absl::string_view, absl::string_view> xy =
        absl::StrSplit(pair, ',');
    double x = 0, y = 0;
    EXPECT_TRUE(absl::SimpleAtod(xy.first, &x) &&
                absl::SimpleAtod(xy.second, &y))
        << pair;
    parsed.emplace_back(x, y);
  }
  return parsed;
}

TEST(ReportHtmlTest, LatencyIsACdfWithAPointPerSitePerTier) {
  const NetworkPlan plan = PlanWithStandbyRoot();
  const auto report = BuildReport(plan, SyntheticRun(plan, Missing(0)));
  const std::string plot = Plot(ReportHtml(report), "latency");
  EXPECT_NE(plot.find("data-tier='site' data-points='15'"), std::string::npos)
      << plot;
  const auto points = CdfPoints(plot, "site");
  ASSERT_EQ(points.size(), 15u);
  // Sorted by latency, climbing to the top (y grows downwards).
  for (size_t i = 1; i < points.size(); ++i) {
    EXPECT_GE(points[i].first, points[i - 1].first) << i;
    EXPECT_LT(points[i].second, points[i - 1].second) << i;
  }
  // A tier probe is one site: one point.
  for (const char* tier : {"national", "provincial", "district"}) {
    EXPECT_NE(plot.find(absl::StrCat("data-tier='", tier, "' data-points='1'")),
              std::string::npos)
        << tier;
    EXPECT_EQ(CdfPoints(plot, tier).size(), 1u) << tier;
  }
}

TEST(ReportHtmlTest, AnOutlyingTierProbeDoesNotSquashTheSitesCurve) {
  const NetworkPlan plan = PlanWithStandbyRoot();
  auto report = BuildReport(plan, SyntheticRun(plan, Missing(0)));
  // A tier probe below a killed relay: seconds.
  for (auto& tier : *report.mutable_latency_ms()->mutable_per_tier()) {
    if (tier.tier() == "provincial") tier.set_p99(5000);
  }
  const std::string plot = Plot(ReportHtml(report), "latency");
  const auto sites = CdfPoints(plot, "site");
  ASSERT_EQ(sites.size(), 15u);
  // Sites at 10..60 ms spread over hundreds of pixels, not a few.
  EXPECT_GT(sites.back().first - sites.front().first, 200) << plot;
  // The outlier at the edge, its value written beside it.
  EXPECT_NE(plot.find("5000 ms &#8250;"), std::string::npos);
}

TEST(ReportHtmlTest, CardsAreColouredAgainstTheirTargets) {
  const NetworkPlan plan = PlanWithStandbyRoot();
  SyntheticRunOptions options;
  options.kill_gap_ms = 604;
  const std::string missed =
      ReportHtml(BuildReport(plan, SyntheticRun(plan, options)));
  EXPECT_NE(missed.find("data-figure='kill_gap_ms' data-status='fail'><b>604 "
                        "ms</b>"),
            std::string::npos)
      << Between(missed, "<div class='figures'>", "</div></div>");
  EXPECT_NE(missed.find("data-figure='delivery_ratio' data-status='pass'"),
            std::string::npos);
  // No loss step, no upstream selection: nothing to hold to a target.
  EXPECT_NE(missed.find("data-figure='loss_site_switches' data-status='none'"),
            std::string::npos);
  EXPECT_NE(
      missed.find("data-figure='upstream_first_packet_ms' data-status='none'"),
      std::string::npos);

  options.kill_gap_ms = 300;
  options.missing_every = 5;
  const std::string met =
      ReportHtml(BuildReport(plan, SyntheticRun(plan, options)));
  EXPECT_NE(met.find("data-figure='kill_gap_ms' data-status='pass'"),
            std::string::npos);
  EXPECT_NE(met.find("data-figure='delivery_ratio' data-status='fail'"),
            std::string::npos);
}

TEST(ReportHtmlTest, TimelineIsBandsWhateverTheNumberOfGroups) {
  const NetworkPlan plan = PlanWithStandbyRoot();
  SyntheticRunOptions options;
  options.kill_gap_ms = 604;
  for (int per_group : {1, 300}) {
    options.sites_per_group = per_group;
    const auto report = BuildReport(plan, SyntheticRun(plan, options));
    ASSERT_GE(report.timeline_size(), per_group == 1 ? 12 : 2);
    const std::string plot = Plot(ReportHtml(report), "timeline");
    for (const char* band : {"min-max", "p1-median", "median", "min"}) {
      EXPECT_EQ(Count(plot, absl::StrCat("data-band='", band, "'")), 1u)
          << band;
    }
    // The median and the minimum, and the killed relay's sites.
    EXPECT_EQ(Count(plot, "<polyline"), 3u) << per_group;
    EXPECT_EQ(Count(plot, "<polyline class='fault-sites'"), 1u);
    // The stalled sites' empty interval pulls the minimum to 0 (y = 230),
    // not the median.
    const std::string min = Between(plot, "data-band='min'", "/>");
    const std::string median = Between(plot, "data-band='median'", "/>");
    EXPECT_NE(min.find(",230.0 "), std::string::npos) << min;
    EXPECT_EQ(median.find(",230.0 "), std::string::npos) << median;
  }
}

TEST(ReportHtmlTest, NationalScalePageHasEverySiteAndStaysSmall) {
  auto text =
      topology::ReadTopologyFile("topology/reference/national.textproto");
  ASSERT_TRUE(text.ok()) << text.status();
  auto plan = PlanNetwork(text->topology, 0, 5000);
  ASSERT_TRUE(plan.ok()) << plan.status();
  const auto report = BuildReport(*plan, SyntheticRun(*plan, Missing(97)));
  const std::string html = ReportHtml(report);
  EXPECT_LT(html.size(), 1'500'000u);
  std::cout << "national report.html: " << html.size() << " bytes\n";
  const std::string tree = Plot(html, "tree");
  EXPECT_EQ(Count(tree, "<rect class='site"), 10600u);
  EXPECT_NE(Plot(html, "latency").find("data-tier='site' data-points='10600'"),
            std::string::npos);
  // The standalone picture is as large as its plots.
  const std::string svg = ReportSvg(report);
  EXPECT_LT(svg.size(), 1'500'000u);
}

}  // namespace
}  // namespace cascade::sim
