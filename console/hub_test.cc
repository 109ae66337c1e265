#include "console/hub.h"

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace cascade::console {
namespace {

using cascade::v1::GetTopologyResponse;

const absl::Time kStart = absl::FromUnixSeconds(1700000000);

GetTopologyResponse Tree(int nodes) {
  GetTopologyResponse topology;
  for (int i = 0; i < nodes; ++i) {
    cascade::v1::NodeView* view = topology.add_nodes();
    view->set_id("n" + std::to_string(i));
    view->set_status(cascade::v1::STATUS_UP);
    view->set_last_report_ms_ago(10);
  }
  return topology;
}

// A hub whose own ticks never find a tree: the test applies snapshots.
class HubTest : public ::testing::Test {
 protected:
  Hub hub_{[]() -> absl::StatusOr<GetTopologyResponse> {
             return absl::UnavailableError("none");
           },
           absl::Hours(1)};
};

std::vector<StreamMessage> Next(Hub::Subscription* subscription) {
  std::vector<StreamMessage> out;
  EXPECT_TRUE(subscription->Next(absl::ZeroDuration(), &out));
  return out;
}

TEST_F(HubTest, AStreamGetsTheTreeThenOnlyDeltas) {
  std::unique_ptr<Hub::Subscription> stream = hub_.Subscribe();
  EXPECT_TRUE(Next(stream.get()).empty());
  GetTopologyResponse topology = Tree(3);
  hub_.Apply(topology, kStart);
  std::vector<StreamMessage> got = Next(stream.get());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].type, "tree");
  cascade::v1::ConsoleTree tree;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(*got[0].data, &tree).ok());
  EXPECT_EQ(tree.nodes_size(), 3);

  // Nothing changed: nothing sent.
  hub_.Apply(topology, kStart + absl::Milliseconds(500));
  EXPECT_TRUE(Next(stream.get()).empty());

  topology.mutable_nodes(1)->set_status(cascade::v1::STATUS_DOWN);
  hub_.Apply(topology, kStart + absl::Seconds(1));
  got = Next(stream.get());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].type, "delta");
  cascade::v1::ConsoleDelta delta;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(*got[0].data, &delta).ok());
  ASSERT_EQ(delta.changed_size(), 1);
  EXPECT_EQ(delta.changed(0).id(), "n1");
}

TEST_F(HubTest, AStreamBehindByTwoTicksGetsTheWholeTreeOnce) {
  std::unique_ptr<Hub::Subscription> stream = hub_.Subscribe();
  GetTopologyResponse topology = Tree(2);
  hub_.Apply(topology, kStart);
  ASSERT_EQ(Next(stream.get()).size(), 1u);
  topology.mutable_nodes(0)->set_status(cascade::v1::STATUS_DOWN);
  hub_.Apply(topology, kStart + absl::Seconds(1));
  topology.mutable_nodes(1)->set_status(cascade::v1::STATUS_DOWN);
  hub_.Apply(topology, kStart + absl::Seconds(2));
  std::vector<StreamMessage> got = Next(stream.get());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].type, "tree");
  EXPECT_TRUE(Next(stream.get()).empty());
  EXPECT_NE(hub_.Tree(), nullptr);
}

TEST_F(HubTest, EventsAreBoundedPerStream) {
  std::unique_ptr<Hub::Subscription> stream = hub_.Subscribe();
  cascade::v1::Event event;
  event.set_kind(cascade::v1::Event::KIND_NODE_DOWN);
  event.set_node_id("p1");
  for (size_t i = 0; i < Hub::kEventBacklog + 5; ++i) stream->PushEvent(event);
  std::vector<StreamMessage> got = Next(stream.get());
  ASSERT_EQ(got.size(), Hub::kEventBacklog + 1);
  EXPECT_EQ(got[0].type, "dropped");
  EXPECT_EQ(*got[0].data, "5");
  EXPECT_EQ(got[1].type, "event");
  EXPECT_NE(got[1].data->find("KIND_NODE_DOWN"), std::string::npos);
}

TEST_F(HubTest, StopEndsTheStreams) {
  std::unique_ptr<Hub::Subscription> stream = hub_.Subscribe();
  hub_.Stop();
  std::vector<StreamMessage> out;
  EXPECT_FALSE(stream->Next(absl::Seconds(10), &out));
}

}  // namespace
}  // namespace cascade::console
