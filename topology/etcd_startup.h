// What topologyd's main does with etcd before serving: one read to see that
// it can be reached, and what to tell the operator when it cannot.
#ifndef CASCADE_TOPOLOGY_ETCD_STARTUP_H_
#define CASCADE_TOPOLOGY_ETCD_STARTUP_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "topology/etcd/etcd_client.h"

namespace cascade::topology {

// What to check when etcd cannot be reached with `tls` (none: plaintext).
std::string EtcdTlsHint(const std::optional<etcd::EtcdTls>& tls);

// One read before serving: etcd that cannot be reached at all (down, or
// refusing this client's TLS) is an error at once, naming the members,
// rather than a follower that never hears of a leader.
absl::Status ReachEtcd(etcd::EtcdClient* client, const std::string& key);

}  // namespace cascade::topology

#endif  // CASCADE_TOPOLOGY_ETCD_STARTUP_H_
