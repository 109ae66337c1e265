#include "tools/sim/whep_sites.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tools/sim/small_plan_fixture.h"

namespace cascade::sim {
namespace {

using Ids = std::vector<std::string>;

using WhepSitesTest = SmallPlanTest;

TEST_F(WhepSitesTest, EachEdgeGetsAGroupOnAnAddressOfItsOwn) {
  absl::StatusOr<std::vector<WhepSiteGroup>> groups =
      PlanWhepSites(plan_, {"dist-a-02", "dist-b-01"}, 3);
  ASSERT_TRUE(groups.ok()) << groups.status();
  ASSERT_EQ(groups->size(), 2u);
  const WhepSiteGroup& a = (*groups)[0];
  EXPECT_EQ(a.name, "whep-dist-a-02");
  EXPECT_EQ(a.edge, "dist-a-02");
  EXPECT_EQ(a.listen, "127.4.0.1:5000");
  EXPECT_EQ(a.site_ids,
            (Ids{"dist-a-02-whep1", "dist-a-02-whep2", "dist-a-02-whep3"}));
  EXPECT_EQ(a.addresses,
            (Ids{"127.4.0.1:5000", "127.4.0.1:5001", "127.4.0.1:5002"}));
  EXPECT_EQ((*groups)[1].listen, "127.4.0.2:5000");
  EXPECT_EQ((*groups)[1].site_ids[0], "dist-b-01-whep1");
}

TEST_F(WhepSitesTest, RefusesWithoutEdgesOrWithABadCount) {
  for (const auto& [edges, count, message] :
       std::vector<std::tuple<Ids, int, std::string>>{
           {{}, 2, "needs --browser_edge"},
           {{"dist-a-01"}, 0, "within 1..500, not 0"},
           {{"dist-a-01"}, 501, "within 1..500, not 501"}}) {
    absl::StatusOr<std::vector<WhepSiteGroup>> groups =
        PlanWhepSites(plan_, edges, count);
    ASSERT_FALSE(groups.ok()) << message;
    EXPECT_NE(groups.status().message().find(message), std::string::npos)
        << groups.status();
  }
}

// The report counts them as sites of their edge: delivery, the tree, and
// every window of a fault above the edge.
TEST_F(WhepSitesTest, TheReportsPlanHasThemBelowTheirEdge) {
  absl::StatusOr<std::vector<WhepSiteGroup>> groups =
      PlanWhepSites(plan_, {"dist-b-01"}, 2);
  ASSERT_TRUE(groups.ok()) << groups.status();
  const NetworkPlan with = WithWhepSites(plan_, *groups);
  ASSERT_EQ(with.sites.size(), plan_.sites.size() + 2);
  const PlanSite& site = with.sites[with.site_index.at("dist-b-01-whep2")];
  EXPECT_EQ(site.parents, Ids{"dist-b-01"});
  EXPECT_EQ(site.address, "127.4.0.1:5001");
  EXPECT_EQ(with.PrimaryPath(site.id),
            (Ids{"dist-b-01-whep2", "dist-b-01", "prov-b", "national"}));
  EXPECT_EQ(plan_.site_index.count("dist-b-01-whep1"), 0u);
}

TEST_F(WhepSitesTest, TheUrlInsideNamesTheEdgesOwnAddress) {
  cascade::v1::MintEdgeTokenResponse minted;
  minted.set_edge_address("127.0.0.1:40123");
  minted.set_url("https://127.0.0.1:40123/watch#stream=program&token=ce1.x");
  EXPECT_EQ(*InsideWatchUrl(minted, "127.1.0.7:8080"),
            "http://127.1.0.7:8080/watch#stream=program&token=ce1.x");
  minted.set_url("https://elsewhere:1/watch#token=t");
  EXPECT_FALSE(InsideWatchUrl(minted, "127.1.0.7:8080").ok());
}

TEST_F(WhepSitesTest, TheSummaryTimesEachFirstPictureFromTheMedia) {
  const WhepSiteGroup group = (*PlanWhepSites(plan_, {"dist-b-01"}, 3))[0];
  // The probe started 2.5 s before relay-source.
  const std::string log =
      "relay-probe: 3 WHEP viewers\n"
      R"({"type":"interval","packets":3})"
      "\n"
      R"({"type":"final","packets":10,"whep":{"connected":2,"sessions":[)"
      R"({"connected_ms":4.5,"first_frame_ms":2580.2},)"
      R"({"connected_ms":5,"first_frame_ms":2612},)"
      R"({"connected_ms":null,"first_frame_ms":null}]}})";
  std::vector<std::string> problems;
  EXPECT_EQ(WhepSummary(group, log, -2.5, &problems),
            "whep-dist-b-01: 2/3 WHEP sites connected, first picture 80, "
            "112, none ms after relay-source started");
  EXPECT_EQ(problems, Ids{"WHEP site dist-b-01-whep3 never showed a picture"});
  problems.clear();
  EXPECT_EQ(WhepSummary(group, R"({"type":"final"})", -2.5, &problems), "");
  EXPECT_EQ(problems, Ids{"WHEP sites whep-dist-b-01: no final report of their "
                          "sessions"});
}

}  // namespace
}  // namespace cascade::sim
