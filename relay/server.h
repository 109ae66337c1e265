// relayd's process: one libuv loop running one relay instance or several
// (relay_instance.h: socket, core, tick timer each), signals (SIGTERM/SIGINT
// drain, SIGHUP reload) and the metrics endpoint, which runs an HTTP server
// in its own thread and asks the loop for a snapshot through the dispatcher
// (dispatcher.h): cores are touched by the loop thread only. The controller
// links (controller_link.h) use the same path.
#ifndef CASCADE_RELAY_SERVER_H_
#define CASCADE_RELAY_SERVER_H_

#include <uv.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "base/service_notifier.h"
#include "base/uv_handle.h"
#include "media/endpoint.h"
#include "relay/dispatcher.h"
#include "relay/edge.h"
#include "relay/edge_http.h"
#include "relay/packet_pool.h"
#include "relay/relay_core.h"
#include "relay/relay_instance.h"
#include "relay/relay_options.h"
#include "webrtc/dtls/certificate.h"

namespace httplib {
class Server;
}

namespace cascade::relay {

struct ServerOptions {
  // The relays of this process, on distinct addresses and with distinct ids;
  // at least one.
  std::vector<RelayOptions> relays;
  // Each relay by its id (relayd --relays): metrics on /metrics/NODE_ID and
  // "udp.NODE_ID=PORT" lines in the port file, however many there are.
  // Otherwise the only relay serves /metrics and writes "udp=PORT".
  bool pages_per_relay = false;
  // Prometheus text over HTTP (see pages_per_relay); none when unset.
  std::optional<media::Endpoint> metrics;
  // The only relay's browser edge (edge.h): WHEP and the pages over
  // HTTP(S) at edge->http, WebRTC on the relay's socket. Refused with
  // pages_per_relay.
  std::optional<EdgeOptions> edge;
  // Written once bound, with "metrics=PORT" (and "edge=PORT"), so a caller that
  // asked for port 0 learns the kernel's choice.
  std::string port_file;
  // SIGHUP calls this for the only relay's new settings (e.g. re-reading
  // the config file); none: SIGHUP is logged and ignored. Refused with
  // pages_per_relay.
  std::function<absl::StatusOr<RelayOptions>()> reload;
  // The only relay's fan-out threads (fanout_loops.h); a process of several
  // relays runs them all on its one loop.
  FanoutOptions fanout;
  // Packet buffers per relay, allocated as needed: the pool is shared.
  size_t pool_slots_per_relay = 1 << 17;
  // The service manager to tell (service_notifier.h); none when null.
  ServiceNotifier* notifier = nullptr;
  // The relays take their settings from a controller: READY=1 only once
  // each has applied its first assignment (AssignmentApplied), not when
  // the sockets are bound.
  bool ready_after_assignment = false;
  // Logged as a warning when Run() starts and every `warning_every` after,
  // from the loop (empty: nothing), so a log read at any point shows it:
  // relayd --insecure's plaintext controller link.
  std::string warning;
  absl::Duration warning_every = absl::Minutes(1);
};

class RelayServer {
 public:
  static absl::StatusOr<std::unique_ptr<RelayServer>> Create(
      ServerOptions options);
  ~RelayServer();
  RelayServer(const RelayServer&) = delete;
  RelayServer& operator=(const RelayServer&) = delete;

  // Runs until Stop(), SIGTERM or SIGINT; then every relay says goodbye to
  // its children.
  void Run();
  // Any thread: ends Run() as SIGTERM does.
  void Stop();
  // Loop thread: `relay` runs an assignment (see ready_after_assignment).
  void AssignmentApplied(RelayInstance* relay);
  // The way in from other threads (dispatcher.h).
  Dispatcher& dispatcher() { return *dispatcher_; }
  // The relays, in the order of ServerOptions::relays; loop thread only,
  // apart from id() and local().
  const std::vector<std::unique_ptr<RelayInstance>>& relays() const {
    return relays_;
  }
  int metrics_port() const { return metrics_port_; }
  int edge_port() const {
    return edge_http_ != nullptr ? edge_http_->port() : 0;
  }

 private:
  explicit RelayServer(ServerOptions options);
  absl::Status Start();
  absl::Status WritePortFile() const;
  absl::Status StartEdge();
  void OnSignal(int signum);
  // Loop thread: goodbyes, then the loop ends.
  void Shutdown();
  void NotifyReady();
  std::string RenderMetrics(RelayInstance* relay);
  // Called from the HTTP thread.
  std::optional<std::string> RequestMetrics(RelayInstance* relay);

  ServerOptions options_;
  SystemClock clock_;
  PacketPool pool_;

  uv_loop_t loop_;
  UvHandle<uv_signal_t> sigterm_, sigint_, sighup_;
  // Sends WATCHDOG=1 from the loop, when the service manager watches.
  UvHandle<uv_timer_t> watchdog_;
  // Repeats options_.warning.
  UvHandle<uv_timer_t> warning_;
  absl::flat_hash_set<RelayInstance*> assigned_;
  bool ready_ = false;
  bool loop_ready_ = false;
  std::unique_ptr<Dispatcher> dispatcher_;
  // Cleared in ~RelayServer while the loop can still close their handles.
  std::vector<std::unique_ptr<RelayInstance>> relays_;
  // Written before the HTTP thread starts, then only read by it.
  absl::flat_hash_map<std::string, RelayInstance*> relay_by_id_;

  uint64_t reloads_ = 0;
  uint64_t reload_failures_ = 0;

  // The edge's DTLS certificate, made at start-up (its fingerprint is in
  // every answer), and its HTTP(S) listener.
  std::unique_ptr<dtls::Certificate> edge_certificate_;
  std::unique_ptr<EdgeHttpServer> edge_http_;

  std::unique_ptr<httplib::Server> http_;
  std::thread http_thread_;
  int metrics_port_ = 0;
};

}  // namespace cascade::relay

#endif  // CASCADE_RELAY_SERVER_H_
