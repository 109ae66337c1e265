// The browser edge's HTTP(S) listener: WHEP on /whep/... (answered on the
// relay's loop through the dispatcher, so the edge's state stays on one
// thread) and the pages a site opens (/watch, /publish). cpp-httplib runs
// it in threads of its own; HTTPS when a certificate is given.
#ifndef CASCADE_RELAY_EDGE_HTTP_H_
#define CASCADE_RELAY_EDGE_HTTP_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "media/endpoint.h"
#include "relay/dispatcher.h"
#include "webrtc/edge/whep_handler.h"

namespace httplib {
class Server;
}

namespace cascade::relay {

struct EdgeHttpOptions {
  media::Endpoint listen;  // port 0: the kernel chooses
  // PEM files for HTTPS; both empty: plain HTTP.
  std::string tls_cert_file;
  std::string tls_key_file;
  // A WHEP request the loop has not taken by then gets 503 and is dropped
  // unrun. Long: a loop busy forwarding to hundreds of viewers, on cores
  // it shares, still takes a burst of POSTs, only late.
  absl::Duration loop_timeout = absl::Seconds(10);
  // WHEP requests waiting for the loop at once; one more gets 503 at once.
  // The server runs this many threads, and a few more for the pages.
  int max_waiting = 64;
  // Connections the kernel holds until a thread accepts them: a district's
  // sites posting at once (cpp-httplib's own is 5; SYNs past it are dropped
  // and retried a second or more later).
  int listen_backlog = 1024;
  size_t max_body_bytes = 64 * 1024;
};

class EdgeHttpServer {
 public:
  // Runs on the loop for each WHEP request, with the client's address.
  using Handler = std::function<edge::HttpResponse(const edge::HttpRequest&,
                                                   const std::string& client)>;

  // Binds and starts serving. `dispatcher` must outlive the server.
  static absl::StatusOr<std::unique_ptr<EdgeHttpServer>> Start(
      const EdgeHttpOptions& options, Dispatcher* dispatcher, Handler handle);
  // Stops accepting and joins the threads.
  ~EdgeHttpServer();
  EdgeHttpServer(const EdgeHttpServer&) = delete;
  EdgeHttpServer& operator=(const EdgeHttpServer&) = delete;

  int port() const { return port_; }
  bool tls() const { return tls_; }

 private:
  EdgeHttpServer() = default;

  std::unique_ptr<httplib::Server> http_;
  // The listening socket, once bound (for its backlog).
  int listen_fd_ = -1;
  std::thread thread_;
  int port_ = 0;
  bool tls_ = false;
};

}  // namespace cascade::relay

#endif  // CASCADE_RELAY_EDGE_HTTP_H_
