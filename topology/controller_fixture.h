// What the controller's tests share: the reference topology, a listener
// that records what is pushed, a fixture over a journal behind a GatedStore,
// and relays played by hand.
#ifndef CASCADE_TOPOLOGY_CONTROLLER_FIXTURE_H_
#define CASCADE_TOPOLOGY_CONTROLLER_FIXTURE_H_

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "testing/fake_clock.h"
#include "topology/controller.h"
#include "topology/fake_store.h"
#include "topology/journal.h"

namespace cascade::topology {

// p1 has an automatic standby (p1-sb, region r1, room for two children);
// d3 therefore falls back to the next tier up when p1 fails. Sites name p1
// as their configured standby.
extern const char kReferenceTopology[];
// Every node of it except the sites.
extern const std::vector<std::string> kRelays;

// Records what the controller pushes, by node.
class Recorder : public ControllerListener {
 public:
  void OnAssignment(
      std::shared_ptr<const cascade::v1::Assignment> assignment) override;
  void OnNodeRemoved(const std::string& node_id) override;
  void OnEvent(const cascade::v1::Event& event) override;
  void OnCertificateRevoked() override;

  std::map<std::string, std::shared_ptr<const cascade::v1::Assignment>> latest;
  std::map<std::string, int> pushes;
  std::vector<std::string> removed;
  std::vector<cascade::v1::Event> events;
  int revocations = 0;
};

std::vector<std::string> ParentIds(const cascade::v1::Assignment& assignment);
std::vector<std::string> Ids(
    const google::protobuf::RepeatedPtrField<cascade::v1::Peer>& peers);

class ControllerTest : public ::testing::Test {
 protected:
  void SetUp() override;
  // A controller (again) on the test's state directory.
  void Start(ControllerOptions options = {});
  void ApplyReference();
  void RegisterAll(const std::vector<std::string>& ids);
  std::vector<std::string> Parents(const std::string& id);
  absl::StatusCode Code(const cascade::v1::Change& change);

  FakeClock clock_;
  std::string dir_;
  std::unique_ptr<JournalStore> store_;
  // In front of store_: open unless a test holds appends.
  std::unique_ptr<GatedStore> gated_;
  std::unique_ptr<Controller> controller_;
  Recorder recorder_;
};

// Reports for every relay except those in `silent`, each saying it
// receives from its assignment's active parent (as a relay that has not
// failed over does).
void ReportAllBut(Controller* controller,
                  const std::vector<std::string>& silent);

// Runs the controller's timers every `step` for `total` while the relays
// report, except those `silent_at` names at that moment. Each step ends
// once what the timers decided (reintegration pins) is applied.
void RunFor(FakeClock* clock, Controller* controller, absl::Duration total,
            absl::Duration step,
            const std::function<std::vector<std::string>()>& silent_at);

}  // namespace cascade::topology

#endif  // CASCADE_TOPOLOGY_CONTROLLER_FIXTURE_H_
