#include "tools/sim/network_plan.h"

#include <gtest/gtest.h>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "tools/sim/standalone_config.h"
#include "topology/controller.h"

namespace cascade::sim {
namespace {

int CountTier(const cascade::v1::Topology& topology, cascade::v1::Tier tier) {
  int count = 0;
  for (const auto& node : topology.nodes()) count += node.tier() == tier;
  return count;
}

TEST(NetworkPlanTest, ReferenceShapesMatchTheDesign) {
  int districts = 0;
  int sites = 0;
  for (const ProvinceShape& p : South19Shape()) {
    districts += p.districts;
    sites += p.sites;
  }
  EXPECT_EQ(South19Shape().size(), 19u);
  EXPECT_EQ(districts, 204);
  EXPECT_EQ(sites, 2594);
  const cascade::v1::Topology national = GenerateTopology(NationalShape(), 100);
  EXPECT_EQ(CountTier(national, cascade::v1::TIER_PROVINCIAL), 2 * 63);
  EXPECT_EQ(CountTier(national, cascade::v1::TIER_DISTRICT), 693);
  EXPECT_EQ(CountTier(national, cascade::v1::TIER_SITE), 10000);
}

TEST(NetworkPlanTest, WholeTreeGetsDistinctAddressesAndSitesBelow) {
  auto plan = PlanNetwork(GenerateTopology(South19Shape(), 200), 0, 5000);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->sites.size(), 2594u);
  // national + 19 active + 19 standby provincial + 204 districts.
  EXPECT_EQ(plan->relays.size(), 1u + 38 + 204);
  EXPECT_EQ(plan->relays[0].id, "national");
  EXPECT_EQ(plan->relays[0].sites_below, 2594);
  absl::flat_hash_set<std::string> addresses;
  for (const auto& r : plan->relays) addresses.insert(r.address);
  for (const auto& s : plan->sites) addresses.insert(s.address);
  addresses.insert(plan->source_address);
  EXPECT_EQ(addresses.size(), plan->relays.size() + plan->sites.size() + 1);
  // Parents come before their children.
  for (size_t i = 0; i < plan->relays.size(); ++i) {
    for (const std::string& parent : plan->relays[i].parents) {
      EXPECT_LT(plan->relay_index.at(parent), static_cast<int>(i));
    }
  }
  auto largest = plan->Resolve("@largest_provincial");
  ASSERT_TRUE(largest.ok());
  EXPECT_EQ(*largest, "prov-ho-chi-minh-city");
  EXPECT_EQ(plan->relay(*largest)->sites_below, 312 + 125 * 312 / 2469 + 1);
  EXPECT_FALSE(plan->Resolve("no-such-node").ok());
}

TEST(NetworkPlanTest, TrimKeepsFirstSitesAndTheRelaysAboveThem) {
  auto plan = PlanNetwork(GenerateTopology(South19Shape(), 200), 20, 5000);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->sites.size(), 20u);
  // 20 sites of Ho Chi Minh City's first two districts (15 + 15 sites).
  absl::flat_hash_set<std::string> districts;
  for (const auto& site : plan->sites) districts.insert(site.parents[0]);
  EXPECT_EQ(districts.size(), 2u);
  // national, the province, its standby and the two districts.
  EXPECT_EQ(plan->relays.size(), 5u);
  EXPECT_EQ(plan->topology.nodes_size(), 25);
  EXPECT_EQ(
      plan->PrimaryPath(plan->sites[0].id),
      (std::vector<std::string>{plan->sites[0].id, "dist-ho-chi-minh-city-01",
                                "prov-ho-chi-minh-city", "national"}));
}

// As in topology/reference: a site stands by on its province's active
// relay, which serves it with the same key the site holds.
TEST(NetworkPlanTest, SitesStandByOnTheirProvince) {
  auto plan = PlanNetwork(GenerateTopology(South19Shape(), 200), 20, 5000);
  ASSERT_TRUE(plan.ok()) << plan.status();
  for (const PlanSite& site : plan->sites) {
    ASSERT_EQ(site.parents.size(), 2u) << site.id;
    EXPECT_EQ(site.parents[1], "prov-ho-chi-minh-city");
    const cascade::v1::RelayConfig province =
        StandaloneConfig(*plan, *plan->relay(site.parents[1]));
    bool served = false;
    for (const auto& child : province.children()) {
      if (child.id() != site.id) continue;
      served = true;
      EXPECT_EQ(child.key_hex(), plan->LinkKey(site.parents[1], site.id));
      EXPECT_NE(child.key_hex(), plan->LinkKey(site.parents[0], site.id));
    }
    EXPECT_TRUE(served) << site.id;
  }
  // Keys as topologyd derives them from the node keys the plan hands it.
  for (const auto& node : plan->topology.nodes()) {
    ASSERT_EQ(node.key().size(), 32u) << node.id();
    if (node.id() != plan->sites[0].id) continue;
    for (const std::string& parent : plan->sites[0].parents) {
      EXPECT_EQ(plan->LinkKey(parent, node.id()),
                absl::BytesToHexString(topology::LinkKey(node.key(), parent)));
    }
  }
  // Standbys do not count as sites below.
  EXPECT_EQ(plan->relay("prov-ho-chi-minh-city")->sites_below, 20);
}

TEST(NetworkPlanTest, PlanFailsOnUnknownParentAndNoSites) {
  cascade::v1::Topology topology;
  auto* site = topology.add_nodes();
  site->set_id("s");
  site->set_tier(cascade::v1::TIER_SITE);
  site->set_parent("missing");
  EXPECT_FALSE(PlanNetwork(topology, 0, 5000).ok());
  EXPECT_FALSE(PlanNetwork(cascade::v1::Topology(), 0, 5000).ok());
}

TEST(StandaloneConfigTest, BothEndsOfEveryLinkShareItsKey) {
  auto plan = PlanNetwork(GenerateTopology(South19Shape(), 200), 30, 5000);
  ASSERT_TRUE(plan.ok());
  absl::flat_hash_set<std::string> keys;
  for (const PlanRelay& relay : plan->relays) {
    const cascade::v1::RelayConfig config = StandaloneConfig(*plan, relay);
    EXPECT_EQ(config.node_id(), relay.id);
    EXPECT_EQ(config.listen(), relay.address);
    ASSERT_EQ(config.streams_size(), 2);
    EXPECT_TRUE(config.streams(0).h264());
    EXPECT_FALSE(config.streams(1).h264());
    if (relay.parents.empty()) {
      ASSERT_EQ(config.parents_size(), 1);
      EXPECT_EQ(config.parents(0).address(), plan->source_address);
      EXPECT_TRUE(config.parents(0).key_hex().empty());
    }
    for (const auto& parent : config.parents()) {
      if (parent.id() == "source") continue;
      const cascade::v1::RelayConfig above =
          StandaloneConfig(*plan, *plan->relay(parent.id()));
      bool found = false;
      for (const auto& child : above.children()) {
        if (child.id() != relay.id) continue;
        found = true;
        EXPECT_EQ(child.key_hex(), parent.key_hex());
        EXPECT_EQ(child.key_hex().size(), 64u);
      }
      EXPECT_TRUE(found) << relay.id << " missing at " << parent.id();
      keys.insert(parent.key_hex());
    }
    for (const auto& child : config.children()) keys.insert(child.key_hex());
  }
  // One key per link: 30 sites x 2 parents, 2 districts x 2 parents,
  // national's 2.
  EXPECT_EQ(keys.size(), 2 * 30u + 4 + 2);
  const cascade::v1::RelayConfig with_probe =
      StandaloneConfig(*plan, plan->relays[0], {{"probe-national", "00ff"}});
  EXPECT_EQ(with_probe.children(with_probe.children_size() - 1).id(),
            "probe-national");
}

}  // namespace
}  // namespace cascade::sim
