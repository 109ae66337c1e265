#include "tools/sim/browser_bridge.h"

#include <glog/logging.h>
#include <pthread.h>
#include <signal.h>

#include "absl/strings/str_cat.h"
#include "tools/impair/socket_address.h"

namespace cascade::sim {
namespace {

// The machine's loopback: browsers treat http://127.0.0.1 as a secure
// context, and no network outside the machine reaches it.
constexpr char kOutside[] = "127.0.0.1:0";
// A few browser tabs at most: HTTP connections at once, and browser
// addresses (UDP peers) per edge.
constexpr int kMaxConnections = 64;
constexpr int kMaxPeers = 16;

absl::StatusOr<SocketAddress> Parse(const std::string& address) {
  absl::StatusOr<SocketAddress> parsed = SocketAddress::Parse(address);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("browser bridge: ", parsed.status().message()));
  }
  return parsed;
}

}  // namespace

BrowserBridge::BrowserBridge() { CHECK_EQ(uv_loop_init(&loop_), 0); }

absl::StatusOr<std::unique_ptr<BrowserBridge>> BrowserBridge::Open(
    const std::vector<Addresses>& targets) {
  std::unique_ptr<BrowserBridge> bridge(new BrowserBridge());
  const absl::StatusOr<SocketAddress> outside = Parse(kOutside);
  if (!outside.ok()) return outside.status();
  for (const Addresses& target : targets) {
    absl::StatusOr<SocketAddress> http = Parse(target.http);
    if (!http.ok()) return http.status();
    absl::StatusOr<SocketAddress> media = Parse(target.media);
    if (!media.ok()) return media.status();
    TcpDelayOptions tcp;
    tcp.listen = *outside;
    tcp.target = *http;
    tcp.max_connections = kMaxConnections;
    absl::StatusOr<std::unique_ptr<TcpDelayProxy>> http_proxy =
        TcpDelayProxy::Create(&bridge->loop_, tcp);
    if (!http_proxy.ok()) return http_proxy.status();
    ImpairProxyOptions udp;
    udp.listen = *outside;
    udp.forward = *media;
    udp.max_clients = kMaxPeers;
    absl::StatusOr<std::unique_ptr<UdpImpairProxy>> media_proxy =
        UdpImpairProxy::Create(&bridge->loop_, udp);
    if (!media_proxy.ok()) return media_proxy.status();
    bridge->ends_.push_back({(*http_proxy)->listen_address().ToString(),
                             (*media_proxy)->listen_address().ToString()});
    bridge->http_.push_back(*std::move(http_proxy));
    bridge->media_.push_back(*std::move(media_proxy));
  }
  bridge->stop_ = UvHandle<uv_async_t>::Make();
  CHECK_EQ(uv_async_init(&bridge->loop_, bridge->stop_.get(),
                         [](uv_async_t* async) {
                           auto* self =
                               static_cast<BrowserBridge*>(async->data);
                           // Every handle closes: the loop then ends.
                           self->http_.clear();
                           self->media_.clear();
                           self->stop_.Reset();
                         }),
           0);
  bridge->stop_.get()->data = bridge.get();
  return bridge;
}

BrowserBridge::~BrowserBridge() {
  if (thread_.joinable()) {
    uv_async_send(stop_.get());
    thread_.join();
  } else {
    // Never started: the handles are this thread's to close.
    http_.clear();
    media_.clear();
    stop_.Reset();
    uv_run(&loop_, UV_RUN_DEFAULT);
  }
  uv_loop_close(&loop_);
}

void BrowserBridge::Start() {
  CHECK(!thread_.joinable()) << "the browser bridge started twice";
  // relay-sim's signal handlers run on its main thread, never here.
  sigset_t all;
  sigset_t previous;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &previous);
  thread_ = std::thread([this] { uv_run(&loop_, UV_RUN_DEFAULT); });
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

}  // namespace cascade::sim
