// The audit trail's words: how an audited Admin call (an accepted change or
// a refused call, cascade.v1.AuditRecord) reads in an event, live or
// replayed from the journal after a restart.
#ifndef CASCADE_TOPOLOGY_AUDIT_H_
#define CASCADE_TOPOLOGY_AUDIT_H_

#include <string>

#include "proto/controller.pb.h"

namespace cascade::topology {

// `call` of the record a controller journals when it takes the lead:
// `who` is "topologyd ADDRESS", `credential` by what right ("etcd term
// 12"), `target` who led before ("topologyd ADDRESS"; empty: unknown).
inline constexpr char kLeaderCall[] = "Lead";

// "drain p1 by operator alice (operator) from ipv4:10.0.0.9:53211", and for
// a refusal ": refused: permission denied: viewer may not drain"; a leader
// record reads "topologyd 10.0.0.2:7000 leads (etcd term 12), after
// topologyd 10.0.0.1:7000".
std::string DescribeAudit(const cascade::v1::AuditRecord& audit);

// The event `audit` stands for: KIND_CHANGE, KIND_DENIED for a refusal or
// KIND_LEADER for a leader record, at the time and state sequence it was
// decided.
cascade::v1::Event AuditEvent(const cascade::v1::AuditRecord& audit);

}  // namespace cascade::topology

#endif  // CASCADE_TOPOLOGY_AUDIT_H_
