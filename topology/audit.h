// The audit trail's words: how an audited Admin call (an accepted change or
// a refused call, cascade.v1.AuditRecord) reads in an event, live or
// replayed from the journal after a restart.
#ifndef CASCADE_TOPOLOGY_AUDIT_H_
#define CASCADE_TOPOLOGY_AUDIT_H_

#include <string>

#include "proto/controller.pb.h"

namespace cascade::topology {

// "drain p1 by operator alice (operator) from ipv4:10.0.0.9:53211", and for
// a refusal ": refused: permission denied: viewer may not drain".
std::string DescribeAudit(const cascade::v1::AuditRecord& audit);

// The event `audit` stands for: KIND_CHANGE, or KIND_DENIED for a refusal,
// at the time and state sequence it was decided.
cascade::v1::Event AuditEvent(const cascade::v1::AuditRecord& audit);

}  // namespace cascade::topology

#endif  // CASCADE_TOPOLOGY_AUDIT_H_
