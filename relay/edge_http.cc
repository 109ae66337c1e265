#include "relay/edge_http.h"

#include <httplib.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
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

  auto shared_handle = std::make_shared<Handler>(std::move(handle));
  const absl::Duration timeout = options.loop_timeout;
  auto whep = [dispatcher, shared_handle, timeout](const httplib::Request& req,
                                                   httplib::Response& res) {
    SetCommonHeaders(res);
    // A late answer may still be computed after the timeout: the work owns
    // what it touches.
    auto request = std::make_shared<edge::HttpRequest>(ToEdgeRequest(req));
    auto response = std::make_shared<edge::HttpResponse>();
    if (!dispatcher->PostAndWait(
            [shared_handle, request, response, client = req.remote_addr] {
              *response = (*shared_handle)(*request, client);
            },
            timeout)) {
      res.status = 503;
      res.set_header("Retry-After", "1");
      res.set_header("Access-Control-Allow-Origin", "*");
      res.set_content("relay busy\n", "text/plain; charset=utf-8");
      return;
    }
    WriteResponse(*response, res);
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
