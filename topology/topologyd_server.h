// topologyd's serving, assembled from what main.cc read from its flags and
// checked: the gRPC server, the store (a journal, or etcd with an
// election), the controller, the metrics and console endpoints, the port
// file, and running until a signal (or, with etcd, the end of the term).
#ifndef CASCADE_TOPOLOGY_TOPOLOGYD_SERVER_H_
#define CASCADE_TOPOLOGY_TOPOLOGYD_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "topology/controller.h"
#include "topology/etcd/etcd_client.h"
#include "topology/lifecycle.h"
#include "topology/metrics_flags.h"
#include "topology/service.h"
#include "topology/topology_file.h"

namespace cascade::topology {

struct TopologydOptions {
  // HOST:PORT; port 0 lets the kernel choose.
  std::string listen;
  // Gets the bound port (and the metrics and console ports); empty: none.
  std::string port_file;
  // Seeds an empty state; empty: none.
  std::string topology_file;
  // Logged once serving and every minute after; empty: none.
  std::string insecure_warning;
  ConsoleTlsFiles console_tls;
  ControllerOptions controller;
  ServiceOptions service;
  std::shared_ptr<grpc::ServerCredentials> credentials;
};

struct EtcdServingOptions {
  // The store as given (etcd://...), for messages.
  std::string url;
  etcd::EtcdClientOptions client;
  // Key prefix of this controller group.
  std::string prefix;
  // The leader's lease, whole seconds.
  absl::Duration leader_ttl = absl::Seconds(5);
  // HOST:PORT other controllers name for this one; empty: the host of
  // `listen` with the bound port.
  std::string advertise;
  // The console's URL as browsers reach it; empty: its own address.
  std::string console_url;
};

// What the serving functions return: OK once stopped by a signal;
// InvalidArgument when the options ask for what cannot be done (a usage
// error); Aborted when this controller led on etcd and lost its term, or
// could not take it up; any other error when it failed.

// The topology file read and validated; errors name the file (and node and
// line).
absl::StatusOr<TopologyText> ReadSeedTopology(const std::string& file);

// One controller on the journal in `state_dir`.
absl::Status ServeJournal(SignalWaiter* signals,
                          const TopologydOptions& options,
                          const std::string& state_dir);

// One of several controllers sharing a state in etcd: follows until
// elected, then leads until the term ends.
absl::Status ServeEtcd(SignalWaiter* signals, TopologydOptions options,
                       EtcdServingOptions etcd_options);

}  // namespace cascade::topology

#endif  // CASCADE_TOPOLOGY_TOPOLOGYD_SERVER_H_
