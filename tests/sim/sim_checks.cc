#include "tests/sim/sim_checks.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace cascade::sim {
namespace {

// The selection of three sites (the scenarios' first step): each one's own
// stream reached the center after its selection and none before (the
// probes send from their start; the relays drop what is not selected), and
// nothing else came up. 20 packets a second until the end, of which the
// faults on the way cost some (lost upstream packets are not repaired; a
// drained district drops a selected site's stream until the site leaves
// it, about 2 s).
void ExpectUpstreamAtTheCenter(const cascade::v1::SimReport& report) {
  ASSERT_EQ(report.upstream_size(), 3);
  for (const auto& up : report.upstream()) {
    EXPECT_TRUE(up.selected()) << up.site();
    EXPECT_GE(up.packets_received(),
              12 * (report.duration_s() - up.selected_at_s()))
        << up.site();
    EXPECT_LT(up.packets_received(), up.packets_sent()) << up.site();
    EXPECT_GE(up.first_packet_ms(), 0) << up.site();
    EXPECT_LT(up.first_packet_ms(), 2000) << up.site();
    EXPECT_EQ(up.latency_samples(), up.packets_received()) << up.site();
    EXPECT_GT(up.latency_p50_ms(), 0) << up.site();
    EXPECT_LT(up.latency_p50_ms(), 100) << up.site();
  }
  EXPECT_EQ(report.upstream_unselected_packets(), 0);
  EXPECT_EQ(report.steps(0).action(), "select_sites");
  EXPECT_NE(report.steps(0).detail().find("packets at the center, the first"),
            std::string::npos)
      << report.steps(0).detail();
}

}  // namespace

void ExpectTheCriteria(const cascade::v1::SimReport& report, int steps,
                       int pushes) {
  EXPECT_EQ(report.problems_size(), 0) << report.problems(0);
  // 20 s at 15 fps: at least a packet per frame.
  EXPECT_GE(report.packets_sent(), 300);
  EXPECT_EQ(report.sites_all_packets(), report.sites_total());
  EXPECT_EQ(report.packets_lost(), 0);
  EXPECT_DOUBLE_EQ(report.delivery_ratio(), 1.0);
  ASSERT_EQ(report.steps_size(), steps);
  for (const auto& step : report.steps()) {
    EXPECT_TRUE(step.ok()) << step.label() << ": " << step.detail();
  }
  ASSERT_EQ(report.failover_size(), steps - 1);
  for (const auto& fault : report.failover()) {
    EXPECT_LT(fault.longest_gap_ms(), 1000) << fault.label();
    if (!fault.longest_gap_exact()) {
      EXPECT_LT(fault.longest_gap_bound_ms(), 1000) << fault.label();
    }
    EXPECT_EQ(fault.packets_lost(), 0) << fault.label();
    EXPECT_EQ(fault.affected_sites_all_packets(), fault.affected_sites());
  }
  EXPECT_EQ(report.mode(), "controller");
  EXPECT_TRUE(report.control_plane().assignments_pushed());
  EXPECT_GT(report.control_plane().first_assignment_ms(), 0);
  // The three selections, the drain and the restore (and a browser edge's
  // first token key) were pushed to the relays and acked, each timed. The
  // drained district's sites go to their own standby, their province, still
  // held down after its kill: the plan follows them there.
  EXPECT_EQ(report.control_plane().assignment_push_ms_size(), pushes);
  for (double ms : report.control_plane().assignment_push_ms()) {
    EXPECT_GT(ms, 0);
    EXPECT_LT(ms, 10000);
  }
  ExpectUpstreamAtTheCenter(report);
}

void ExpectTheWhepSites(const cascade::v1::SimReport& report, int count) {
  // The edge district: the parent of the first WHEP site (DISTRICT-whep1).
  std::string district;
  for (const auto& node : report.nodes()) {
    if (absl::EndsWith(node.id(), "-whep1")) district = node.parent();
  }
  ASSERT_FALSE(district.empty());
  const auto& mint = report.control_plane().admin_calls(0);
  EXPECT_NE(mint.detail().find(absl::StrCat("whep-", district, ": ", count, "/",
                                            count,
                                            " WHEP sites connected, first "
                                            "picture ")),
            std::string::npos)
      << mint.detail();
  // Each viewer's first picture, in ms after the first media packet: the
  // source's first keyframe through three relays and the edge.
  absl::string_view pictures = mint.detail();
  pictures.remove_prefix(pictures.find("first picture ") + 14);
  pictures = pictures.substr(0, pictures.find(" ms after"));
  const std::vector<std::string> firsts = absl::StrSplit(pictures, ", ");
  ASSERT_EQ(firsts.size(), static_cast<size_t>(count)) << mint.detail();
  for (const std::string& first : firsts) {
    double ms = 0;
    ASSERT_TRUE(absl::SimpleAtod(first, &ms)) << mint.detail();
    EXPECT_LT(ms, 1000) << mint.detail();
  }
  int seen = 0;
  for (const auto& node : report.nodes()) {
    if (!absl::StartsWith(node.id(), district + "-whep")) continue;
    ++seen;
    EXPECT_EQ(node.tier(), "site") << node.id();
    EXPECT_EQ(node.parent(), district) << node.id();
    EXPECT_EQ(node.sites_all_packets(), 1u) << node.id();
  }
  EXPECT_EQ(seen, count);
  int series = 0;
  for (const auto& timeline : report.timeline()) {
    if (timeline.name() != "whep-" + district) continue;
    ++series;
    EXPECT_EQ(timeline.sites(), static_cast<uint32_t>(count));
    EXPECT_FALSE(timeline.packets_per_s().empty());
  }
  EXPECT_EQ(series, 1);
}

}  // namespace cascade::sim
