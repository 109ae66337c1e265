// The record a controller keeps in the audit trail when it takes the lead
// (issue 22: leader changes in the event feed): journaled like an audited
// Admin call, so `relayctl events --history` and the console's feed show it
// as a KIND_LEADER event, live and after any later restart or failover.
#ifndef CASCADE_TOPOLOGY_ETCD_LEADER_RECORD_H_
#define CASCADE_TOPOLOGY_ETCD_LEADER_RECORD_H_

#include <string>

#include "absl/status/status.h"
#include "topology/controller.h"

namespace cascade::topology::etcd {

// Journals, and waits until it is durable, that the controller at `address`
// (its admin API) leads by `right` ("etcd term 12"), after the controller
// at `previous` (an address; empty: the audit trail's last leader, if
// any). Called after recovery, before serving.
absl::Status RecordLeader(Controller* controller, const std::string& address,
                          const std::string& right,
                          const std::string& previous);

}  // namespace cascade::topology::etcd

#endif  // CASCADE_TOPOLOGY_ETCD_LEADER_RECORD_H_
