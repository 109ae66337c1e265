// The gRPC services end to end in one process: relays played by the client
// library, admin calls through a real stub, leases driven by a fake clock.
#include "topology/service.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "control/controllers.h"
#include "control/relay_client.h"
#include "testing/fake_clock.h"
#include "topology/fake_store.h"
#include "topology/journal.h"
#include "topology/topology_file.h"

namespace cascade::topology {
namespace {

constexpr char kTopology[] = R"txt(
nodes { id: "nat" tier: TIER_NATIONAL media_address: "127.1.0.1:5004"
  capacity { max_children: 4 } }
nodes { id: "p1" tier: TIER_PROVINCIAL parent: "nat" media_address: "127.2.1.1:5004"
  capacity { max_children: 4 } }
nodes { id: "p2" tier: TIER_PROVINCIAL parent: "nat" media_address: "127.2.2.1:5004"
  capacity { max_children: 4 } }
nodes { id: "d1" tier: TIER_DISTRICT parent: "p1" standby_parents: "p2"
  media_address: "127.3.0.1:5004" capacity { max_children: 4 } }
)txt";

constexpr char kToken[] = "s3cret";

// Serves `service` on a loopback port the kernel chose, with an Admin stub
// connected to it.
void Serve(ControllerService* service, ServerHandle* server,
           std::string* address,
           std::unique_ptr<cascade::v1::Admin::Stub>* admin) {
  int port = 0;
  auto started = StartServer(service, "127.0.0.1:0",
                             grpc::InsecureServerCredentials(), &port);
  ASSERT_TRUE(started.ok()) << started.status();
  *server = std::move(*started);
  *address = "127.0.0.1:" + std::to_string(port);
  *admin = cascade::v1::Admin::NewStub(
      grpc::CreateChannel(*address, grpc::InsecureChannelCredentials()));
}

// Keeps every assignment a simulated relay receives.
class Relay : public control::AssignmentListener {
 public:
  absl::Status OnAssignment(const cascade::v1::Assignment& a) override {
    absl::MutexLock lock(&mu_);
    received_.push_back(a);
    return absl::OkStatus();
  }
  // Waits (bounded) for an assignment whose active parent is `parent`.
  bool WaitForParent(const std::string& parent) {
    absl::MutexLock lock(&mu_);
    auto has = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !received_.empty() && received_.back().parents_size() > 0 &&
             received_.back().parents(0).id() == parent;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&has), absl::Seconds(10));
  }
  cascade::v1::Assignment Last() {
    absl::MutexLock lock(&mu_);
    return received_.back();
  }

 private:
  absl::Mutex mu_;
  std::vector<cascade::v1::Assignment> received_ ABSL_GUARDED_BY(mu_);
};

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string dir =
        std::string(getenv("TEST_TMPDIR")) + "/service_" +
        ::testing::UnitTest::GetInstance()->current_test_info()->name();
    mkdir(dir.c_str(), 0700);
    std::remove((dir + "/journal").c_str());
    store_ = std::make_unique<JournalStore>(dir);
    gated_ = std::make_unique<GatedStore>(store_.get());
    controller_ = std::make_unique<Controller>(&clock_, gated_.get(),
                                               ControllerOptions());
    ASSERT_TRUE(controller_->Recover().ok());
    auto parsed = ParseTopologyText(kTopology, "t");
    ASSERT_TRUE(parsed.ok());
    cascade::v1::Change change;
    *change.mutable_apply()->mutable_topology() = parsed->topology;
    ASSERT_TRUE(controller_->Submit(change).ok());
    options_.admin_token = kToken;
    service_ = std::make_unique<ControllerService>(controller_.get(), options_);
    Serve(service_.get(), &server_, &address_, &admin_);
  }

  void TearDown() override {
    for (auto& [id, client] : clients_) client->Stop();
    service_->Shutdown();
    server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
    server_->Wait();
  }

  Relay* StartRelay(const std::string& id) {
    control::RelayClientOptions options;
    options.controller = address_;
    options.node_id = id;
    options.report_interval = absl::Milliseconds(50);
    options.min_backoff = absl::Milliseconds(20);
    relays_[id] = std::make_unique<Relay>();
    clients_[id] =
        std::make_unique<control::RelayClient>(options, relays_[id].get());
    clients_[id]->Start();
    return relays_[id].get();
  }

  std::unique_ptr<grpc::ClientContext> AdminContext(const std::string& token) {
    auto context = std::make_unique<grpc::ClientContext>();
    if (!token.empty()) {
      context->AddMetadata("authorization", "Bearer " + token);
    }
    context->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    return context;
  }

  FakeClock clock_;
  // What SetUp serves with (a derived fixture may set more first).
  ServiceOptions options_;
  std::unique_ptr<JournalStore> store_;
  // In front of store_: open unless a test holds appends.
  std::unique_ptr<GatedStore> gated_;
  std::unique_ptr<Controller> controller_;
  std::unique_ptr<ControllerService> service_;
  ServerHandle server_;
  std::string address_;
  std::unique_ptr<cascade::v1::Admin::Stub> admin_;
  std::map<std::string, std::unique_ptr<Relay>> relays_;
  std::map<std::string, std::unique_ptr<control::RelayClient>> clients_;
};

TEST_F(ServiceTest, WatchDeliversAndAcksThenFollowsDrain) {
  Relay* d1 = StartRelay("d1");
  ASSERT_TRUE(d1->WaitForParent("p1"));
  uint64_t version = d1->Last().version();
  // The ack arrives right after delivery.
  bool acked = false;
  for (int i = 0; i < 200 && !acked; ++i) {
    acked = controller_->GetNode("d1")->acked_version() == version;
    if (!acked) absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_TRUE(acked);
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
  for (int i = 0; i < 200; ++i) {
    if (controller_->GetNode("p1")->status() == cascade::v1::STATUS_UP) break;
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_EQ(controller_->GetNode("p1")->status(), cascade::v1::STATUS_UP);
  clients_["p1"]->Stop();
  // The others keep reporting in real time; only p1's lease is stale once
  // their next reports land after the clock jumps. A report p1 sent just
  // before it stopped may still land after a jump: then jump again.
  for (int jumps = 0; jumps < 5; ++jumps) {
    clock_.Advance(absl::Seconds(10));
    for (int i = 0; i < 200; ++i) {
      bool fresh = true;
      for (const char* id : {"nat", "p2", "d1"}) {
        fresh &= controller_->GetNode(id)->last_report_ms_ago() < 1000;
      }
      if (fresh) break;
      absl::SleepFor(absl::Milliseconds(10));
    }
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

// Reads `node_id`'s Watch until version `last` arrives (0: until the
// stream ends), `max_reads` assignments came or `timeout` passed, then
// cancels; appends the versions read and returns the stream's status.
grpc::Status ReadVersions(cascade::v1::RelayControl::Stub* stub,
                          const std::string& node_id, uint64_t last,
                          int max_reads, absl::Duration timeout,
                          std::vector<uint64_t>* versions) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  cascade::v1::WatchRequest request;
  request.set_node_id(node_id);
  auto reader = stub->Watch(&context, request);
  cascade::v1::Assignment assignment;
  for (int reads = 0; reads < max_reads; ++reads) {
    if (!reader->Read(&assignment)) return reader->Finish();
    versions->push_back(assignment.version());
    if (assignment.version() == last) break;
  }
  context.TryCancel();
  return reader->Finish();
}

bool StrictlyIncreasing(const std::vector<uint64_t>& versions) {
  for (size_t i = 1; i < versions.size(); ++i) {
    if (versions[i] <= versions[i - 1]) return false;
  }
  return true;
}

TEST_F(ServiceTest, RapidOffersReachManyWatchersNewestLastNeverBackwards) {
  std::vector<std::unique_ptr<cascade::v1::RelayControl::Stub>> stubs;
  for (int i = 0; i < 4; ++i) {
    stubs.push_back(cascade::v1::RelayControl::NewStub(
        grpc::CreateChannel(address_, grpc::InsecureChannelCredentials())));
  }
  const auto template_assignment = controller_->CurrentAssignment("d1");
  ASSERT_NE(template_assignment, nullptr);
  constexpr int kOffersPerThread = 3000;
  // Newer than what the controller numbered.
  const uint64_t first = template_assignment->version() + 1;
  const uint64_t last = first + 2 * kOffersPerThread;

  // Steady watchers read to the end; churning ones cancel after a few
  // reads and come back, so streams end while their writes are queued.
  constexpr int kSteady = 40;
  constexpr int kChurning = 8;
  std::vector<std::vector<uint64_t>> steady(kSteady);
  std::vector<grpc::Status> steady_status(kSteady);
  std::vector<std::vector<std::vector<uint64_t>>> churned(kChurning);
  std::vector<std::thread> threads;
  for (int i = 0; i < kSteady; ++i) {
    threads.emplace_back([&, i] {
      steady_status[i] = ReadVersions(stubs[i % stubs.size()].get(), "d1", last,
                                      1 << 20, absl::Seconds(20), &steady[i]);
    });
  }
  // Offers made before a Watch is registered never reach it.
  for (int i = 0; i < 1000 && service_->watcher_count() < kSteady; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_EQ(service_->watcher_count(), size_t{kSteady});
  std::atomic<bool> offering{true};
  std::atomic<int> churning{kChurning};
  for (int i = 0; i < kChurning; ++i) {
    threads.emplace_back([&, i] {
      for (int round = 0; round < 20 && offering.load(); ++round) {
        churned[i].emplace_back();
        ReadVersions(stubs[i % stubs.size()].get(), "d1", last, 1 + round % 3,
                     absl::Seconds(10), &churned[i].back());
      }
      --churning;
    });
  }
  // Two offerers interleave, so older versions also reach Offer after newer
  // ones (the controller's lock serialises its offers; this is harsher).
  auto offer = [&](uint64_t version) {
    auto assignment =
        std::make_shared<cascade::v1::Assignment>(*template_assignment);
    assignment->set_version(version);
    service_->OnAssignment(std::move(assignment));
  };
  std::vector<std::thread> offerers;
  for (uint64_t parity = 0; parity < 2; ++parity) {
    offerers.emplace_back([&, parity] {
      for (int i = 0; i < kOffersPerThread; ++i) {
        offer(first + 2 * i + parity);
        // Spread over some 100 ms, so the churning streams come and go
        // while offers flow.
        if (i % 10 == 0) absl::SleepFor(absl::Microseconds(300));
      }
    });
  }
  for (std::thread& offerer : offerers) offerer.join();
  offering = false;
  offer(last);
  // A churning watcher that came back after that offer gets it too.
  for (int i = 0; i < 1000 && churning.load() > 0; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
    offer(last);
  }
  for (std::thread& thread : threads) thread.join();

  for (int i = 0; i < kSteady; ++i) {
    SCOPED_TRACE(absl::StrCat("steady watcher ", i));
    EXPECT_TRUE(StrictlyIncreasing(steady[i]));
    ASSERT_FALSE(steady[i].empty()) << steady_status[i].error_message();
    EXPECT_EQ(steady[i].back(), last) << steady_status[i].error_message();
  }
  for (int i = 0; i < kChurning; ++i) {
    for (const auto& versions : churned[i]) {
      EXPECT_TRUE(StrictlyIncreasing(versions)) << "churning watcher " << i;
    }
  }
  // Every stream ended; each leaves the service once gRPC is done with it.
  for (int i = 0; i < 500 && service_->watcher_count() > 0; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(service_->watcher_count(), 0u);
}

TEST_F(ServiceTest, ShutdownWhileOffersFlowEndsEveryWatch) {
  auto stub = cascade::v1::RelayControl::NewStub(
      grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
  const auto template_assignment = controller_->CurrentAssignment("d1");
  ASSERT_NE(template_assignment, nullptr);
  constexpr int kWatchers = 32;
  std::vector<std::vector<uint64_t>> versions(kWatchers);
  std::vector<grpc::Status> status(kWatchers);
  std::vector<std::thread> watchers;
  for (int i = 0; i < kWatchers; ++i) {
    watchers.emplace_back([&, i] {
      status[i] = ReadVersions(stub.get(), "d1", 0, 1 << 20, absl::Seconds(20),
                               &versions[i]);
    });
  }
  std::atomic<bool> stop{false};
  std::thread offerer([&] {
    const uint64_t first = template_assignment->version() + 1;
    for (uint64_t version = first; !stop.load() && version < first + 200000;
         ++version) {
      auto assignment =
          std::make_shared<cascade::v1::Assignment>(*template_assignment);
      assignment->set_version(version);
      service_->OnAssignment(std::move(assignment));
    }
  });
  for (int i = 0; i < 500 && service_->watcher_count() < kWatchers; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(service_->watcher_count(), size_t{kWatchers});
  service_->Shutdown();
  for (std::thread& watcher : watchers) watcher.join();
  stop = true;
  offerer.join();
  for (int i = 0; i < kWatchers; ++i) {
    SCOPED_TRACE(absl::StrCat("watcher ", i));
    EXPECT_EQ(status[i].error_code(), grpc::StatusCode::UNAVAILABLE)
        << status[i].error_message();
    EXPECT_TRUE(StrictlyIncreasing(versions[i]));
  }
}

// Stopping the server while reports stream in and assignments go out (what
// SIGTERM does): every stream ends with an error at its client, and no
// handler starts an operation on a completion queue already shut down
// (gRPC aborts the process on that).
TEST_F(ServiceTest, StoppingTheServerMidStreamEndsEveryCallCleanly) {
  constexpr int kRounds = 5;
  constexpr int kStreams = 16;
  const auto template_assignment = controller_->CurrentAssignment("d1");
  ASSERT_NE(template_assignment, nullptr);
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    ControllerService service(controller_.get(), options_);
    ServerHandle server;
    std::string address;
    std::unique_ptr<cascade::v1::Admin::Stub> admin;
    Serve(&service, &server, &address, &admin);
    auto stub = cascade::v1::RelayControl::NewStub(
        grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
    std::vector<grpc::Status> watched(kStreams), reported(kStreams);
    std::vector<std::thread> clients;
    std::atomic<int> reporting{0};
    for (int i = 0; i < kStreams; ++i) {
      clients.emplace_back([&, i] {
        std::vector<uint64_t> versions;
        watched[i] = ReadVersions(stub.get(), "d1", 0, 1 << 20,
                                  absl::Seconds(20), &versions);
      });
      clients.emplace_back([&, i] {
        grpc::ClientContext context;
        context.set_deadline(
            absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
        cascade::v1::ReportResponse response;
        auto writer = stub->Report(&context, &response);
        cascade::v1::ReportRequest report;
        report.set_node_id("d1");
        bool counted = false;
        for (int n = 0; n < 1000000 && writer->Write(report); ++n) {
          if (!counted) reporting.fetch_add(1);
          counted = true;
        }
        reported[i] = writer->Finish();
      });
    }
    std::atomic<bool> stop{false};
    std::thread offerer([&] {
      for (uint64_t version = template_assignment->version() + 1; !stop.load();
           ++version) {
        auto assignment =
            std::make_shared<cascade::v1::Assignment>(*template_assignment);
        assignment->set_version(version);
        service.OnAssignment(std::move(assignment));
      }
    });
    auto flowing = [&] {
      return service.watcher_count() == size_t{kStreams} &&
             reporting.load() == kStreams;
    };
    for (int i = 0; i < 1000 && !flowing(); ++i) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    EXPECT_TRUE(flowing()) << service.watcher_count() << " watchers, "
                           << reporting.load() << " reporting";
    // As topologyd's SIGTERM: the streams are told, the server goes.
    service.Shutdown();
    server.reset();
    stop = true;
    offerer.join();
    for (std::thread& client : clients) client.join();
    for (int i = 0; i < kStreams; ++i) {
      EXPECT_FALSE(watched[i].ok());
      EXPECT_FALSE(reported[i].ok());
    }
  }
}

// A service that does not lead (one of several controllers on etcd).
class Follower {
 public:
  explicit Follower(std::function<std::string()> leader_address) {
    ServiceOptions options;
    options.admin_token = kToken;
    options.leader_address = std::move(leader_address);
    service_ = std::make_unique<ControllerService>(nullptr, options);
    Serve(service_.get(), &server_, &address_, &admin_);
  }
  ~Follower() {
    service_->Shutdown();
    server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
    server_->Wait();
  }

  ControllerService* service() { return service_.get(); }
  const std::string& address() const { return address_; }
  cascade::v1::Admin::Stub* admin() { return admin_.get(); }

 private:
  std::unique_ptr<ControllerService> service_;
  ServerHandle server_;
  std::string address_;
  std::unique_ptr<cascade::v1::Admin::Stub> admin_;
};

TEST_F(ServiceTest, FollowerRefusesNamingTheLeaderAndClientsFollow) {
  Follower follower([this] { return address_; });
  cascade::v1::GetNodeRequest request;
  request.set_id("d1");
  cascade::v1::NodeView view;
  auto context = AdminContext(kToken);
  grpc::Status refused =
      follower.admin()->GetNode(context.get(), request, &view);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(refused.error_message().find(address_), std::string::npos)
      << refused.error_message();
  control::Redirect redirect = control::RedirectOf(*context);
  EXPECT_TRUE(redirect.not_leader);
  EXPECT_EQ(redirect.leader, address_);
  // Changes are refused without being applied.
  const uint64_t sequence = controller_->Sequence();
  cascade::v1::FailoverRequest failover;
  failover.set_id("p2");
  cascade::v1::ChangeResponse response;
  auto change_context = AdminContext(kToken);
  EXPECT_EQ(follower.admin()
                ->Failover(change_context.get(), failover, &response)
                .error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(controller_->Sequence(), sequence);

  // The relay's Watch is refused the same way.
  auto relay_stub = cascade::v1::RelayControl::NewStub(grpc::CreateChannel(
      follower.address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext watch_context;
  watch_context.set_deadline(
      absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  cascade::v1::WatchRequest watch;
  watch.set_node_id("d1");
  auto reader = relay_stub->Watch(&watch_context, watch);
  cascade::v1::Assignment assignment;
  EXPECT_FALSE(reader->Read(&assignment));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(control::RedirectOf(watch_context).leader, address_);

  // A relay given only the follower is redirected to the leader.
  control::RelayClientOptions options;
  options.controller = follower.address();
  options.node_id = "d1";
  options.report_interval = absl::Milliseconds(50);
  options.min_backoff = absl::Milliseconds(20);
  Relay relay;
  control::RelayClient client(options, &relay);
  client.Start();
  EXPECT_TRUE(relay.WaitForParent("p1"));
  EXPECT_EQ(client.controller(), address_);
  client.Stop();
}

TEST_F(ServiceTest, FollowerWithoutLeaderSaysSoThenLeadsThenStepsDown) {
  std::string leader;  // none known yet
  Follower follower([&leader] { return leader; });
  cascade::v1::GetNodeRequest request;
  request.set_id("d1");
  cascade::v1::NodeView view;
  auto context = AdminContext(kToken);
  grpc::Status refused =
      follower.admin()->GetNode(context.get(), request, &view);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(refused.error_message().find("no leader is known"),
            std::string::npos)
      << refused.error_message();
  control::Redirect redirect = control::RedirectOf(*context);
  EXPECT_TRUE(redirect.not_leader);
  EXPECT_EQ(redirect.leader, "");
  // The token is still checked first.
  auto none = AdminContext("");
  EXPECT_EQ(follower.admin()->GetNode(none.get(), request, &view).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);

  // Elected: it serves the controller.
  follower.service()->Lead(controller_.get());
  auto led = AdminContext(kToken);
  ASSERT_TRUE(follower.admin()->GetNode(led.get(), request, &view).ok());
  EXPECT_EQ(view.parents(0), "p1");

  // Stepping down refuses again, naming whoever leads now.
  leader = "127.0.0.1:1";
  follower.service()->Shutdown();
  auto after = AdminContext(kToken);
  EXPECT_EQ(follower.admin()->GetNode(after.get(), request, &view).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(control::RedirectOf(*after).leader, "127.0.0.1:1");
}

}  // namespace
}  // namespace cascade::topology
