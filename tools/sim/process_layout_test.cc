#include "tools/sim/process_layout.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/text_format.h"
#include "tools/sim/small_plan_fixture.h"

namespace cascade::sim {
namespace {

cascade::v1::SimScenario Scenario(const std::string& text) {
  cascade::v1::SimScenario scenario;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &scenario));
  return scenario;
}

// Province a: 3 districts, 30 sites; b: 1 district, 4 sites.
using ProcessLayoutTest = SmallPlanTest;

TEST_F(ProcessLayoutTest, FaultTargetsRunAloneAndGetProbesOfTheirOwn) {
  absl::StatusOr<ProcessLayout> layout = LayOutProcesses(
      plan_, Scenario(R"(steps { at_s: 1 kill: "@largest_provincial" }
                  steps { at_s: 2 revive: "@largest_provincial" }
                  steps { at_s: 3 drain: "@largest_district" })"),
      LayoutOptions{/*controller=*/true, /*sites_per_probe=*/8,
                    /*relays_per_process=*/16, /*browser_edges=*/{}});
  ASSERT_TRUE(layout.ok()) << layout.status();
  const std::string killed = *plan_.Resolve("@largest_provincial");
  const std::string drained = *plan_.Resolve("@largest_district");
  // The killed relay and the roots alone in their processes; every relay in
  // exactly one.
  absl::flat_hash_set<std::string> placed;
  for (const RelayProcessGroup& group : layout->relay_groups) {
    for (const PlanRelay* relay : group.relays) {
      EXPECT_TRUE(placed.insert(relay->id).second) << relay->id;
      if (relay->id == killed || relay->parents.empty()) {
        EXPECT_EQ(group.relays.size(), 1u) << relay->id;
      }
    }
    EXPECT_LE(group.relays.size(), 16u);
  }
  EXPECT_EQ(placed.size(), plan_.relays.size());
  // The districts of province a share one process, named by the first.
  const RelayProcessGroup& districts =
      layout->relay_groups[layout->group_of_relay.at(drained)];
  EXPECT_EQ(districts.relays.size(), 3u);
  EXPECT_EQ(districts.name, districts.relays.front()->id + "+2");

  // Tier probes first, one per relay above the first site (upwards); then the
  // sites, the drained district's in probes of their own, at most 8 each.
  ASSERT_GE(layout->probe_groups.size(), 3u);
  EXPECT_EQ(layout->probe_groups[0].tier, "district");
  EXPECT_EQ(layout->probe_groups[1].tier, "provincial");
  EXPECT_EQ(layout->probe_groups[2].tier, "national");
  size_t sites = 0;
  for (const ProbeGroupRun& group : layout->probe_groups) {
    if (group.tier != "site") continue;
    EXPECT_LE(group.site_ids.size(), 8u) << group.name;
    sites += group.site_ids.size();
    int below_drained = 0;
    for (const std::string& id : group.site_ids) {
      below_drained += plan_.PrimaryPath(id)[1] == drained;
    }
    EXPECT_TRUE(below_drained == 0 ||
                below_drained == static_cast<int>(group.site_ids.size()))
        << group.name;
  }
  EXPECT_EQ(sites, plan_.sites.size());
}

TEST_F(ProcessLayoutTest, SelectedSitesSendUpstreamOnStreamsOfTheirOwn) {
  absl::StatusOr<ProcessLayout> layout = LayOutProcesses(
      plan_, Scenario("steps { at_s: 1 select_sites: 2 }"), LayoutOptions{});
  ASSERT_TRUE(layout.ok()) << layout.status();
  const std::vector<std::string> selected = SitesToSelect(plan_, 2);
  ASSERT_EQ(selected.size(), 2u);
  EXPECT_EQ(selected[0], plan_.sites[0].id);
  EXPECT_EQ(selected[1], plan_.sites[plan_.sites.size() / 2].id);
  ASSERT_EQ(layout->upstream_ssrc.size(), 2u);
  absl::flat_hash_set<uint32_t> ssrcs;
  for (const cascade::v1::Stream& stream : layout->topology.streams()) {
    for (const cascade::v1::Track& track : stream.tracks()) {
      EXPECT_TRUE(ssrcs.insert(track.ssrc()).second) << track.ssrc();
    }
  }
  // The tier probes are topologyd's sites too.
  EXPECT_EQ(layout->topology.nodes_size(), plan_.topology.nodes_size() + 3);

  // LISTEN PARENT NODE_ID KEY STANDBY KEY upstream=SSRC.
  const std::vector<std::string> fields = absl::StrSplit(
      ProbeSitesLine(plan_, *layout, selected[0], plan_.sites[0].address), ' ');
  ASSERT_EQ(fields.size(), 7u);
  EXPECT_EQ(fields[0], plan_.sites[0].address);
  EXPECT_EQ(fields[1], plan_.relay(plan_.sites[0].parents[0])->address);
  EXPECT_EQ(fields[2], selected[0]);
  EXPECT_EQ(fields[3], plan_.LinkKey(plan_.sites[0].parents[0], selected[0]));
  EXPECT_EQ(
      fields[6],
      "upstream=" + std::to_string(layout->upstream_ssrc.at(selected[0])));
}

// relayd --edge serves one relay: the edge district leaves its province's
// process, and topologyd's topology names where browsers reach it (the
// URLs it mints); no other node gets an edge address.
TEST_F(ProcessLayoutTest, ABrowserEdgeRunsAloneWithItsEdgeAddress) {
  const BrowserEdge edge = {"dist-a-02", "127.1.0.9:8080", "127.0.0.1:40001",
                            "127.0.0.1:40002"};
  absl::StatusOr<ProcessLayout> layout =
      LayOutProcesses(plan_, Scenario(""),
                      LayoutOptions{/*controller=*/true,
                                    300,
                                    /*relays_per_process=*/16,
                                    {edge}});
  ASSERT_TRUE(layout.ok()) << layout.status();
  const RelayProcessGroup& alone =
      layout->relay_groups[layout->group_of_relay.at("dist-a-02")];
  ASSERT_EQ(alone.relays.size(), 1u);
  EXPECT_EQ(alone.name, "dist-a-02");
  // Its neighbours still share their province's process.
  const RelayProcessGroup& province =
      layout->relay_groups[layout->group_of_relay.at("dist-a-01")];
  EXPECT_EQ(&province,
            &layout->relay_groups[layout->group_of_relay.at("dist-a-03")]);
  EXPECT_EQ(province.relays.size(), 3u);  // prov-a, dist-a-01, dist-a-03
  ASSERT_EQ(layout->browser_edges.size(), 1u);
  EXPECT_EQ(layout->browser_edges.at("dist-a-02").listen, edge.listen);
  int with_edge = 0;
  for (const cascade::v1::Node& node : layout->topology.nodes()) {
    if (node.edge_address().empty()) continue;
    ++with_edge;
    EXPECT_EQ(node.id(), "dist-a-02");
    EXPECT_EQ(node.edge_address(), "127.0.0.1:40001");
  }
  EXPECT_EQ(with_edge, 1);

  EXPECT_FALSE(
      LayOutProcesses(plan_, Scenario(""),
                      LayoutOptions{true, 300, 16, {{"nobody", "", "", ""}}})
          .ok());
}

TEST_F(ProcessLayoutTest, StandaloneRelaysRunAlone) {
  absl::StatusOr<ProcessLayout> layout = LayOutProcesses(
      plan_, Scenario(""), LayoutOptions{/*controller=*/false, 300, 16, {}});
  ASSERT_TRUE(layout.ok()) << layout.status();
  EXPECT_EQ(layout->relay_groups.size(), plan_.relays.size());
}

TEST_F(ProcessLayoutTest, UnknownStepTargetIsAnError) {
  EXPECT_FALSE(LayOutProcesses(plan_, Scenario(R"(steps { kill: "nobody" })"),
                               LayoutOptions{})
                   .ok());
}

}  // namespace
}  // namespace cascade::sim

namespace cascade::sim {
namespace {

// topologyd gives stream keys only to a plain endpoint source: with keys
// from the controller the program comes from the command center, a plain
// endpoint at relay-source's address; otherwise the topology is the plan's.
TEST_F(ProcessLayoutTest, KeysFromTopologydMakeTheCenterTheProgramsSource) {
  for (const bool stream_keys : {false, true}) {
    LayoutOptions options;
    options.sites_per_probe = 8;
    options.stream_keys = stream_keys;
    absl::StatusOr<ProcessLayout> layout =
        LayOutProcesses(plan_, cascade::v1::SimScenario(), options);
    ASSERT_TRUE(layout.ok()) << layout.status();
    const cascade::v1::Node* center = nullptr;
    for (const cascade::v1::Node& node : layout->topology.nodes()) {
      if (node.id() == kCommandCenter) center = &node;
    }
    ASSERT_EQ(center != nullptr, stream_keys);
    ASSERT_GE(layout->topology.streams_size(), 1);
    const cascade::v1::Stream& program = layout->topology.streams(0);
    if (!stream_keys) {
      EXPECT_EQ(program.source_node(), plan_.topology.streams(0).source_node());
      EXPECT_TRUE(layout->stream_source.empty());
      continue;
    }
    EXPECT_TRUE(center->plain_endpoint());
    EXPECT_EQ(center->tier(), cascade::v1::TIER_NATIONAL);
    EXPECT_EQ(center->media_address(), plan_.source_address);
    EXPECT_EQ(program.source_node(), kCommandCenter);
    EXPECT_EQ(layout->stream_source, kCommandCenter);
  }
}

}  // namespace
}  // namespace cascade::sim
