// The gRPC services end to end in one process: relays played by the client
// library, admin calls through a real stub, leases driven by a fake clock.
#include "topology/service.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "tests/common/wait.h"
#include "topology/service_test_support.h"

namespace cascade::topology {
namespace {

using ::cascade::testing::kWaitTimeout;
using ::cascade::testing::WaitUntil;

TEST_F(ServiceTest, WatchDeliversAndAcksThenFollowsDrain) {
  Relay* d1 = StartRelay("d1");
  ASSERT_TRUE(d1->WaitForParent("p1"));
  uint64_t version = d1->Last().version();
  // The ack arrives right after delivery.
  EXPECT_TRUE(WaitUntil("d1 acks its assignment", kWaitTimeout, [&] {
    return controller_->GetNode("d1")->acked_version() == version;
  }));
  EXPECT_EQ(controller_->GetNode("d1")->status(), cascade::v1::STATUS_UP);

  cascade::v1::DrainNodeRequest drain;
  drain.set_id("p1");
  cascade::v1::ChangeResponse response;
  auto context = AdminContext(kToken);
  ASSERT_TRUE(admin_->DrainNode(context.get(), drain, &response).ok());
  ASSERT_TRUE(d1->WaitForParent("p2"));
  EXPECT_GT(d1->Last().version(), version);
  EXPECT_EQ(d1->Last().parents(0).media_address(), "127.2.2.1:5004");
}

TEST_F(ServiceTest, StoppedReportsExpireTheLeaseAndChildrenMove) {
  Relay* d1 = StartRelay("d1");
  // Every relay reports, except p1 once stopped: a node that never reports
  // is down after a lease too.
  for (const char* id : {"nat", "p1", "p2"}) StartRelay(id);
  ASSERT_TRUE(d1->WaitForParent("p1"));
  ASSERT_TRUE(WaitUntil("p1 is up", kWaitTimeout, [&] {
    return controller_->GetNode("p1")->status() == cascade::v1::STATUS_UP;
  }));
  clients_["p1"]->Stop();
  // The others keep reporting in real time; only p1's lease is stale once
  // their next reports land after the clock jumps. A report p1 sent just
  // before it stopped may still land after a jump: then jump again.
  for (int jumps = 0; jumps < 5; ++jumps) {
    clock_.Advance(absl::Seconds(10));
    WaitUntil("the others report after the jump", kWaitTimeout, [&] {
      bool fresh = true;
      for (const char* id : {"nat", "p2", "d1"}) {
        fresh &= controller_->GetNode(id)->last_report_ms_ago() < 1000;
      }
      return fresh;
    });
    if (controller_->GetNode("p1")->last_report_ms_ago() >= 10000) break;
  }
  EXPECT_EQ(controller_->Tick(), 1);
  ASSERT_TRUE(d1->WaitForParent("p2"));
}

TEST_F(ServiceTest, AdminNeedsTheTokenAndNeverShowsKeys) {
  cascade::v1::GetNodeRequest request;
  request.set_id("d1");
  cascade::v1::NodeView view;
  auto none = AdminContext("");
  EXPECT_EQ(admin_->GetNode(none.get(), request, &view).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  auto wrong = AdminContext("guess");
  EXPECT_EQ(admin_->GetNode(wrong.get(), request, &view).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  auto right = AdminContext(kToken);
  ASSERT_TRUE(admin_->GetNode(right.get(), request, &view).ok());
  EXPECT_EQ(view.parents(0), "p1");
  std::string key = controller_->CurrentAssignment("d1")->parents(0).key();
  EXPECT_EQ(view.SerializeAsString().find(key), std::string::npos);

  request.set_id("nope");
  auto missing = AdminContext(kToken);
  EXPECT_EQ(admin_->GetNode(missing.get(), request, &view).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(ServiceTest, WatchOfUnknownNodeIsNotFound) {
  auto stub = cascade::v1::RelayControl::NewStub(
      grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  cascade::v1::WatchRequest request;
  request.set_node_id("ghost");
  auto reader = stub->Watch(&context, request);
  cascade::v1::Assignment assignment;
  EXPECT_FALSE(reader->Read(&assignment));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::NOT_FOUND);
}

// An admin change is answered once durable; meanwhile relays and other
// admin calls are served.
TEST_F(ServiceTest, AdminChangeIsAnsweredOnceDurable) {
  const uint64_t sequence = controller_->Sequence();
  gated_->Close();
  const int arrivals = gated_->arrivals();
  constexpr int kChanges = 8;
  std::atomic<int> answered{0};
  std::vector<grpc::Status> status(kChanges);
  std::vector<cascade::v1::ChangeResponse> responses(kChanges);
  std::vector<std::thread> changes;
  for (int k = 0; k < kChanges; ++k) {
    changes.emplace_back([&, k] {
      cascade::v1::FailoverRequest failover;
      failover.set_id("p2");
      auto context = AdminContext(kToken);
      context->set_deadline(
          absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
      status[k] = admin_->Failover(context.get(), failover, &responses[k]);
      ++answered;
    });
  }
  EXPECT_TRUE(gated_->AwaitArrivals(arrivals + 1, absl::Seconds(10)));
  // The first change is on its way to the store.
  cascade::v1::GetNodeRequest request;
  request.set_id("p2");
  cascade::v1::NodeView view;
  auto context = AdminContext(kToken);
  EXPECT_TRUE(admin_->GetNode(context.get(), request, &view).ok());
  EXPECT_EQ(view.status(), cascade::v1::STATUS_UNKNOWN);
  auto relay = cascade::v1::RelayControl::NewStub(
      grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
  grpc::ClientContext register_context;
  register_context.set_deadline(
      absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  cascade::v1::RegisterRequest register_request;
  register_request.set_node_id("d1");
  cascade::v1::RegisterResponse registered;
  EXPECT_TRUE(
      relay->Register(&register_context, register_request, &registered).ok());
  EXPECT_EQ(answered.load(), 0);
  EXPECT_EQ(controller_->Sequence(), sequence);
  gated_->Open();
  for (std::thread& change : changes) change.join();
  std::vector<uint64_t> sequences;
  for (int k = 0; k < kChanges; ++k) {
    ASSERT_TRUE(status[k].ok()) << status[k].error_message();
    sequences.push_back(responses[k].state_sequence());
  }
  std::sort(sequences.begin(), sequences.end());
  for (int k = 0; k < kChanges; ++k) EXPECT_EQ(sequences[k], sequence + 1 + k);
  EXPECT_EQ(controller_->GetNode("p2")->status(), cascade::v1::STATUS_FAILED);
}

TEST_F(ServiceTest, AdminChangeTheStoreRefusesIsUnavailable) {
  const uint64_t sequence = controller_->Sequence();
  gated_->FailNext(absl::InternalError("disk full"));
  cascade::v1::DrainNodeRequest drain;
  drain.set_id("p1");
  cascade::v1::ChangeResponse response;
  auto context = AdminContext(kToken);
  grpc::Status refused = admin_->DrainNode(context.get(), drain, &response);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(refused.error_message().find("disk full"), std::string::npos)
      << refused.error_message();
  EXPECT_EQ(controller_->Sequence(), sequence);
  EXPECT_NE(controller_->GetNode("p1")->status(), cascade::v1::STATUS_DRAINING);
}

}  // namespace
}  // namespace cascade::topology
