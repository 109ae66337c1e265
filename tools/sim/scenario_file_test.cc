#include "tools/sim/scenario_file.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "base/files.h"
#include "tools/sim/small_plan_fixture.h"

namespace cascade::sim {
namespace {

// A scenario file in the test's own directory.
std::string Scenario(const std::string& name, const std::string& text) {
  const char* dir = std::getenv("TEST_TMPDIR");
  const std::string path =
      std::string(dir != nullptr ? dir : "/tmp") + "/" + name;
  EXPECT_TRUE(WriteFileAtomically(path, text).ok());
  return path;
}

constexpr char kThreeSteps[] =
    "name: 'three' duration_s: 20 "
    "steps { at_s: 5 kill: '@largest_district' label: 'kill' } "
    "steps { at_s: 8 restart_controller_after_s: 4 label: 'restart' } "
    "steps { at_s: 10 stall_leader_s: 2 label: 'stall' }";

TEST(LoadScenarioTest, ScalesTheStepsToANewDuration) {
  absl::StatusOr<cascade::v1::SimScenario> scenario =
      LoadScenario(Scenario("scale.textproto", kThreeSteps),
                   ScenarioOverrides{40, 0, 0, 200, 15});
  ASSERT_TRUE(scenario.ok()) << scenario.status();
  EXPECT_DOUBLE_EQ(scenario->duration_s(), 40);
  EXPECT_DOUBLE_EQ(scenario->steps(0).at_s(), 10);
  EXPECT_DOUBLE_EQ(scenario->steps(1).at_s(), 16);
  EXPECT_DOUBLE_EQ(scenario->steps(1).restart_controller_after_s(), 8);
  EXPECT_DOUBLE_EQ(scenario->steps(2).at_s(), 20);
  EXPECT_DOUBLE_EQ(scenario->steps(2).stall_leader_s(), 4);
  // Neither the scenario nor the command line gave a rate: the defaults.
  EXPECT_EQ(scenario->video_kbps(), 200u);
  EXPECT_EQ(scenario->frame_rate(), 15u);
}

TEST(LoadScenarioTest, TheCommandLineRateWinsOverTheScenarios) {
  const std::string path =
      Scenario("rate.textproto",
               "name: 'r' duration_s: 20 video_kbps: 90 frame_rate: 9");
  absl::StatusOr<cascade::v1::SimScenario> kept =
      LoadScenario(path, ScenarioOverrides{0, 0, 0, 200, 15});
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_DOUBLE_EQ(kept->duration_s(), 20);
  EXPECT_EQ(kept->video_kbps(), 90u);
  EXPECT_EQ(kept->frame_rate(), 9u);
  absl::StatusOr<cascade::v1::SimScenario> given =
      LoadScenario(path, ScenarioOverrides{0, 300, 30, 200, 15});
  ASSERT_TRUE(given.ok()) << given.status();
  EXPECT_EQ(given->video_kbps(), 300u);
  EXPECT_EQ(given->frame_rate(), 30u);
}

TEST(LoadScenarioTest, RefusesWhatItCannotUseNamingTheFlag) {
  const std::string good = Scenario("good.textproto", kThreeSteps);
  const struct {
    std::string path;
    ScenarioOverrides overrides;
    std::string message;
  } cases[] = {
      {"/nonexistent/s.textproto", {}, "--scenario: "},
      {Scenario("bad.textproto", "no such field: 1"),
       {},
       " is not a cascade.v1.SimScenario textproto"},
      {Scenario("zero.textproto", "name: 'z'"),
       {},
       "--scenario: duration_s must be positive"},
      {good, {-1, 0, 0, 200, 15}, "--duration must be >= 0"},
      {good, {0, -1, 0, 200, 15}, "--bitrate must be >= 0"},
      {good, {0, 0, 61, 200, 15}, "--fps within 0..60"},
  };
  for (const auto& c : cases) {
    absl::StatusOr<cascade::v1::SimScenario> scenario =
        LoadScenario(c.path, c.overrides);
    ASSERT_FALSE(scenario.ok()) << c.message;
    EXPECT_EQ(scenario.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(scenario.status().message().find(c.message), std::string::npos)
        << scenario.status();
  }
}

class CheckStepNodesTest : public SmallPlanTest {};

TEST_F(CheckStepNodesTest, EveryNamedNodeMustBeInThePlan) {
  absl::StatusOr<cascade::v1::SimScenario> scenario =
      LoadScenario(Scenario("nodes.textproto", kThreeSteps), {});
  ASSERT_TRUE(scenario.ok()) << scenario.status();
  EXPECT_TRUE(CheckStepNodes(plan_, *scenario).ok());
  scenario->mutable_steps(0)->set_kill("nowhere");
  const absl::Status refused = CheckStepNodes(plan_, *scenario);
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(refused.message(),
            "--scenario: step \"kill\": no node \"nowhere\" in the simulated "
            "network");
}

}  // namespace
}  // namespace cascade::sim
