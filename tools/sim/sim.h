// relay-sim's orchestration: starts the whole network as real processes in
// a private network namespace, plays the scenario, collects the figures.
#ifndef CASCADE_TOOLS_SIM_SIM_H_
#define CASCADE_TOOLS_SIM_SIM_H_

#include <atomic>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/sim_scenario.pb.h"
#include "tools/sim/browser_edge.h"
#include "tools/sim/network_plan.h"
#include "tools/sim/report.h"
#include "tools/sim/whep_sites.h"

namespace cascade::sim {

struct SimOptions {
  std::string out_dir;
  // Paths of the binaries.
  std::string relayd;
  std::string topologyd;
  std::string probe;
  std::string source;
  // etcd's binary: three topologyd on one etcd instead of one topologyd on
  // its journal (empty).
  std::string etcd;
  // topologyd --leader-ttl with etcd.
  absl::Duration leader_ttl = absl::Seconds(2);
  // With etcd: tcp-delay's binary and how long it holds every request of
  // the controllers to etcd (--store-delay; zero: none, they reach etcd
  // directly).
  std::string tcp_delay;
  absl::Duration store_delay = absl::ZeroDuration();
  std::string topology_name;
  // Relays take their assignments from topologyd (--controller); false:
  // standalone configurations generated from the topology.
  bool controller = true;
  cascade::v1::SimScenario scenario;  // video_kbps and frame_rate resolved
  int sites_per_probe = 300;
  // Relays per relayd process in controller mode (relayd --relays); 1: a
  // process per relay.
  int relays_per_process = 16;
  double probe_interval_s = 0.2;
  // Silence after which relays and sites fail over to their next parent.
  absl::Duration parent_timeout = absl::Milliseconds(300);
  // relayd and relay-probe --keepalive; topologyd's lease is at least four.
  absl::Duration keepalive = absl::Milliseconds(250);
  // How long every relay may take to bind and every child to activate.
  absl::Duration startup_timeout = absl::Seconds(60);
  // District relays that serve browsers too (controller mode): once the
  // tree is joined, a watch URL for a site under each goes to `console`
  // (when given), OUT/watch-urls.txt and the report.
  std::vector<BrowserEdge> browser_edges;
  // WebRTC viewers at those edges (--whep_sites): a relay-probe --whep per
  // edge, started with the watch URL's token before the media, its sites
  // in the run's groups like the others'.
  std::vector<WhepSiteGroup> whep_sites;
  // The program stream goes as SRTP end to end: relay-source encrypts, the
  // sites decrypt with OUT/pki/stream.key, the relays only forward. Off
  // with browser edges, which cannot decrypt yet.
  bool srtp = true;
  std::ostream* console = nullptr;
  // Set from a signal handler: stop everything and return.
  const std::atomic<bool>* interrupted = nullptr;
};

// Runs the scenario on `plan` (the caller has entered the private network).
// Writes logs, configs and the controller state under out_dir; returns what
// happened. Every process it started is stopped on return, whatever the
// outcome.
absl::StatusOr<SimRun> RunSimulation(const NetworkPlan& plan,
                                     const SimOptions& options);

}  // namespace cascade::sim

#endif  // CASCADE_TOOLS_SIM_SIM_H_
