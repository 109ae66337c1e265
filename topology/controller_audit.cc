// The controller's audit side: refused Admin calls (an event, or a journal
// record of their own), revoked tokens and certificates, the audit trail
// replayed to a new event subscriber.
#include <algorithm>
#include <utility>
#include <vector>

#include "topology/audit.h"
#include "topology/certificate_revocation.h"
#include "topology/controller.h"
#include "topology/state.h"

namespace cascade::topology {

using cascade::v1::Change;
using cascade::v1::Event;

void Controller::RecordAdminRefusal(cascade::v1::AuditRecord audit,
                                    bool journal) {
  if (!journal) {
    absl::MutexLock lock(&mu_);
    audit.set_unix_ms(absl::ToUnixMillis(clock_->Now()));
    audit.set_state_sequence(state_.sequence());
    PublishLocked(AuditEvent(audit));
    return;
  }
  Change change;
  *change.mutable_audit() = std::move(audit);
  // The caller has its answer already; a refusal the store could not keep
  // is logged by the pipeline.
  SubmitAsync(std::move(change), [](ChangeResult) {});
}

bool Controller::TokenRevoked(const std::string& operator_name,
                              const std::string& id, absl::Time issued) const {
  absl::MutexLock lock(&mu_);
  return topology::TokenRevoked(state_, operator_name, id, issued);
}

bool Controller::CertificateRevoked(const std::string& serial) const {
  absl::MutexLock lock(&revoked_mu_);
  return revoked_serials_.contains(serial);
}

void Controller::RefreshRevokedLocked() {
  absl::flat_hash_set<std::string> serials = RevokedSerials(state_);
  absl::MutexLock lock(&revoked_mu_);
  revoked_serials_ = std::move(serials);
}

void Controller::WithAuditHistory(
    size_t count, const std::function<void(std::vector<Event>)>& fn) const {
  absl::MutexLock lock(&mu_);
  std::vector<Event> events;
  const int size = state_.audit_size();
  for (int i = size - static_cast<int>(std::min<size_t>(count, size)); i < size;
       ++i) {
    events.push_back(AuditEvent(state_.audit(i)));
  }
  fn(std::move(events));
}

}  // namespace cascade::topology
