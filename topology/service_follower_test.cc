// A service that does not lead refuses calls naming the leader, and
// serves once elected.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "control/controllers.h"
#include "control/relay_client.h"
#include "topology/service.h"
#include "topology/service_test_support.h"

namespace cascade::topology {
namespace {

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
