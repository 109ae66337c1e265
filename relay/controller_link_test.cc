#include "relay/controller_link.h"

#include <gtest/gtest.h>

#include <memory>
#include <thread>

#include "google/protobuf/text_format.h"

namespace cascade::relay {
namespace {

// A running relay server with two relays on its loop (a thread) and a link
// for the first that is never started: assignments are handed to it
// directly, as the client would.
class ControllerLinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    for (const char* id : {"r", "other"}) {
      RelayOptions& relay = options.relays.emplace_back();
      relay.node_id = id;
      relay.listen = *media::Endpoint::Parse("127.0.0.1:0");
    }
    options.pages_per_relay = true;
    options.pool_slots_per_relay = 1024;
    absl::StatusOr<std::unique_ptr<RelayServer>> server =
        RelayServer::Create(std::move(options));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    loop_ = std::thread([this] { server_->Run(); });

    ControllerLinkOptions link;
    link.client.controller = "127.0.0.1:1";
    link.client.node_id = "r";
    link.local.set_node_id("r");
    link.local.set_listen("127.0.0.1:0");
    link_ = std::make_unique<ControllerLink>(std::move(link), server_.get(),
                                             server_->relays()[0].get());
  }

  void TearDown() override {
    link_.reset();
    server_->Stop();
    if (loop_.joinable()) loop_.join();
    server_.reset();
  }

  // The stats of relay `index`'s core, read on the loop thread.
  cascade::v1::RelayStats Stats(size_t index = 0) {
    auto stats = std::make_shared<cascade::v1::RelayStats>();
    RelayInstance* relay = server_->relays()[index].get();
    EXPECT_TRUE(server_->dispatcher().PostAndWait(
        [relay, stats] { *stats = StatsOf(relay->core()); }));
    return *stats;
  }

  static cascade::v1::Assignment Parse(const std::string& text) {
    cascade::v1::Assignment a;
    EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &a));
    return a;
  }

  std::unique_ptr<RelayServer> server_;
  std::thread loop_;
  std::unique_ptr<ControllerLink> link_;
};

TEST_F(ControllerLinkTest, AppliesOnTheLoopAndRefusesBadAssignments) {
  EXPECT_EQ(Stats().active_children(), 0u);
  ASSERT_TRUE(link_
                  ->OnAssignment(Parse(R"pb(
                    node_id: "r"
                    version: 1
                    parents {
                      id: "up"
                      media_address: "127.0.0.1:9"
                      key: "0123456789abcdef"
                    }
                    active_children {
                      id: "tv"
                      media_address: "127.0.0.1:9"
                      plain_endpoint: true
                    }
                  )pb"))
                  .ok());
  cascade::v1::RelayStats stats = Stats();
  EXPECT_EQ(stats.active_children(), 1u);
  EXPECT_EQ(stats.receiving_from(), "up");
  // The other relay on the loop keeps its own settings.
  EXPECT_EQ(Stats(1).active_children(), 0u);
  EXPECT_EQ(Stats(1).receiving_from(), "");

  // A keyless activated child is refused; the running settings stay.
  absl::Status refused = link_->OnAssignment(Parse(R"pb(
    node_id: "r"
    version: 2
    active_children { id: "s" }
  )pb"));
  EXPECT_EQ(refused.message(),
            "assignment active_children[0].key: required unless "
            "plain_endpoint");
  stats = Stats();
  EXPECT_EQ(stats.active_children(), 1u);
  EXPECT_EQ(stats.receiving_from(), "up");

  // No parent in the plan: the relay keeps the one it has.
  ASSERT_TRUE(
      link_->OnAssignment(Parse(R"pb(node_id: "r" version: 3)pb")).ok());
  EXPECT_EQ(Stats().receiving_from(), "up");
}

}  // namespace
}  // namespace cascade::relay
