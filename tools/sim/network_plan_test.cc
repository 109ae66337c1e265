#include "tools/sim/network_plan.h"

#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "control/link_key.h"
#include "tools/sim/standalone_config.h"
#include "topology/topology_file.h"

namespace cascade::sim {
namespace {

// The reference topologies, as relay-sim --scale loads them (runfiles).
cascade::v1::Topology Reference(const std::string& scale) {
  absl::StatusOr<topology::TopologyText> text =
      topology::ReadTopologyFile("topology/reference/" + scale + ".textproto");
  EXPECT_TRUE(text.ok()) << text.status();
  return text.ok() ? text->topology : cascade::v1::Topology();
}

TEST(NetworkPlanTest, ReferenceTopologiesPlanWithBothNationalRoots) {
  for (const auto& [scale, sites, relays] :
       {std::tuple<std::string, size_t, size_t>{"south19", 2594, 2 + 38 + 204},
        {"national", 10600, 2 + 126 + 700}}) {
    auto plan = PlanNetwork(Reference(scale), 0, 5000);
    ASSERT_TRUE(plan.ok()) << scale << ": " << plan.status();
    EXPECT_EQ(plan->sites.size(), sites) << scale;
    EXPECT_EQ(plan->relays.size(), relays) << scale;
    EXPECT_EQ(plan->roots, (std::vector<std::string>{"nat-1", "nat-2"}));
  }
}

TEST(NetworkPlanTest, WholeTreeGetsDistinctAddressesAndSitesBelow) {
  auto plan = PlanNetwork(Reference("south19"), 0, 5000);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->relays[0].id, "nat-1");
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
  EXPECT_EQ(*largest, "ho-chi-minh-city");
  int in_province = 0;
  for (const auto& node : plan->topology.nodes()) {
    in_province += node.tier() == cascade::v1::TIER_SITE &&
                   node.labels().at("region") == "ho-chi-minh-city";
  }
  EXPECT_EQ(plan->relay(*largest)->sites_below, in_province);
  EXPECT_FALSE(plan->Resolve("no-such-node").ok());
}

TEST(NetworkPlanTest, TrimKeepsFirstSitesAndTheRelaysAboveThem) {
  auto plan = PlanNetwork(Reference("south19"), 20, 5000);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->sites.size(), 20u);
  // 20 sites of Ho Chi Minh City's first two districts.
  absl::flat_hash_set<std::string> districts;
  for (const auto& site : plan->sites) districts.insert(site.parents[0]);
  EXPECT_EQ(districts.size(), 2u);
  // Both national relays, the province, its standby and the two districts.
  EXPECT_EQ(plan->relays.size(), 6u);
  EXPECT_EQ(plan->topology.nodes_size(), 26);
  EXPECT_EQ(plan->PrimaryPath(plan->sites[0].id),
            (std::vector<std::string>{plan->sites[0].id, "ho-chi-minh-city-d01",
                                      "ho-chi-minh-city", "nat-1"}));
}

// As in topology/reference: a site stands by on its province's active
// relay, which serves it with the same key the site holds.
TEST(NetworkPlanTest, SitesStandByOnTheirProvince) {
  auto plan = PlanNetwork(Reference("south19"), 20, 5000);
  ASSERT_TRUE(plan.ok()) << plan.status();
  for (const PlanSite& site : plan->sites) {
    ASSERT_EQ(site.parents.size(), 2u) << site.id;
    EXPECT_EQ(site.parents[1], "ho-chi-minh-city");
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
                absl::BytesToHexString(control::LinkKey(node.key(), parent)));
    }
  }
  // Standbys do not count as sites below.
  EXPECT_EQ(plan->relay("ho-chi-minh-city")->sites_below, 20);
}

// As topology/reference has it: a standby national relay without a parent,
// fed by the source too, which the provinces stand by on.
TEST(NetworkPlanTest, EveryRootIsFedActiveFirst) {
  cascade::v1::Topology topology;
  auto add = [&](const std::string& id, cascade::v1::Tier tier,
                 const std::string& parent, const std::string& standby) {
    auto* node = topology.add_nodes();
    node->set_id(id);
    node->set_tier(tier);
    node->set_parent(parent);
    if (!standby.empty()) node->add_standby_parents(standby);
    return node;
  };
  add("nat-2", cascade::v1::TIER_NATIONAL, "", "")
      ->set_role(cascade::v1::ROLE_STANDBY);
  add("nat-1", cascade::v1::TIER_NATIONAL, "", "");
  add("prov", cascade::v1::TIER_PROVINCIAL, "nat-1", "nat-2");
  add("site", cascade::v1::TIER_SITE, "prov", "");
  auto plan = PlanNetwork(topology, 0, 5000);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->roots, (std::vector<std::string>{"nat-1", "nat-2"}));
  for (const std::string& root : plan->roots) {
    const cascade::v1::RelayConfig config =
        StandaloneConfig(*plan, *plan->relay(root));
    ASSERT_EQ(config.parents_size(), 1) << root;
    EXPECT_EQ(config.parents(0).address(), plan->source_address);
  }
  topology.mutable_nodes(1)->set_parent("prov");  // nat-1 under prov: cycle
  topology.mutable_nodes(0)->set_parent("prov");
  EXPECT_FALSE(PlanNetwork(topology, 0, 5000).ok());
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
  auto plan = PlanNetwork(Reference("south19"), 30, 5000);
  ASSERT_TRUE(plan.ok());
  size_t links = 0;
  for (const PlanRelay& relay : plan->relays) links += relay.parents.size();
  for (const PlanSite& site : plan->sites) links += site.parents.size();
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
  // One key per link.
  EXPECT_EQ(keys.size(), links);
  const cascade::v1::RelayConfig with_probe =
      StandaloneConfig(*plan, plan->relays[0], {{"probe-national", "00ff"}});
  EXPECT_EQ(with_probe.children(with_probe.children_size() - 1).id(),
            "probe-national");
}

}  // namespace
}  // namespace cascade::sim
