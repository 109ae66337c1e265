// The way in for a browser on the machine. relay-sim's relays live in a
// private network namespace (private_network.h) that nothing outside it
// reaches, so the bridge binds its listening ends on the machine's own
// 127.0.0.1 before relay-sim leaves the machine's namespace, and forwards
// what arrives there on a thread started inside the private one, where its
// connections to the relays are made. Per browser edge: the HTTP (pages and
// WHEP) through a TCP proxy without delay (tools/impair/tcp_delay), the
// WebRTC media through a UDP proxy without impairment (tools/impair), which
// gives each browser address a socket of its own inside: a peer of its own
// for the relay's ICE.
#ifndef CASCADE_TOOLS_SIM_BROWSER_BRIDGE_H_
#define CASCADE_TOOLS_SIM_BROWSER_BRIDGE_H_

#include <uv.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "base/uv_handle.h"
#include "tools/impair/tcp_delay/tcp_delay_proxy.h"
#include "tools/impair/udp_impair_proxy.h"

namespace cascade::sim {

class BrowserBridge {
 public:
  // An edge's two "IP:PORT" addresses: its HTTP listener and its UDP
  // socket.
  struct Addresses {
    std::string http;
    std::string media;
  };

  // Binds a TCP listener and a UDP socket on 127.0.0.1 (ports the kernel
  // chooses) per target, in the namespace the caller is in; forwards
  // nothing before Start.
  static absl::StatusOr<std::unique_ptr<BrowserBridge>> Open(
      const std::vector<Addresses>& targets);
  // Stops forwarding and closes every socket.
  ~BrowserBridge();
  BrowserBridge(const BrowserBridge&) = delete;
  BrowserBridge& operator=(const BrowserBridge&) = delete;

  // Where a browser reaches each target, in the targets' order.
  const std::vector<Addresses>& ends() const { return ends_; }

  // Forwards from now on, on a thread of its own that every signal leaves
  // to the others; its connections to the targets are made in the namespace
  // the caller is in now. Once only.
  void Start();

 private:
  BrowserBridge();

  uv_loop_t loop_;
  UvHandle<uv_async_t> stop_;
  std::vector<std::unique_ptr<TcpDelayProxy>> http_;
  std::vector<std::unique_ptr<UdpImpairProxy>> media_;
  std::vector<Addresses> ends_;
  std::thread thread_;
};

}  // namespace cascade::sim

#endif  // CASCADE_TOOLS_SIM_BROWSER_BRIDGE_H_
