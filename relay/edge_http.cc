#include "relay/edge_http.h"

#include <httplib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "webrtc/edge/pages/pages.h"

namespace cascade::relay {
namespace {

edge::HttpRequest ToEdgeRequest(const httplib::Request& req) {
  edge::HttpRequest request;
  request.method = req.method;
  request.path = req.path;
  request.body = req.body;
  for (const auto& [name, value] : req.headers) {
    request.headers.push_back({name, value});
  }
  return request;
}

void WriteResponse(const edge::HttpResponse& response, httplib::Response& res) {
  res.status = response.status;
  std::string content_type = "text/plain; charset=utf-8";
  for (const edge::HttpHeader& h : response.headers) {
    if (absl::EqualsIgnoreCase(h.name, "Content-Type")) {
      content_type = h.value;
    } else {
      res.set_header(h.name, h.value);
    }
  }
  if (!response.body.empty()) res.set_content(response.body, content_type);
}

// What every answer carries: nothing is cached, sniffed or framed, and no
// page's address (with its token) is passed on.
void SetCommonHeaders(httplib::Response& res) {
  res.set_header("Cache-Control", "no-store");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_header("X-Frame-Options", "DENY");
}

void Busy(httplib::Response& res, absl::string_view why) {
  res.status = 503;
  res.set_header("Retry-After", "1");
  res.set_header("Access-Control-Allow-Origin", "*");
  res.set_content(absl::StrCat("relay busy: ", why, "\n"),
                  "text/plain; charset=utf-8");
}

// One WHEP request handed to the loop. The loop either starts it (and then
// finishes it), or the waiting thread abandons it after the timeout (and
// the loop then skips it: no session nobody was told of), or the dispatcher
// closes and destroys it unrun.
struct Exchange {
  absl::Mutex mu;
  bool started ABSL_GUARDED_BY(mu) = false;
  bool finished ABSL_GUARDED_BY(mu) = false;
  bool abandoned ABSL_GUARDED_BY(mu) = false;
  bool dropped ABSL_GUARDED_BY(mu) = false;
  bool left_queue ABSL_GUARDED_BY(mu) = false;  // started or dropped
  edge::HttpResponse response ABSL_GUARDED_BY(mu);
};

// Held by the posted work only: destroyed unrun, it tells the waiter.
class DropNotice {
 public:
  explicit DropNotice(std::shared_ptr<Exchange> exchange)
      : exchange_(std::move(exchange)) {}
  ~DropNotice() {
    absl::MutexLock lock(&exchange_->mu);
    if (!exchange_->started) exchange_->dropped = exchange_->left_queue = true;
  }

 private:
  std::shared_ptr<Exchange> exchange_;
};

// Runs `handle` for `request` on the loop; false when the loop did not take
// it within `timeout` (or closed).
bool RunOnLoop(Dispatcher* dispatcher,
               std::shared_ptr<EdgeHttpServer::Handler> handle,
               std::shared_ptr<const edge::HttpRequest> request,
               std::string client, absl::Duration timeout,
               edge::HttpResponse* response) {
  auto exchange = std::make_shared<Exchange>();
  auto notice = std::make_shared<DropNotice>(exchange);
  const bool posted = dispatcher->Post(
      [handle, request, exchange, notice, client = std::move(client)] {
        {
          absl::MutexLock lock(&exchange->mu);
          if (exchange->abandoned) return;
          exchange->started = exchange->left_queue = true;
        }
        edge::HttpResponse answer = (*handle)(*request, client);
        absl::MutexLock lock(&exchange->mu);
        exchange->response = std::move(answer);
        exchange->finished = true;
      });
  notice.reset();  // only the posted work holds it now
  if (!posted) return false;
  absl::MutexLock lock(&exchange->mu);
  exchange->mu.AwaitWithTimeout(absl::Condition(&exchange->left_queue),
                                timeout);
  if (!exchange->left_queue) {
    exchange->abandoned = true;
    return false;
  }
  if (exchange->dropped) return false;
  // Started: the loop finishes what it began.
  exchange->mu.Await(absl::Condition(&exchange->finished));
  *response = std::move(exchange->response);
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<EdgeHttpServer>> EdgeHttpServer::Start(
    const EdgeHttpOptions& options, Dispatcher* dispatcher, Handler handle) {
  std::unique_ptr<EdgeHttpServer> server(new EdgeHttpServer());
  const bool tls = !options.tls_cert_file.empty();
  if (tls != !options.tls_key_file.empty()) {
    return absl::InvalidArgumentError(
        "edge: HTTPS needs both a certificate and its key");
  }
  if (tls) {
    for (const std::string& file :
         {options.tls_cert_file, options.tls_key_file}) {
      if (access(file.c_str(), R_OK) != 0) {
        return absl::NotFoundError(absl::StrCat("edge: cannot read ", file));
      }
    }
    auto https = std::make_unique<httplib::SSLServer>(
        options.tls_cert_file.c_str(), options.tls_key_file.c_str());
    if (!https->is_valid()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "edge: ", options.tls_cert_file, " and ", options.tls_key_file,
          " are not a PEM certificate and its private key"));
    }
    server->http_ = std::move(https);
  } else {
    server->http_ = std::make_unique<httplib::Server>();
  }
  server->tls_ = tls;
  httplib::Server& http = *server->http_;
  // Larger bodies get 413 before any of them is read into memory.
  http.set_payload_max_length(options.max_body_bytes);
  // Answers are one small write each: never held back for an ACK.
  http.set_tcp_nodelay(true);
  http.set_read_timeout(5, 0);
  http.set_write_timeout(5, 0);

  // Threads for every request that may wait for the loop, and a few more
  // for the pages and for telling the rest that the relay is busy.
  const int max_waiting = std::max(1, options.max_waiting);
  http.new_task_queue = [max_waiting] {
    return new httplib::ThreadPool(static_cast<size_t>(max_waiting) + 8);
  };
  // The listening socket, for its backlog once bound.
  http.set_socket_options([s = server.get()](socket_t sock) {
    httplib::default_socket_options(sock);
    s->listen_fd_ = sock;
  });

  auto shared_handle = std::make_shared<Handler>(std::move(handle));
  auto waiting = std::make_shared<std::atomic<int>>(0);
  const absl::Duration timeout = options.loop_timeout;
  auto whep = [dispatcher, shared_handle, waiting, max_waiting, timeout](
                  const httplib::Request& req, httplib::Response& res) {
    SetCommonHeaders(res);
    if (waiting->fetch_add(1) >= max_waiting) {
      waiting->fetch_sub(1);
      Busy(res, "too many requests wait for it");
      return;
    }
    edge::HttpResponse response;
    const bool answered =
        RunOnLoop(dispatcher, shared_handle,
                  std::make_shared<const edge::HttpRequest>(ToEdgeRequest(req)),
                  req.remote_addr, timeout, &response);
    waiting->fetch_sub(1);
    if (!answered) {
      Busy(res,
           absl::StrCat("not answered within ", absl::FormatDuration(timeout)));
      return;
    }
    WriteResponse(response, res);
  };
  // WHEP (watch) and WHIP (publish): the handler tells them apart.
  const char* kResources = R"(/(whep|whip)/.*)";
  http.Post(kResources, whep);
  http.Delete(kResources, whep);
  http.Options(kResources, whep);
  http.Put(kResources, whep);
  http.Patch(kResources, whep);
  http.Get(kResources, whep);

  // The pages are compiled in: served from this thread, no loop needed.
  http.Get(R"(/[a-z]+(\.[a-z]+)?)", [](const httplib::Request& req,
                                       httplib::Response& res) {
    SetCommonHeaders(res);
    const edge::Page* page = edge::FindPage(req.path);
    if (page == nullptr) {
      res.status = 404;
      res.set_content("no such page\n", "text/plain; charset=utf-8");
      return;
    }
    // No script, style or media from elsewhere; connections also to other
    // relays' HTTPS edges (the center's program feed to each national relay).
    res.set_header("Content-Security-Policy",
                   "default-src 'self'; connect-src 'self' https:; "
                   "media-src 'self' blob:; img-src 'self' data:; "
                   "frame-ancestors 'none'");
    res.set_content(std::string(page->body), std::string(page->content_type));
  });

  const std::string host = options.listen.IpString();
  if (options.listen.port == 0) {
    server->port_ = http.bind_to_any_port(host);
  } else if (http.bind_to_port(host, options.listen.port)) {
    server->port_ = options.listen.port;
  }
  if (server->port_ <= 0) {
    return absl::UnavailableError(
        absl::StrCat("edge: cannot bind ", options.listen.ToString()));
  }
  // Listening again only sets the backlog (Linux).
  if (server->listen_fd_ < 0 ||
      ::listen(server->listen_fd_, options.listen_backlog) != 0) {
    return absl::InternalError(absl::StrCat(
        "edge: cannot set the listen backlog of ", options.listen.ToString(),
        " to ", options.listen_backlog));
  }
  server->thread_ =
      std::thread([s = server.get()] { s->http_->listen_after_bind(); });
  return server;
}

EdgeHttpServer::~EdgeHttpServer() {
  // stop() does nothing to a server not yet listening, which would then
  // listen on: let the thread get there first (bounded).
  for (int i = 0; i < 1000 && !http_->is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  http_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace cascade::relay
