#include "tools/sim/browser_edge.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tools/sim/small_plan_fixture.h"

namespace cascade::sim {
namespace {

using Ids = std::vector<std::string>;

using BrowserEdgeTest = SmallPlanTest;

TEST_F(BrowserEdgeTest, ANumberPicksDistrictsSpreadOverTheTree) {
  EXPECT_EQ(*PickBrowserEdges(plan_, "1"), Ids{"dist-a-01"});
  EXPECT_EQ(*PickBrowserEdges(plan_, "2"), (Ids{"dist-a-01", "dist-a-03"}));
  EXPECT_EQ(*PickBrowserEdges(plan_, "4"),
            (Ids{"dist-a-01", "dist-a-02", "dist-a-03", "dist-b-01"}));
  for (const char* refused : {"0", "5", "-1"}) {
    absl::StatusOr<Ids> picked = PickBrowserEdges(plan_, refused);
    ASSERT_FALSE(picked.ok()) << refused;
    EXPECT_NE(picked.status().message().find("within 1..4"), std::string::npos)
        << picked.status();
  }
}

TEST_F(BrowserEdgeTest, NamedDistrictsAreTakenInTheirOrder) {
  EXPECT_EQ(*PickBrowserEdges(plan_, "dist-b-01,@largest_district"),
            (Ids{"dist-b-01", "dist-a-01"}));
  for (const auto& [spec, message] :
       std::vector<std::pair<std::string, std::string>>{
           {"prov-a", "\"prov-a\" is not a district relay"},
           {"site-a-01-01", "is not a district relay"},
           {"nobody", "no node \"nobody\""},
           {"dist-a-02,dist-a-02", "dist-a-02 named twice"},
           {"dist-a-02,", "no node \"\""}}) {
    absl::StatusOr<Ids> picked = PickBrowserEdges(plan_, spec);
    ASSERT_FALSE(picked.ok()) << spec;
    EXPECT_NE(picked.status().message().find(message), std::string::npos)
        << picked.status();
  }
}

TEST_F(BrowserEdgeTest, TheEdgeListensOnItsRelaysOwnAddress) {
  const PlanRelay& relay = *plan_.relay("dist-b-01");
  const std::string host = relay.address.substr(0, relay.address.find(':'));
  EXPECT_EQ(EdgeListenAddress(relay), host + ":8080");
}

TEST(PlainHttpUrlTest, TheMintedUrlOverPlainHttp) {
  cascade::v1::MintEdgeTokenResponse minted;
  minted.set_edge_address("127.0.0.1:41234");
  minted.set_url("https://127.0.0.1:41234/watch#stream=command&token=ce1.x");
  EXPECT_EQ(*PlainHttpUrl(minted),
            "http://127.0.0.1:41234/watch#stream=command&token=ce1.x");
  minted.set_url("https://127.0.0.1:9/watch#stream=command&token=ce1.x");
  EXPECT_FALSE(PlainHttpUrl(minted).ok());
  minted.set_edge_address("");
  minted.set_url("https:///watch#stream=command");
  EXPECT_FALSE(PlainHttpUrl(minted).ok());
}

}  // namespace
}  // namespace cascade::sim
