#include "topology/etcd/leader_record.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "topology/audit.h"
#include "topology/state.h"

namespace cascade::topology::etcd {

absl::Status RecordLeader(Controller* controller, const std::string& address,
                          const std::string& right,
                          const std::string& previous) {
  std::string before =
      previous.empty() ? "" : absl::StrCat("topologyd ", previous);
  if (before.empty()) {
    // A controller that never saw the one before (it started after it,
    // or etcd's key was gone) still finds it in the trail.
    controller->WithAuditHistory(
        kAuditTrail, [&before](std::vector<cascade::v1::Event> history) {
          for (auto it = history.rbegin(); it != history.rend(); ++it) {
            if (it->audit().call() == kLeaderCall) {
              before = it->audit().who();
              return;
            }
          }
        });
  }
  cascade::v1::Change change;
  cascade::v1::AuditRecord* record = change.mutable_audit();
  record->set_who(absl::StrCat("topologyd ", address));
  record->set_call(kLeaderCall);
  record->set_command("lead");
  record->set_credential(right);
  record->set_target(std::move(before));
  ChangeResult recorded = controller->Submit(std::move(change));
  return recorded.ok() ? absl::OkStatus() : recorded.status();
}

}  // namespace cascade::topology::etcd
