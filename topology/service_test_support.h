// What the gRPC services' tests share: a controller on a journal served on
// a loopback port, relays played by the client library, and admin calls
// through a real stub with the admin token.
#ifndef CASCADE_TOPOLOGY_SERVICE_TEST_SUPPORT_H_
#define CASCADE_TOPOLOGY_SERVICE_TEST_SUPPORT_H_

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "control/relay_client.h"
#include "proto/controller.grpc.pb.h"
#include "testing/fake_clock.h"
#include "topology/controller.h"
#include "topology/fake_store.h"
#include "topology/journal.h"
#include "topology/service.h"

namespace cascade::topology {

// The admin token ServiceTest serves with.
inline constexpr char kToken[] = "s3cret";

// Serves `service` on a loopback port the kernel chose, with an Admin stub
// connected to it.
void Serve(ControllerService* service, ServerHandle* server,
           std::string* address,
           std::unique_ptr<cascade::v1::Admin::Stub>* admin);

// Keeps every assignment a simulated relay receives.
class Relay : public control::AssignmentListener {
 public:
  absl::Status OnAssignment(const cascade::v1::Assignment& a) override;
  // Waits (bounded) for an assignment whose active parent is `parent`.
  bool WaitForParent(const std::string& parent);
  cascade::v1::Assignment Last();

 private:
  absl::Mutex mu_;
  std::vector<cascade::v1::Assignment> received_ ABSL_GUARDED_BY(mu_);
};

// nat above p1 and p2; d1 under p1, standing by on p2.
class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  Relay* StartRelay(const std::string& id);
  std::unique_ptr<grpc::ClientContext> AdminContext(const std::string& token);

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

}  // namespace cascade::topology

#endif  // CASCADE_TOPOLOGY_SERVICE_TEST_SUPPORT_H_
