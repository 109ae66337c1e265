// What one connection, one message and one peer may take of topologyd's
// gRPC server, so that callers who cannot authenticate (or relays gone
// wrong) cannot exhaust it: docs/topologyd.md, "Limits".
#ifndef CASCADE_TOPOLOGY_SERVER_LIMITS_H_
#define CASCADE_TOPOLOGY_SERVER_LIMITS_H_

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace cascade::topology {

// Largest message topologyd sends (a whole tree of 100,000 nodes is about
// 7 MB); relayctl takes as much.
inline constexpr int kMaxSendBytes = 64 << 20;

struct ServerLimits {
  // Largest message received, on either service: gRPC reads a message
  // whole before any handler can tell who sent it, so where unauthenticated
  // callers reach the port this is what each may make the server buffer.
  // Admin's ApplyTopology of the national reference topology (10,600
  // sites) is about 1.2 MB; 100,000 nodes take about 7 MB (raise it, with
  // client certificates required, which no one without one gets past).
  int max_receive_bytes = 2 << 20;
  // Concurrent streams (calls) on one HTTP/2 connection; more wait for one
  // to end. A relay holds two (Watch, Report); relayd with --relays over
  // plaintext shares one connection among all its relays.
  int max_streams_per_connection = 1000;
  // topologyd pings a connection quiet for this long and closes it when
  // the answer takes longer than keepalive_timeout: dead peers go. gRPC
  // sends at most two pings without data frames between them (its
  // default), so on a connection topologyd sends nothing on for long,
  // keepalive may pause until it does; a relay's lease, not this, says
  // whether it is alive.
  absl::Duration keepalive_interval = absl::Seconds(30);
  absl::Duration keepalive_timeout = absl::Seconds(10);
  // A peer that pings again within this while topologyd has sent it
  // nothing earns a strike; at the third, gRPC closes the connection
  // (GOAWAY too_many_pings). Below the clients' keepalive
  // (control::kControllerKeepalive, 15 s): a relay's quiet Watch stream
  // carries its pings.
  absl::Duration min_ping_interval = absl::Seconds(10);
  // A connection with no call for this long is closed.
  absl::Duration max_connection_idle = absl::Minutes(5);
  // A connection that has not finished its TLS handshake by then is closed.
  absl::Duration handshake_timeout = absl::Seconds(10);
};

// InvalidArgument naming the field when a limit is out of range.
absl::Status ValidateServerLimits(const ServerLimits& limits);

// Sets the limits on `builder` (and the send limit).
void ApplyServerLimits(const ServerLimits& limits,
                       grpc::ServerBuilder* builder);

}  // namespace cascade::topology

#endif  // CASCADE_TOPOLOGY_SERVER_LIMITS_H_
