#include "topology/service_test_support.h"

#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <utility>

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

}  // namespace

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

absl::Status Relay::OnAssignment(const cascade::v1::Assignment& a) {
  absl::MutexLock lock(&mu_);
  received_.push_back(a);
  return absl::OkStatus();
}

bool Relay::WaitForParent(const std::string& parent) {
  absl::MutexLock lock(&mu_);
  auto has = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !received_.empty() && received_.back().parents_size() > 0 &&
           received_.back().parents(0).id() == parent;
  };
  return mu_.AwaitWithTimeout(absl::Condition(&has), absl::Seconds(10));
}

cascade::v1::Assignment Relay::Last() {
  absl::MutexLock lock(&mu_);
  return received_.back();
}

void ServiceTest::SetUp() {
  std::string dir =
      std::string(getenv("TEST_TMPDIR")) + "/service_" +
      ::testing::UnitTest::GetInstance()->current_test_info()->name();
  mkdir(dir.c_str(), 0700);
  std::remove((dir + "/journal").c_str());
  store_ = std::make_unique<JournalStore>(dir);
  gated_ = std::make_unique<GatedStore>(store_.get());
  controller_ =
      std::make_unique<Controller>(&clock_, gated_.get(), ControllerOptions());
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

void ServiceTest::TearDown() {
  for (auto& [id, client] : clients_) client->Stop();
  service_->Shutdown();
  server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
  server_->Wait();
}

Relay* ServiceTest::StartRelay(const std::string& id) {
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

std::unique_ptr<grpc::ClientContext> ServiceTest::AdminContext(
    const std::string& token) {
  auto context = std::make_unique<grpc::ClientContext>();
  if (!token.empty()) {
    context->AddMetadata("authorization", "Bearer " + token);
  }
  context->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  return context;
}

}  // namespace cascade::topology
