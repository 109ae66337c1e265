// topologyd's /metrics: Prometheus text over HTTP (cpp-httplib) on
// --metrics=IP:PORT. Each scrape is rendered on the HTTP server's thread
// from copies: the controller's figures taken under its lock
// (Controller::Metrics, no I/O while held), the service's open Watch
// streams, the Admin calls counted by the interceptor (admin_calls.h), and
// the leadership this process observed. A follower (topologyd on etcd)
// serves its leadership figures only. Metric names: docs/observability.md.
#ifndef CASCADE_TOPOLOGY_METRICS_SERVER_H_
#define CASCADE_TOPOLOGY_METRICS_SERVER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "topology/controller.h"
#include "topology/controller_timing.h"
#include "topology/etcd/leader.h"
#include "topology/service.h"

namespace httplib {
class Server;
}

namespace cascade::topology {

// What one scrape shows.
struct MetricsInputs {
  // Null while following: no controller in this process.
  std::optional<ControllerMetrics> controller;
  std::optional<ControllerTiming::Snapshot> timing;
  // Open Watch streams: relays connected.
  size_t watchers = 0;
  bool leading = false;
  uint64_t leader_changes = 0;
  std::map<std::pair<std::string, std::string>, uint64_t> admin_calls;
};

std::string RenderMetrics(const MetricsInputs& inputs);

// IP:PORT (IPv6 in brackets); port 0 lets the kernel choose.
struct MetricsListen {
  std::string host;
  int port = 0;
};
absl::StatusOr<MetricsListen> ParseMetricsListen(absl::string_view text);

class MetricsEndpoint {
 public:
  // `service` outlives this (so does the controller it serves from). With
  // `always_leading` (one controller on a journal), this process leads for
  // its whole life; otherwise as the election tells (Leader()).
  MetricsEndpoint(ControllerService* service, bool always_leading);
  ~MetricsEndpoint();
  MetricsEndpoint(const MetricsEndpoint&) = delete;
  MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

  // Binds `listen` and serves /metrics on a thread of its own.
  absl::Status Start(const MetricsListen& listen);
  // The bound port; 0 when not serving.
  int port() const { return port_; }
  // "metrics=PORT\n" for the port file; empty when not serving.
  std::string PortFileLine() const;

  // A listener for the election that notes leadership and leader changes,
  // then passes every status on to `next`. Lives as long as this.
  etcd::LeaderListener* Leader(etcd::LeaderListener* next);

  MetricsInputs Collect() const;

 private:
  class LeaderWatch;

  ControllerService* const service_;
  const bool always_leading_;
  std::unique_ptr<LeaderWatch> leader_;
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace cascade::topology

#endif  // CASCADE_TOPOLOGY_METRICS_SERVER_H_
