#include "topology/audit.h"

#include "absl/strings/str_cat.h"

namespace cascade::topology {

std::string DescribeAudit(const cascade::v1::AuditRecord& audit) {
  if (audit.call() == kLeaderCall) {
    return absl::StrCat(audit.who(), " leads (", audit.credential(), "), ",
                        audit.target().empty() ? "no leader known before it"
                                               : "after " + audit.target());
  }
  std::string text = audit.command().empty() ? audit.call() : audit.command();
  if (!audit.target().empty()) absl::StrAppend(&text, " ", audit.target());
  absl::StrAppend(&text, " by ", audit.who());
  if (!audit.peer().empty()) absl::StrAppend(&text, " from ", audit.peer());
  if (!audit.refused().empty()) {
    absl::StrAppend(&text, ": refused: ", audit.refused());
  }
  if (audit.unjournaled() > 0) {
    absl::StrAppend(&text, " (", audit.unjournaled(),
                    " earlier refusals of this caller not journaled)");
  }
  return text;
}

cascade::v1::Event AuditEvent(const cascade::v1::AuditRecord& audit) {
  cascade::v1::Event event;
  event.set_kind(audit.call() == kLeaderCall ? cascade::v1::Event::KIND_LEADER
                 : audit.refused().empty()   ? cascade::v1::Event::KIND_CHANGE
                                             : cascade::v1::Event::KIND_DENIED);
  event.set_detail(DescribeAudit(audit));
  event.set_unix_ms(audit.unix_ms());
  event.set_state_sequence(audit.state_sequence());
  *event.mutable_audit() = audit;
  return event;
}

}  // namespace cascade::topology
