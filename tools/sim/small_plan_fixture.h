// The plan the browser-edge tests share: province a with 3 districts of 10
// sites, province b with 1 district of 4 (test_topology.h).
#ifndef CASCADE_TOOLS_SIM_SMALL_PLAN_FIXTURE_H_
#define CASCADE_TOOLS_SIM_SMALL_PLAN_FIXTURE_H_

#include <gtest/gtest.h>

#include <utility>

#include "absl/status/statusor.h"
#include "tools/sim/network_plan.h"
#include "tools/sim/test_topology.h"

namespace cascade::sim {

class SmallPlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<NetworkPlan> plan = PlanNetwork(
        GenerateTopology({{"a", 3, 30}, {"b", 1, 4}}, 200), 0, 5000);
    ASSERT_TRUE(plan.ok()) << plan.status();
    plan_ = *std::move(plan);
  }

  NetworkPlan plan_;
};

}  // namespace cascade::sim

#endif  // CASCADE_TOOLS_SIM_SMALL_PLAN_FIXTURE_H_
