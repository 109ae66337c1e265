// relayd's event loop: one libuv loop owning the UDP socket (watched with
// uv_poll so it can use recvmmsg/sendmmsg), the forwarding core, a tick timer,
// signals (SIGTERM/SIGINT drain, SIGHUP reload) and the metrics endpoint,
// which runs an HTTP server in its own thread and asks the loop for a
// snapshot through uv_async (RunOnLoop): the core is touched by the loop
// thread only. The controller link (controller_link.h) uses the same path.
#ifndef CASCADE_RELAY_SERVER_H_
#define CASCADE_RELAY_SERVER_H_

#include <uv.h>

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "relay/endpoint.h"
#include "relay/packet_pool.h"
#include "relay/relay_core.h"
#include "relay/relay_options.h"
#include "relay/udp_socket.h"

namespace httplib {
class Server;
}

namespace cascade::relay {

struct ServerOptions {
  RelayOptions relay;
  // Prometheus text on http://metrics/metrics; none when unset.
  std::optional<Endpoint> metrics;
  // Written once bound: "udp=PORT\nmetrics=PORT\n", so a caller that asked
  // for port 0 learns the kernel's choice.
  std::string port_file;
  // SIGHUP calls this for new settings (e.g. re-reading the config file);
  // none: SIGHUP is logged and ignored.
  std::function<absl::StatusOr<RelayOptions>()> reload;
  size_t pool_slots = 1 << 17;
};

class RelayServer {
 public:
  static absl::StatusOr<std::unique_ptr<RelayServer>> Create(
      ServerOptions options);
  ~RelayServer();
  RelayServer(const RelayServer&) = delete;
  RelayServer& operator=(const RelayServer&) = delete;

  // Runs until SIGTERM or SIGINT; then says goodbye to the children.
  void Run();
  // Applies new settings; loop thread only (SIGHUP and RunOnLoop work).
  void Apply(const RelayOptions& options);
  // From any thread but the loop's: runs `work` on the loop thread and
  // waits for it; false when the loop did not run it within `timeout` or is
  // stopping. `work` may still run after a timeout, so it must own what it
  // touches (capture by value or shared_ptr). Before Run() the work waits
  // for the loop to start.
  bool RunOnLoop(std::function<void()> work, absl::Duration timeout);
  // The forwarding core; loop thread only.
  const RelayCore& core() const { return *core_; }

  const Endpoint& local() const { return socket_->local(); }
  int metrics_port() const { return metrics_port_; }

 private:
  explicit RelayServer(ServerOptions options);
  absl::Status Start();
  void OnReadable();
  // Everything waiting in the socket, up to kMaxBatchesPerWakeup batches.
  void ReadAll();
  void OnTick();
  // Arms the tick timer for the core's NextTick().
  void ScheduleTick();
  void OnSignal(int signum);
  void ServeLoopRequests();
  std::string RenderMetrics();
  // Called from the HTTP thread.
  std::optional<std::string> RequestMetrics();

  ServerOptions options_;
  SystemClock clock_;
  PacketPool pool_;
  std::unique_ptr<UdpSocket> socket_;
  std::unique_ptr<RelayCore> core_;
  std::vector<UdpSocket::Received> batch_;

  uv_loop_t loop_;
  uv_poll_t poll_;
  uv_timer_t timer_;
  uv_signal_t sigterm_, sigint_, sighup_;
  uv_async_t loop_async_;
  bool loop_ready_ = false;

  // Loop lag: how late the tick timer fires.
  absl::Time expected_tick_ = absl::InfiniteFuture();
  absl::Duration lag_last_;
  absl::Duration lag_max_;
  uint64_t reloads_ = 0;
  uint64_t reload_failures_ = 0;

  std::unique_ptr<httplib::Server> http_;
  std::thread http_thread_;
  int metrics_port_ = 0;

  // Work from other threads (metrics, controller), run on the loop thread.
  struct LoopRequest {
    std::function<void()> work;
    bool done = false;
  };
  std::mutex loop_mu_;
  std::condition_variable loop_cv_;
  std::vector<std::shared_ptr<LoopRequest>> loop_pending_;
  bool stopping_ = false;  // guarded by loop_mu_
};

}  // namespace cascade::relay

#endif  // CASCADE_RELAY_SERVER_H_
