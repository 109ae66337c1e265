// relay-sim's PKI: every run speaks mutual TLS between its processes, with
// certificates the security library makes afresh in OUT/pki: a CA,
// topologyd's certificate (named by every controller address), one per
// relayd process naming each of its relays (OUT/pki/relayd/GROUP.pem: the
// relays of a process share one connection, as in plaintext), and
// relay-sim's own operator certificate (admin) for its Admin calls, and
// etcd's server certificate (--store=etcd runs etcd over mutual TLS). Sites
// (relay-probe) talk to no controller and get none (docs/security.md).
// Beside them the program stream's SRTP key, which relay-source and the
// sites hold and no relay does.
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
  // The stream key file (media/srtp/keys.h), mode 0600.
  std::string stream_key() const;

  // Makes every file: the server certificate names `controller_hosts` (IP
  // addresses), each group (a relayd process: its name and its relays' ids)
  // gets one. Not synced to disk: a run's scratch.
  absl::Status Make(
      const std::vector<std::string>& controller_hosts,
      const std::vector<std::pair<std::string, std::vector<std::string>>>&
          groups) const;
  // Writes a fresh stream key (one key, id 01) to stream_key().
  absl::Status MakeStreamKey() const;

 private:
  std::string dir_;
};

}  // namespace cascade::sim

#endif  // CASCADE_TOOLS_SIM_SIM_PKI_H_
