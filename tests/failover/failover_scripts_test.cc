// The worked failover scripts (tools/failover) against a real topologyd on
// loopback, with relays played by the client library that report stats as
// relayd does: each script's real effect and exit codes.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/subprocess.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "proto/controller.pb.h"
#include "tests/common/wait.h"
#include "tests/media/process.h"
#include "tests/topology/harness.h"

namespace cascade::topology {
namespace {

using cascade::testing::CommandResult;
using cascade::testing::kWaitTimeout;
using cascade::testing::ReadFile;
using cascade::testing::RunToCompletion;
using cascade::testing::WaitUntil;
using testing::FakeRelay;
using testing::Topologyd;

// Region r1: p1, its standby p1-sb, district d1 and site s1. Region r2: p2,
// d2 and s2. Provinces stand by on nat-2.
constexpr char kTopology[] = R"txt(
streams { id: "command" direction: DIRECTION_DOWNSTREAM bitrate_kbps: 100
  tracks { ssrc: 1 media: "video" payload_type: 96 encoding: "H264/90000" } }
nodes { id: "nat" tier: TIER_NATIONAL media_address: "127.1.0.1:5004"
  capacity { max_children: 8 } }
nodes { id: "nat-2" tier: TIER_NATIONAL role: ROLE_STANDBY
  media_address: "127.1.0.2:5004" capacity { max_children: 8 } }
nodes { id: "p1" tier: TIER_PROVINCIAL parent: "nat" standby_parents: "nat-2"
  labels { key: "region" value: "r1" } media_address: "127.2.1.1:5004"
  capacity { max_children: 8 } }
nodes { id: "p1-sb" tier: TIER_PROVINCIAL parent: "nat" standby_parents: "nat-2"
  role: ROLE_STANDBY labels { key: "region" value: "r1" }
  media_address: "127.2.1.2:5004" capacity { max_children: 8 } }
nodes { id: "d1" tier: TIER_DISTRICT parent: "p1" standby_parents: "p1-sb"
  labels { key: "region" value: "r1" } media_address: "127.3.0.1:5004"
  capacity { max_children: 8 } }
nodes { id: "s1" tier: TIER_SITE parent: "d1" standby_parents: "p1"
  labels { key: "region" value: "r1" } media_address: "127.10.0.1:5004" }
nodes { id: "p2" tier: TIER_PROVINCIAL parent: "nat" standby_parents: "nat-2"
  labels { key: "region" value: "r2" } media_address: "127.2.2.1:5004"
  capacity { max_children: 8 } }
nodes { id: "d2" tier: TIER_DISTRICT parent: "p2"
  labels { key: "region" value: "r2" } media_address: "127.3.0.2:5004"
  capacity { max_children: 8 } }
nodes { id: "s2" tier: TIER_SITE parent: "d2"
  labels { key: "region" value: "r2" } media_address: "127.10.0.2:5004" }
)txt";

const std::vector<std::string> kNodes = {"nat", "nat-2", "p1", "p1-sb", "d1",
                                         "s1",  "p2",    "d2", "s2"};

class FailoverScriptsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::TestDir();
    std::ofstream(dir_ + "/topology.textproto") << kTopology;
    auto daemon = Topologyd::Start(
        dir_, "topologyd",
        {"--insecure", "--state-dir=" + dir_ + "/state",
         "--topology=" + dir_ + "/topology.textproto", "--lease-timeout=2s"});
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    controller_ = std::move(*daemon);
    // The scripts find relayctl and the controller through the environment.
    char cwd[4096];
    ASSERT_NE(getcwd(cwd, sizeof(cwd)), nullptr);
    setenv("RELAYCTL", absl::StrCat(cwd, "/tools/relayctl/relayctl").c_str(),
           1);
    setenv("RELAYCTL_FLAGS",
           ("--controller=" + controller_->address() + " --insecure").c_str(),
           1);
    for (const std::string& id : kNodes) {
      relays_[id] = std::make_unique<FakeRelay>(controller_->address(), id,
                                                absl::Milliseconds(100));
      relays_[id]->Start();
    }
    ASSERT_TRUE(relays_["s1"]->WaitForParent("d1"));
    ASSERT_TRUE(relays_["s2"]->WaitForParent("d2"));
  }

  CommandResult Script(const std::string& name,
                       const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"/bin/sh", "tools/failover/" + name};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunToCompletion(argv, absl::StrCat(dir_, "/", name, ++runs_),
                           absl::Seconds(60));
  }

  cascade::v1::NodeView Show(const std::string& id) {
    return testing::ShowNode(dir_, controller_->address(), id);
  }

  // Waits (bounded) until `id` shows `status`.
  ::testing::AssertionResult WaitForStatus(const std::string& id,
                                           cascade::v1::NodeStatus status) {
    return testing::WaitForNode(
        dir_, controller_->address(), id,
        "shows " + cascade::v1::NodeStatus_Name(status),
        [&](const cascade::v1::NodeView& v) { return v.status() == status; },
        nullptr, absl::Seconds(15));
  }

  std::string dir_;
  int runs_ = 0;
  // Declared after the controller so the relays stop before it does.
  std::unique_ptr<Topologyd> controller_;
  std::map<std::string, std::unique_ptr<FakeRelay>> relays_;
};

TEST_F(FailoverScriptsTest, DrainRegionEmptiesEveryRelayOfTheRegionOnly) {
  CommandResult listed = Script("drain-region.sh", {"--dry-run", "r1"});
  ASSERT_EQ(listed.code, 0) << listed.err;
  // Top tier first, active before standby; no sites.
  EXPECT_EQ(listed.out, "p1\np1-sb\nd1\n");

  CommandResult drained = Script("drain-region.sh", {"--timeout=20s", "r1"});
  ASSERT_EQ(drained.code, 0) << drained.err << drained.out;
  for (const char* id : {"p1", "p1-sb", "d1"}) {
    cascade::v1::NodeView view = Show(id);
    EXPECT_EQ(view.status(), cascade::v1::STATUS_DRAINING) << id;
    EXPECT_EQ(view.stats().active_children(), 0u) << id;
    EXPECT_NE(drained.out.find(absl::StrCat(id, " is empty")),
              std::string::npos)
        << drained.out;
    EXPECT_NE(drained.out.find(absl::StrCat(" restore ", id, "\n")),
              std::string::npos)
        << drained.out;
  }
  // Region r1's district and site now hang off the national relay.
  EXPECT_EQ(Show("d1").stats().receiving_from(), "nat");
  EXPECT_EQ(Show("s1").stats().receiving_from(), "nat");
  // Region r2 is untouched.
  for (const char* id : {"p2", "d2"}) {
    EXPECT_EQ(Show(id).status(), cascade::v1::STATUS_UP) << id;
  }
  EXPECT_EQ(relays_["d2"]->last().parents(0).id(), "p2");

  CommandResult nowhere = Script("drain-region.sh", {"r9"});
  EXPECT_EQ(nowhere.code, 3);
  EXPECT_EQ(nowhere.err, "drain-region.sh: no relay has region=r9\n");
  EXPECT_EQ(Script("drain-region.sh", {}).code, 2);
  CommandResult help = Script("drain-region.sh", {"--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("usage: drain-region.sh"), std::string::npos);
}

TEST_F(FailoverScriptsTest, DrainRegionStopsAtARelayThatDoesNotEmpty) {
  // s1 never switches: d1, the last relay of r1, cannot be reported empty.
  relays_["s1"]->ReceiveFrom("d1");
  CommandResult drained = Script("drain-region.sh", {"--timeout=1s", "r1"});
  EXPECT_EQ(drained.code, 1) << drained.out;
  EXPECT_NE(drained.err.find("drain-region.sh: d1 did not empty (relayctl "
                             "exit 5); unconfirmed children: s1"),
            std::string::npos)
      << drained.err;
  EXPECT_NE(drained.err.find("restore when done: p1 p1-sb"), std::string::npos)
      << drained.err;
}

TEST_F(FailoverScriptsTest, HealthCheckFailsTheNodeOverAndRestoresIt) {
  const std::string health = dir_ + "/p2-healthy";
  std::ofstream(health) << "ok\n";
  // The check notes each of its runs in `checks`.
  const std::string checks = dir_ + "/checks";
  auto watcher = Subprocess::Start(
      {"/bin/sh", "tools/failover/health-failover.sh", "--interval=0.1",
       "--failures=2", "--successes=2", "p2", "--", "/bin/sh", "-c",
       "echo >> \"$0\" && test -e \"$1\"", checks, health},
      {dir_ + "/health.out", dir_ + "/health.err"});
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  // Healthy: nothing happens, though the watcher has run more checks than it
  // takes to fail over (it acts on the second before running the third).
  ASSERT_TRUE(WaitUntil("the watcher runs its third check", kWaitTimeout,
                        [&] {
                          const std::string runs = ReadFile(checks);
                          return std::count(runs.begin(), runs.end(), '\n') >=
                                 3;
                        }))
      << ReadFile(dir_ + "/health.out") << ReadFile(dir_ + "/health.err");
  EXPECT_EQ(Show("p2").status(), cascade::v1::STATUS_UP);

  std::remove(health.c_str());
  ASSERT_TRUE(WaitForStatus("p2", cascade::v1::STATUS_FAILED))
      << ReadFile(dir_ + "/health.out") << ReadFile(dir_ + "/health.err");
  // Its district moves to the standby the controller gave it.
  EXPECT_TRUE(relays_["d2"]->WaitForParent("nat"));

  std::ofstream(health) << "ok\n";
  ASSERT_TRUE(WaitForStatus("p2", cascade::v1::STATUS_UP))
      << ReadFile(dir_ + "/health.out") << ReadFile(dir_ + "/health.err");
  EXPECT_TRUE(relays_["d2"]->WaitForParent("p2"));
  const std::string log = ReadFile(dir_ + "/health.out");
  EXPECT_NE(log.find("p2 failed 2 checks: failed over"), std::string::npos)
      << log;
  EXPECT_NE(log.find("p2 healthy for 2 checks: restored"), std::string::npos)
      << log;

  // Bounded runs, and clear errors.
  CommandResult rounds = Script(
      "health-failover.sh", {"--interval=0", "--rounds=3", "p2", "--", "true"});
  EXPECT_EQ(rounds.code, 0) << rounds.err;
  CommandResult unknown =
      Script("health-failover.sh", {"--rounds=1", "nope", "--", "true"});
  EXPECT_EQ(unknown.code, 3) << unknown.err;
  EXPECT_EQ(Script("health-failover.sh", {"p2"}).code, 2);
  EXPECT_EQ(
      Script("health-failover.sh", {"--failures=x", "p2", "--", "true"}).code,
      2);
}

TEST_F(FailoverScriptsTest, MissingStandbyListsNodesWithoutOne) {
  // A site's first report lets the controller give it a standby beyond its
  // own parents at its next tick: wait for that plan before asking.
  ASSERT_TRUE(testing::WaitForNode(
      dir_, controller_->address(), "s2", "has a standby parent",
      [](const cascade::v1::NodeView& v) { return v.parents_size() >= 2; },
      nullptr, absl::Seconds(15)));
  CommandResult all_covered = Script("missing-standby.sh", {});
  EXPECT_EQ(all_covered.code, 0) << all_covered.out << all_covered.err;
  EXPECT_EQ(all_covered.out, "");

  // Without nat-2 the provinces have nothing to fall back to.
  CommandResult failed = testing::Relayctl(dir_, controller_->address(),
                                           {"--insecure", "failover", "nat-2"});
  ASSERT_EQ(failed.code, 0) << failed.err;
  CommandResult missing = Script("missing-standby.sh", {});
  EXPECT_EQ(missing.code, 1) << missing.err;
  EXPECT_EQ(missing.out,
            "p1 provincial up nat\np1-sb provincial up nat\n"
            "p2 provincial up nat\n");
  CommandResult json = Script("missing-standby.sh", {"--json"});
  EXPECT_EQ(json.code, 1);
  google::protobuf::Struct parsed;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(json.out, &parsed).ok())
      << json.out;
  EXPECT_EQ(parsed.fields().at("missing").list_value().values_size(), 3);
  CommandResult districts = Script("missing-standby.sh", {"--tier=district"});
  EXPECT_EQ(districts.code, 0) << districts.out;
  EXPECT_EQ(Script("missing-standby.sh", {"--tier=moon"}).code, 2);
}

}  // namespace
}  // namespace cascade::topology
