#include "topology/etcd_startup.h"

namespace cascade::topology {

// What to check when etcd cannot be reached: gRPC says little more than
// "Endpoint read failed" when etcd refuses the client certificate.
std::string EtcdTlsHint(const std::optional<etcd::EtcdTls>& tls) {
  if (!tls.has_value()) {
    return "if etcd is up and serves https://: give --etcd-ca, --etcd-cert "
           "and --etcd-key";
  }
  if (tls->cert.empty()) {
    return "if etcd is up: it must serve https:// with a --cert-file that "
           "--etcd-ca signed for the host --store names, and one with "
           "--client-cert-auth needs --etcd-cert and --etcd-key";
  }
  return "if etcd is up: it must serve https:// with a --cert-file that "
         "--etcd-ca signed for the host --store names, and its "
         "--trusted-ca-file must hold the CA that signed --etcd-cert";
}

absl::Status ReachEtcd(etcd::EtcdClient* client, const std::string& key) {
  etcdserverpb::RangeRequest probe;
  probe.set_key(key);
  probe.set_keys_only(true);
  probe.set_serializable(true);
  return client->Range(probe).status();
}

}  // namespace cascade::topology
