// relayd's link to topologyd: runs the relay client library (register,
// watch, ack, report) on its own thread, translates each assignment
// (assignment.h), posts it to the relay's loop (dispatcher.h) and
// acknowledges the version once the loop has applied it (or NACKs it,
// keeping the running settings, when the translation fails or the relay is
// stopping). Reports carry the core's counters. The media plane never waits
// for the control plane: the relay forwards on whatever it runs until an
// assignment arrives.
#ifndef CASCADE_RELAY_CONTROLLER_LINK_H_
#define CASCADE_RELAY_CONTROLLER_LINK_H_

#include <memory>

#include "absl/status/status.h"
#include "control/relay_client.h"
#include "proto/controller.pb.h"
#include "proto/relay_config.pb.h"
#include "relay/relay_core.h"
#include "relay/relay_instance.h"
#include "relay/server.h"

namespace cascade::relay {

struct ControllerLinkOptions {
  // Controller address, node id, backoff and report timing; `stats` is set
  // by the link.
  control::RelayClientOptions client;
  // What the assignment is laid over (see AssignmentToConfig): node id,
  // listen, timings, and the root's source parent.
  cascade::v1::RelayConfig local;
};

// The controller's view of the core's counters: totals over the configured
// streams and the parent media is accepted from.
cascade::v1::RelayStats StatsOf(const RelayCore& core);

class ControllerLink : public control::AssignmentListener {
 public:
  // The link of `relay`, one of `server`'s relays; both must outlive it.
  ControllerLink(ControllerLinkOptions options, RelayServer* server,
                 RelayInstance* relay);
  ~ControllerLink() override;

  void Start();
  // Stops the client (its lease then lapses); call before the server goes.
  void Stop();

  absl::Status OnAssignment(const cascade::v1::Assignment& assignment) override;

 private:
  cascade::v1::RelayStats Stats();

  const cascade::v1::RelayConfig local_;
  RelayServer* const server_;
  RelayInstance* const relay_;
  std::unique_ptr<control::RelayClient> client_;
};

}  // namespace cascade::relay

#endif  // CASCADE_RELAY_CONTROLLER_LINK_H_
