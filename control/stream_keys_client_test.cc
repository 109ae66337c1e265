#include "control/stream_keys_client.h"

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "control/controllers.h"
#include "gtest/gtest.h"

namespace cascade::control {
namespace {

constexpr absl::Duration kTimeout = absl::Seconds(20);

cascade::v1::StreamKey Key(const std::string& stream, uint32_t id,
                           int64_t send_from_unix_ms) {
  cascade::v1::StreamKey key;
  key.set_stream(stream);
  key.set_id(id);
  key.set_material(std::string(kStreamKeyMaterialSize, static_cast<char>(id)));
  key.set_send_from_unix_ms(send_from_unix_ms);
  return key;
}

// A RelayControl that answers GetStreamKeys as told: keys (on a clock an
// hour ahead of the machine's), a refusal, a redirect, or a call that hangs
// until cancelled.
class FakeControl : public cascade::v1::RelayControl::Service {
 public:
  FakeControl() {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(this);
    server_ = builder.BuildAndStart();
    address_ = absl::StrCat("127.0.0.1:", port);
  }
  ~FakeControl() override {
    server_->Shutdown(absl::ToChronoTime(absl::Now()));
  }

  const std::string& address() const { return address_; }

  void SetKeys(std::vector<cascade::v1::StreamKey> keys) {
    absl::MutexLock lock(&mu_);
    keys_ = std::move(keys);
    status_ = grpc::Status::OK;
  }
  void Refuse(grpc::Status status, std::string leader = "") {
    absl::MutexLock lock(&mu_);
    status_ = std::move(status);
    leader_ = std::move(leader);
  }
  void Hang() {
    absl::MutexLock lock(&mu_);
    hang_ = true;
  }
  int calls() const {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  std::vector<std::string> last_nodes() const {
    absl::MutexLock lock(&mu_);
    return last_nodes_;
  }

  grpc::Status GetStreamKeys(
      grpc::ServerContext* context,
      const cascade::v1::GetStreamKeysRequest* request,
      cascade::v1::GetStreamKeysResponse* response) override {
    absl::MutexLock lock(&mu_);
    ++calls_;
    last_nodes_.assign(request->nodes().begin(), request->nodes().end());
    if (hang_) {
      // Bounded: the client cancels well before.
      auto cancelled = [context] { return context->IsCancelled(); };
      for (int i = 0; i < 200 && !cancelled(); ++i) {
        mu_.AwaitWithTimeout(absl::Condition(&never_), absl::Milliseconds(50));
      }
      return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
    }
    if (!status_.ok()) {
      if (!leader_.empty()) {
        context->AddTrailingMetadata(kLeaderMetadata, leader_);
      }
      return status_;
    }
    const int64_t now = absl::ToUnixMillis(absl::Now() + absl::Hours(1));
    for (const auto& key : keys_) *response->add_keys() = key;
    response->set_unix_ms(now);
    response->set_poll_interval_ms(10);  // clamped to 1 s
    return grpc::Status::OK;
  }

 private:
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
  mutable absl::Mutex mu_;
  std::vector<cascade::v1::StreamKey> keys_ ABSL_GUARDED_BY(mu_);
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
  std::string leader_ ABSL_GUARDED_BY(mu_);
  bool hang_ ABSL_GUARDED_BY(mu_) = false;
  bool never_ ABSL_GUARDED_BY(mu_) = false;
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::string> last_nodes_ ABSL_GUARDED_BY(mu_);
};

class Recorder : public StreamKeysListener {
 public:
  void OnStreamKeys(const std::vector<ReceivedStreamKey>& keys) override {
    absl::MutexLock lock(&mu_);
    deliveries_.push_back(keys);
  }
  // Waits (bounded) until `count` deliveries came; returns them.
  std::vector<std::vector<ReceivedStreamKey>> WaitFor(size_t count) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return deliveries_.size() >= count;
    };
    mu_.AwaitWithTimeout(absl::Condition(&enough), kTimeout);
    return deliveries_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::vector<ReceivedStreamKey>> deliveries_ ABSL_GUARDED_BY(mu_);
};

StreamKeysClientOptions Options(const std::string& controller) {
  StreamKeysClientOptions options;
  options.controller = controller;
  options.nodes = {"s1", "s2"};
  options.min_backoff = absl::Milliseconds(50);
  options.max_backoff = absl::Milliseconds(200);
  return options;
}

// Checks `condition` every 10 ms until it holds or kTimeout passed.
bool Eventually(const std::function<bool()>& condition) {
  const absl::Time deadline = absl::Now() + kTimeout;
  while (!condition()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

TEST(StreamKeysClientTest, DeliversKeysOnTheLocalClock) {
  FakeControl control;
  const int64_t controller_now =
      absl::ToUnixMillis(absl::Now() + absl::Hours(1));
  control.SetKeys({Key("program", 2, controller_now + 60000),
                   Key("program", 1, controller_now - 1000)});
  Recorder recorder;
  StreamKeysClient client(Options(control.address()), &recorder);
  client.Start();
  const auto deliveries = recorder.WaitFor(1);
  ASSERT_EQ(deliveries.size(), 1u);
  const auto& keys = deliveries[0];
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0].stream, "program");
  EXPECT_EQ(keys[0].id, 2u);
  EXPECT_EQ(keys[0].key_id, (std::vector<uint8_t>{0, 0, 0, 2}));
  EXPECT_EQ(keys[0].material[27], 2);
  // The controller's clock is an hour ahead: send_from moves back by it.
  EXPECT_LT(
      absl::AbsDuration(keys[0].send_from - (absl::Now() + absl::Minutes(1))),
      absl::Seconds(30));
  EXPECT_LT(keys[1].send_from, absl::Now());
  EXPECT_EQ(control.last_nodes(), (std::vector<std::string>{"s1", "s2"}));
  EXPECT_TRUE(client.last_error().ok());
}

TEST(StreamKeysClientTest, CallsTheListenerOnlyWhenTheKeysChange) {
  FakeControl control;
  control.SetKeys({Key("program", 1, 0)});
  Recorder recorder;
  StreamKeysClient client(Options(control.address()), &recorder);
  client.Start();
  ASSERT_EQ(recorder.WaitFor(1).size(), 1u);
  // Two more polls (1 s apart) with the same keys: no new delivery, though
  // each answer's clock differs.
  ASSERT_TRUE(Eventually([&] { return client.polls() >= 3; }));
  control.SetKeys({Key("program", 2, 0), Key("program", 1, 0)});
  const auto deliveries = recorder.WaitFor(2);
  ASSERT_EQ(deliveries.size(), 2u);
  EXPECT_EQ(deliveries[1].size(), 2u);
  EXPECT_GE(client.polls(), 4);
}

TEST(StreamKeysClientTest, FollowsAFollowersRedirect) {
  FakeControl leader;
  leader.SetKeys({Key("program", 7, 0)});
  FakeControl follower;
  follower.Refuse(grpc::Status(grpc::StatusCode::UNAVAILABLE, "not the leader"),
                  leader.address());
  Recorder recorder;
  StreamKeysClient client(Options(follower.address()), &recorder);
  client.Start();
  const auto deliveries = recorder.WaitFor(1);
  ASSERT_EQ(deliveries.size(), 1u);
  EXPECT_EQ(deliveries[0][0].id, 7u);
  EXPECT_GE(follower.calls(), 1);
}

TEST(StreamKeysClientTest, SurfacesARefusalAndKeepsAsking) {
  FakeControl control;
  control.Refuse(
      grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "node r1 is a relay"));
  Recorder recorder;
  StreamKeysClient client(Options(control.address()), &recorder);
  client.Start();
  // Asked again at the max backoff (200 ms here).
  ASSERT_TRUE(Eventually([&] { return control.calls() >= 3; }));
  EXPECT_TRUE(absl::IsPermissionDenied(client.last_error()))
      << client.last_error();
  EXPECT_NE(client.last_error().message().find("node r1 is a relay"),
            absl::string_view::npos);
  // Once the operator fixes it, the keys come.
  control.SetKeys({Key("program", 1, 0)});
  EXPECT_EQ(recorder.WaitFor(1).size(), 1u);
}

TEST(StreamKeysClientTest, RejectsKeysOfTheWrongSize) {
  cascade::v1::GetStreamKeysResponse response;
  *response.add_keys() = Key("program", 1, 0);
  response.mutable_keys(0)->set_material("short");
  EXPECT_TRUE(
      absl::IsInvalidArgument(ToLocalKeys(response, absl::Now()).status()));
}

TEST(StreamKeysClientTest, PollIntervalIsClamped) {
  cascade::v1::GetStreamKeysResponse response;
  EXPECT_EQ(PollInterval(response), absl::Seconds(1));
  response.set_poll_interval_ms(30000);
  EXPECT_EQ(PollInterval(response), absl::Seconds(30));
  response.set_poll_interval_ms(3600000);
  EXPECT_EQ(PollInterval(response), absl::Seconds(60));
}

TEST(StreamKeysClientTest, StopEndsABackoffAtOnce) {
  FakeControl control;
  control.Refuse(grpc::Status(grpc::StatusCode::UNAVAILABLE, "down"));
  StreamKeysClientOptions options = Options(control.address());
  options.min_backoff = absl::Minutes(5);
  options.max_backoff = absl::Minutes(10);
  Recorder recorder;
  StreamKeysClient client(options, &recorder);
  client.Start();
  ASSERT_TRUE(Eventually([&] { return control.calls() >= 1; }));
  ASSERT_TRUE(Eventually([&] { return !client.last_error().ok(); }));
  const absl::Time stopping = absl::Now();
  client.Stop();
  EXPECT_LT(absl::Now() - stopping, absl::Seconds(2));
}

TEST(StreamKeysClientTest, StopCancelsACallInFlight) {
  FakeControl control;
  control.Hang();
  StreamKeysClientOptions options = Options(control.address());
  options.call_timeout = absl::Minutes(1);
  Recorder recorder;
  StreamKeysClient client(options, &recorder);
  client.Start();
  ASSERT_TRUE(Eventually([&] { return control.calls() >= 1; }));
  const absl::Time stopping = absl::Now();
  client.Stop();
  EXPECT_LT(absl::Now() - stopping, absl::Seconds(2));
}

}  // namespace
}  // namespace cascade::control
