// relayctl drain waits until the node is empty: topologyd as a process,
// relays played by the client library reporting active_children and
// receiving_from as relayd does (removed children served for a grace).
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "proto/controller.pb.h"
#include "tests/topology/harness.h"

namespace cascade::topology {
namespace {

using Result = cascade::testing::CommandResult;
using testing::FakeRelay;
using testing::Topologyd;

constexpr char kTopology[] = R"txt(
streams { id: "command" direction: DIRECTION_DOWNSTREAM bitrate_kbps: 100
  tracks { ssrc: 1 media: "video" payload_type: 96 encoding: "H264/90000" } }
nodes { id: "nat" tier: TIER_NATIONAL media_address: "127.1.0.1:5004"
  capacity { max_children: 8 } }
nodes { id: "p1" tier: TIER_PROVINCIAL parent: "nat" media_address: "127.2.1.1:5004"
  labels { key: "region" value: "r1" } capacity { max_children: 8 } }
nodes { id: "p1-sb" tier: TIER_PROVINCIAL parent: "nat" role: ROLE_STANDBY
  labels { key: "region" value: "r1" } media_address: "127.2.1.2:5004"
  capacity { max_children: 8 } }
nodes { id: "d1" tier: TIER_DISTRICT parent: "p1" media_address: "127.3.0.1:5004"
  capacity { max_children: 8 } }
nodes { id: "d2" tier: TIER_DISTRICT parent: "p1" media_address: "127.3.0.2:5004"
  capacity { max_children: 8 } }
nodes { id: "s1" tier: TIER_SITE parent: "d1" standby_parents: "p1"
  media_address: "127.10.0.1:5004" }
nodes { id: "s2" tier: TIER_SITE parent: "d1" standby_parents: "p1"
  media_address: "127.10.0.2:5004" plain_endpoint: true }
)txt";

// How long p1 keeps serving children an assignment removed.
constexpr absl::Duration kGrace = absl::Seconds(1);

class DrainTest : public ::testing::Test {
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
    for (const char* id : {"nat", "p1", "p1-sb", "d1", "d2", "s1"}) {
      relays_[id] = std::make_unique<FakeRelay>(
          controller_->address(), id,
          std::string(id) == "p1" ? kGrace : absl::Milliseconds(100));
      relays_[id]->Start();
    }
    ASSERT_TRUE(relays_["d1"]->WaitForParent("p1"));
    ASSERT_TRUE(relays_["d2"]->WaitForParent("p1"));
    ASSERT_TRUE(relays_["s1"]->WaitForParent("d1"));
    // Everyone has reported its assignment's parent at least once.
    ASSERT_TRUE(testing::WaitForNode(
        dir_, controller_->address(), "d2", "reports receiving from p1",
        [](const cascade::v1::NodeView& v) {
          return v.stats().receiving_from() == "p1";
        }));
  }

  Result Relayctl(std::vector<std::string> args) {
    args.insert(args.begin(), "--insecure");
    return testing::Relayctl(dir_, controller_->address(), std::move(args));
  }
  cascade::v1::NodeView Show(const std::string& id) {
    return testing::ShowNode(dir_, controller_->address(), id);
  }

  std::string dir_;
  // Declared after the controller so the relays stop before it does.
  std::unique_ptr<Topologyd> controller_;
  std::map<std::string, std::unique_ptr<FakeRelay>> relays_;
};

google::protobuf::Struct ParseJson(const std::string& text) {
  google::protobuf::Struct parsed;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(text, &parsed).ok())
      << text;
  return parsed;
}

TEST_F(DrainTest, WaitsUntilTheNodeIsEmptyThenRestoreTakesItBack) {
  Result drained = Relayctl({"--json", "--timeout=20s", "drain", "p1"});
  ASSERT_EQ(drained.code, 0) << drained.err;
  google::protobuf::Struct result = ParseJson(drained.out);
  const auto& fields = result.fields();
  EXPECT_EQ(fields.at("node").string_value(), "p1");
  EXPECT_TRUE(fields.at("empty").bool_value());
  EXPECT_EQ(fields.at("active_children").number_value(), 0);
  // p1 served its old children for its grace: the wait lasted that long.
  EXPECT_GE(fields.at("waited_ms").number_value(),
            absl::ToDoubleMilliseconds(kGrace) - 100);
  const auto& children = fields.at("children").list_value().values();
  ASSERT_EQ(children.size(), 2);
  for (const auto& child : children) {
    const auto& c = child.struct_value().fields();
    EXPECT_EQ(c.at("parent").string_value(), "p1-sb");
    EXPECT_EQ(c.at("receiving_from").string_value(), "p1-sb");
    EXPECT_TRUE(c.at("confirmed").bool_value());
  }
  // What the wait saw is what the controller shows now.
  cascade::v1::NodeView p1 = Show("p1");
  EXPECT_EQ(p1.status(), cascade::v1::STATUS_DRAINING);
  EXPECT_EQ(p1.stats().active_children(), 0u);
  EXPECT_EQ(p1.active_children_size(), 0);
  EXPECT_EQ(Show("d1").stats().receiving_from(), "p1-sb");

  // Draining again is harmless and reports at once, in text.
  Result again = Relayctl({"drain", "p1"});
  EXPECT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.out.find("p1 is empty\n"), std::string::npos) << again.out;

  Result restored = Relayctl({"restore", "p1"});
  ASSERT_EQ(restored.code, 0) << restored.err;
  EXPECT_TRUE(relays_["d1"]->WaitForParent("p1"));
  EXPECT_TRUE(relays_["d2"]->WaitForParent("p1"));
  EXPECT_EQ(Show("p1").status(), cascade::v1::STATUS_UP);
}

TEST_F(DrainTest, TimesOutWhileAChildHasNotSwitched) {
  // d1 has not moved to its new parent (yet): p1 is not safe to restart.
  relays_["d1"]->ReceiveFrom("p1");
  Result waited = Relayctl({"--json", "--timeout=2s", "drain", "p1"});
  EXPECT_EQ(waited.code, 5) << waited.err;
  EXPECT_NE(waited.err.find("relayctl: drain: p1 not empty after 2s: "),
            std::string::npos)
      << waited.err;
  EXPECT_NE(waited.err.find("d1 receives from p1, not p1-sb"),
            std::string::npos)
      << waited.err;
  EXPECT_FALSE(ParseJson(waited.out).fields().at("empty").bool_value());
  // The drain itself stands.
  EXPECT_EQ(Show("p1").status(), cascade::v1::STATUS_DRAINING);

  relays_["d1"]->ReceiveFrom("");
  Result done = Relayctl({"--timeout=20s", "drain", "p1"});
  EXPECT_EQ(done.code, 0) << done.err;
  EXPECT_NE(done.out.find("p1 is empty"), std::string::npos) << done.out;
}

TEST_F(DrainTest, PlainEndpointsAreListedNotWaitedFor) {
  Result drained = Relayctl({"--timeout=20s", "drain", "d1"});
  ASSERT_EQ(drained.code, 0) << drained.err;
  EXPECT_NE(drained.out.find("  s1 -> p1 (receiving)\n"), std::string::npos)
      << drained.out;
  EXPECT_NE(drained.out.find("  s2 -> p1 (plain endpoint: cannot report)\n"),
            std::string::npos)
      << drained.out;
  EXPECT_NE(drained.out.find("d1 is empty\n"), std::string::npos);

  EXPECT_EQ(Relayctl({"drain", "nope"}).code, 3);
  // Without waiting: back once the drain is durable.
  Result quick = Relayctl({"--wait=false", "drain", "d2"});
  EXPECT_EQ(quick.code, 0) << quick.err;
  EXPECT_NE(quick.out.find("drain d2: done"), std::string::npos) << quick.out;
}

}  // namespace
}  // namespace cascade::topology
