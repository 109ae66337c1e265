// The Events stream: changes, refusals within their budget, order and
// drops.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "topology/service.h"
#include "topology/service_test_support.h"

namespace cascade::topology {
namespace {

// Clients must present certificates; these present none, so every
// RelayControl call is refused for who it is.
class RefusalEventsTest : public ServiceTest {
 protected:
  void SetUp() override {
    options_.peer_identity = true;
    options_.denied_events_per_second = 1;
    options_.denied_events_burst = 3;
    options_.clock = &clock_;
    ServiceTest::SetUp();
  }

  grpc::StatusCode Register(const std::string& node_id) {
    auto stub = cascade::v1::RelayControl::NewStub(
        grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    cascade::v1::RegisterRequest request;
    request.set_node_id(node_id);
    cascade::v1::RegisterResponse response;
    return stub->Register(&context, request, &response).error_code();
  }
};

// A relay retrying with the wrong certificate cannot flood the event feed:
// one node's refusals are events up to the burst, then at the rate, and the
// next event shown counts those left out. Another node has its own budget.
TEST_F(RefusalEventsTest, OneNodesRefusalsBecomeEventsWithinItsBudget) {
  auto context = AdminContext(kToken);
  auto reader = admin_->Events(context.get(), cascade::v1::EventsRequest());
  // The stream is registered once the server has seen the call: refusals
  // of other nodes (each its own budget) until one reaches it.
  std::atomic<bool> subscribed{false};
  std::thread primer([&] {
    for (int i = 0; i < 250 && !subscribed; ++i) {
      Register(absl::StrCat("primer-", i));
      absl::SleepFor(absl::Milliseconds(20));
    }
  });
  cascade::v1::Event event;
  while (!subscribed && reader->Read(&event)) {
    subscribed = event.kind() == cascade::v1::Event::KIND_DENIED &&
                 absl::StartsWith(event.node_id(), "primer-");
  }
  primer.join();
  ASSERT_TRUE(subscribed);

  for (int i = 0; i < 20; ++i) {
    EXPECT_NE(Register("d2"), grpc::StatusCode::OK) << i;
  }
  clock_.Advance(absl::Seconds(1));
  EXPECT_NE(Register("d2"), grpc::StatusCode::OK);
  std::vector<std::string> shown;
  while (shown.size() < 4 && reader->Read(&event)) {
    if (event.kind() == cascade::v1::Event::KIND_DENIED &&
        event.node_id() == "d2") {
      shown.push_back(event.detail());
    }
  }
  context->TryCancel();
  ASSERT_EQ(shown.size(), 4u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(absl::StartsWith(shown[i], "Register from ")) << shown[i];
    EXPECT_FALSE(absl::StrContains(shown[i], "not shown")) << shown[i];
  }
  EXPECT_TRUE(
      absl::EndsWith(shown[3], " (17 earlier refusals of this node not shown)"))
      << shown[3];
}

TEST_F(ServiceTest, EventsStreamCarriesChanges) {
  auto context = AdminContext(kToken);
  auto reader = admin_->Events(context.get(), cascade::v1::EventsRequest());
  // The stream is registered once the server has seen the call; a change
  // submitted until then is retried.
  cascade::v1::Event event;
  bool saw_change = false;
  std::thread mover([&] {
    for (int i = 0; i < 50 && !saw_change; ++i) {
      cascade::v1::FailoverRequest failover;
      failover.set_id("p2");
      cascade::v1::ChangeResponse response;
      auto admin_context = AdminContext(kToken);
      admin_->Failover(admin_context.get(), failover, &response);
      absl::SleepFor(absl::Milliseconds(20));
    }
  });
  while (!saw_change && reader->Read(&event)) {
    saw_change = event.kind() == cascade::v1::Event::KIND_CHANGE &&
                 event.detail().find("failover") != std::string::npos;
  }
  context->TryCancel();
  mover.join();
  EXPECT_TRUE(saw_change);
}

// Offered events reach a subscriber in order, each one or counted in a
// KIND_DROPPED, the writes started by the service's writer thread.
TEST_F(ServiceTest, EventsArriveInOrderOrCountedAsDropped) {
  auto context = AdminContext(kToken);
  auto reader = admin_->Events(context.get(), cascade::v1::EventsRequest());
  constexpr int kEvents = 5000;
  auto offer = [&](const std::string& detail) {
    cascade::v1::Event event;
    event.set_kind(cascade::v1::Event::KIND_CHANGE);
    event.set_detail(detail);
    service_->OnEvent(event);
  };
  std::atomic<bool> subscribed{false};
  std::vector<int> received;
  uint64_t dropped = 0;
  std::thread reading([&] {
    cascade::v1::Event event;
    while (reader->Read(&event)) {
      int n = 0;
      if (event.kind() == cascade::v1::Event::KIND_DROPPED) {
        uint64_t count = 0;
        ASSERT_TRUE(absl::SimpleAtoi(
            event.detail().substr(0, event.detail().find(' ')), &count));
        dropped += count;
      } else if (event.detail() == "ping") {
        subscribed = true;
      } else if (event.detail() == "end") {
        break;
      } else if (absl::SimpleAtoi(event.detail(), &n)) {
        received.push_back(n);
      }
    }
  });
  // The stream is registered once the server has seen the call.
  for (int i = 0; i < 500 && !subscribed.load(); ++i) {
    offer("ping");
    absl::SleepFor(absl::Milliseconds(10));
  }
  const bool in_time = subscribed.load();
  if (in_time) {
    for (int n = 0; n < kEvents; ++n) offer(absl::StrCat(n));
    offer("end");
  } else {
    context->TryCancel();
  }
  reading.join();
  context->TryCancel();
  ASSERT_TRUE(in_time);
  ASSERT_FALSE(received.empty());
  for (size_t k = 1; k < received.size(); ++k) {
    ASSERT_LT(received[k - 1], received[k]);
  }
  EXPECT_EQ(received.back(), kEvents - 1);
  // Pings offered after the first one may have been dropped too.
  EXPECT_GE(received.size() + dropped, size_t{kEvents});
  EXPECT_LE(received.size() + dropped, size_t{kEvents + 500});
}

}  // namespace
}  // namespace cascade::topology
