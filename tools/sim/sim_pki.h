// relay-sim's PKI: every run speaks mutual TLS between its processes, with
// certificates the security library makes afresh in OUT/pki: a CA,
// topologyd's certificate (named by every controller address), one per
// relayd process naming each of its relays (OUT/pki/relayd/GROUP.pem: the
// relays of a process share one connection, as in plaintext), and
// relay-sim's own operator certificate (admin) for its Admin calls, and
// etcd's server certificate (--store=etcd runs etcd over mutual TLS), and
// the stream keys' holders' (relay-source as the command center, each
// relay-probe process naming its sites: OUT/pki/keys/NAME.pem), which fetch
// the program's SRTP keys from topologyd. Beside them, for standalone runs
// (no topologyd), a stream key file; relay-source and the sites hold the
// keys, no relay does.
#ifndef CASCADE_TOOLS_SIM_SIM_PKI_H_
#define CASCADE_TOOLS_SIM_SIM_PKI_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace cascade::sim {

// Where the files of a run's PKI are.
class SimPki {
 public:
  explicit SimPki(std::string dir) : dir_(std::move(dir)) {}

  std::string ca() const;
  // topologyd's certificate and key.
  std::string server_cert() const;
  std::string server_key() const;
  // The certificate of relayd process `group`, naming each of its relays.
  std::string group_cert(const std::string& group) const;
  std::string group_key(const std::string& group) const;
  // relay-sim's own, as an admin operator.
  std::string operator_cert() const;
  std::string operator_key() const;
  // etcd's server certificate (127.0.0.1); the controllers present theirs
  // to it as clients.
  std::string etcd_cert() const;
  std::string etcd_key() const;
  // The certificate of stream key holder `name` (relay-source, a
  // relay-probe process), naming the nodes it fetches keys for.
  std::string holder_cert(const std::string& name) const;
  std::string holder_key(const std::string& name) const;
  // The stream key file (media/srtp/keys.h), mode 0600.
  std::string stream_key() const;

  // A process's name and the node ids its certificate names.
  using Holders = std::vector<std::pair<std::string, std::vector<std::string>>>;
  // Makes every file: the server certificate names `controller_hosts` (IP
  // addresses), each of `relay_groups` (a relayd process) and of
  // `key_holders` gets one. Not synced to disk: a run's scratch.
  absl::Status Make(const std::vector<std::string>& controller_hosts,
                    const Holders& relay_groups,
                    const Holders& key_holders = {}) const;
  // Writes a fresh stream key (one key, id 01) to stream_key().
  absl::Status MakeStreamKey() const;

 private:
  std::string dir_;
};

}  // namespace cascade::sim

#endif  // CASCADE_TOOLS_SIM_SIM_PKI_H_
