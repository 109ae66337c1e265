#include "console/server.h"

#include <arpa/inet.h>
#include <glog/logging.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <httplib.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <atomic>
#include <optional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "console/pages.h"
#include "topology/metrics_server.h"

namespace cascade::console {
namespace {

// Metadata the Admin gate reads from in-process calls only
// (topology/admin_gate.h): the browser's address, for the audit, and the
// client certificate its TLS handshake verified.
constexpr char kConsolePeer[] = "cascade-console-peer";
constexpr char kConsoleCertificate[] = "cascade-console-certificate-bin";
constexpr absl::Duration kCallTimeout = absl::Seconds(10);
// A stream without news still writes this often, so a dead connection is
// noticed and proxies keep it open.
constexpr absl::Duration kHeartbeat = absl::Seconds(10);
// Audited Admin calls a new stream starts with.
constexpr uint32_t kEventHistory = 50;
// How often an open stream's credential is checked again.
constexpr absl::Duration kRecheck = absl::Seconds(10);
// How long an answer about the group (an etcd read) is reused: the
// leader route has no credential to limit its callers by.
constexpr absl::Duration kGroupProbe = absl::Seconds(1);
// A watch link's lifetime: the page mints a new one when it expires.
constexpr absl::Duration kWatchTtl = absl::Hours(1);
// Nothing from elsewhere, but the page's WHEP requests go to the national
// relay's edge, which is HTTPS only (relayd refuses plain HTTP beyond
// loopback, and edge URLs are https://), and it asks the other consoles of
// its group who leads (the page adds their plain HTTP origins, loopback
// only).
constexpr char kPolicy[] = "default-src 'self'; connect-src 'self' https:";

bool IsLoopback(const std::string& host) {
  in_addr v4;
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  return host == "::1";
}

// A request's credential and address, as the Admin gate reads them.
struct Credentials {
  std::string authorization;
  std::string peer;
  // PEM of the client certificate the handshake verified (SSL_VERIFY_PEER
  // against the client CA); empty: none.
  std::string certificate;
};

Credentials CredentialsOf(const httplib::Request& req) {
  Credentials credentials;
  credentials.authorization = req.get_header_value("Authorization");
  credentials.peer = absl::StrCat(req.remote_addr, ":", req.remote_port);
  X509* certificate =
      req.ssl == nullptr ? nullptr : SSL_get_peer_certificate(req.ssl);
  if (certificate != nullptr) {
    BIO* pem = BIO_new(BIO_s_mem());
    if (pem != nullptr && PEM_write_bio_X509(pem, certificate) == 1) {
      char* data = nullptr;
      const long size = BIO_get_mem_data(pem, &data);
      credentials.certificate.assign(data, static_cast<size_t>(size));
    }
    BIO_free(pem);
    X509_free(certificate);
  }
  return credentials;
}

void Authorize(const Credentials& credentials, grpc::ClientContext* context) {
  if (!credentials.authorization.empty()) {
    context->AddMetadata("authorization", credentials.authorization);
  }
  context->AddMetadata(kConsolePeer, credentials.peer);
  if (!credentials.certificate.empty()) {
    context->AddMetadata(kConsoleCertificate, credentials.certificate);
  }
  context->set_deadline(absl::ToChronoTime(absl::Now() + kCallTimeout));
}

void Authorize(const httplib::Request& req, grpc::ClientContext* context) {
  Authorize(CredentialsOf(req), context);
}

int HttpStatus(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return 200;
    case grpc::StatusCode::UNAUTHENTICATED:
      return 401;
    case grpc::StatusCode::PERMISSION_DENIED:
      return 403;
    case grpc::StatusCode::NOT_FOUND:
      return 404;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::FAILED_PRECONDITION:
      return 409;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return 429;
    case grpc::StatusCode::UNAVAILABLE:
      return 503;
    default:
      return 500;
  }
}

// A refused call: its status and message, nothing else.
void Refuse(const grpc::Status& status, httplib::Response& res) {
  res.status = HttpStatus(status.error_code());
  if (res.status == 401) res.set_header("WWW-Authenticate", "Bearer");
  res.set_content(status.error_message() + "\n", "text/plain; charset=utf-8");
}

void SendJson(const google::protobuf::Message& message,
              httplib::Response& res) {
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(message, &json);
  res.set_content(json, "application/json");
}

// TLS 1.2 or newer with the server's certificate; with a client CA, a
// certificate is asked for and verified but not required (a browser without
// one shows a token).
bool SetUpTls(const ConsoleOptions& options, SSL_CTX* ctx) {
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
      SSL_CTX_use_certificate_chain_file(ctx, options.tls_cert.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, options.tls_key.c_str(),
                                  SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    return false;
  }
  if (options.tls_client_ca.empty()) return true;
  if (SSL_CTX_load_verify_locations(ctx, options.tls_client_ca.c_str(),
                                    nullptr) != 1) {
    return false;
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  // A session resumed without it fails once peers are verified (a
  // browser's second connection).
  static constexpr unsigned char kSessionContext[] = "cascade-console";
  return SSL_CTX_set_session_id_context(ctx, kSessionContext,
                                        sizeof(kSessionContext) - 1) == 1;
}

}  // namespace

absl::StatusOr<ConsoleOptions> ParseConsoleListen(absl::string_view text,
                                                  bool tls) {
  absl::StatusOr<topology::MetricsListen> listen =
      topology::ParseMetricsListen(text);
  if (!listen.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--console must be IP:PORT ([IPv6]:PORT), not \"", text, "\""));
  }
  if (!tls && !IsLoopback(listen->host)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--console=", text,
        ": refusing to serve operators' tokens in plaintext beyond this "
        "machine: give --tls-cert/--tls-key, or a loopback address"));
  }
  ConsoleOptions options;
  options.host = listen->host;
  options.port = listen->port;
  return options;
}

// One open stream: its share of the hub, and its own Admin Events call
// (read on a thread of its own) whose events it forwards.
class ConsoleServer::Stream {
 public:
  Stream(Hub* hub, cascade::v1::Admin::Stub* admin, const httplib::Request& req,
         std::atomic<int>* streams)
      : admin_(admin),
        credentials_(CredentialsOf(req)),
        subscription_(hub->Subscribe()),
        streams_(streams),
        next_check_(absl::Now() + kRecheck) {
    Authorize(credentials_, &context_);
    // The Events call lives as long as the stream.
    context_.set_deadline(std::chrono::system_clock::time_point::max());
    reader_ = std::thread([this] { Read(); });
  }
  ~Stream() {
    context_.TryCancel();
    reader_.join();
    streams_->fetch_sub(1);
  }

  // Writes what came within a heartbeat; false once the page is gone. Ends
  // the response when the Events call ended (a shutdown, or this
  // controller stopped leading): the page reconnects.
  bool Write(httplib::DataSink& sink) {
    std::vector<StreamMessage> messages;
    if (!subscription_->Next(kHeartbeat, &messages)) return false;
    std::string out;
    for (const StreamMessage& message : messages) {
      absl::StrAppend(&out, "event: ", message.type, "\ndata: ", *message.data,
                      "\n\n");
    }
    if (out.empty()) out = ": ping\n\n";
    if (!sink.write(out.data(), out.size())) return false;
    if (ended_.load() || !StillAdmitted()) sink.done();
    return true;
  }

 private:
  // Every kRecheck, whether the caller may still look (a viewer's
  // GetStats, through the gate): a revoked or expired token ends the
  // stream, and the page asks for a new one.
  bool StillAdmitted() {
    const absl::Time now = absl::Now();
    if (now < next_check_) return true;
    next_check_ = now + kRecheck;
    grpc::ClientContext context;
    Authorize(credentials_, &context);
    cascade::v1::StatsResponse stats;
    const grpc::Status status =
        admin_->GetStats(&context, cascade::v1::StatsRequest(), &stats);
    if (!status.ok()) {
      LOG(INFO) << "console: a stream of " << credentials_.peer
                << " ends: " << status.error_message();
    }
    return status.ok();
  }

  void Read() {
    cascade::v1::EventsRequest request;
    request.set_history(kEventHistory);
    std::unique_ptr<grpc::ClientReader<cascade::v1::Event>> reader =
        admin_->Events(&context_, request);
    cascade::v1::Event event;
    while (reader->Read(&event)) subscription_->PushEvent(event);
    const grpc::Status status = reader->Finish();
    if (status.error_code() != grpc::StatusCode::CANCELLED) {
      LOG(INFO) << "console: an event stream ended: " << status.error_message();
    }
    ended_.store(true);
  }

  cascade::v1::Admin::Stub* const admin_;
  const Credentials credentials_;
  std::unique_ptr<Hub::Subscription> subscription_;
  std::atomic<int>* const streams_;
  absl::Time next_check_;
  grpc::ClientContext context_;
  std::atomic<bool> ended_{false};
  std::thread reader_;
};

ConsoleServer::ConsoleServer(std::shared_ptr<grpc::Channel> admin,
                             Hub::Snapshot snapshot, ConsoleOptions options)
    : options_(std::move(options)),
      admin_(cascade::v1::Admin::NewStub(std::move(admin))),
      hub_(std::move(snapshot), options_.interval) {}

ConsoleServer::~ConsoleServer() {
  hub_.Stop();
  if (http_ != nullptr) http_->stop();
  if (thread_.joinable()) thread_.join();
}

std::string ConsoleServer::PortFileLine() const {
  return port_ > 0 ? absl::StrCat("console=", port_, "\n") : "";
}

void ConsoleServer::SetUrl(std::string url) {
  if (url.empty()) return;
  absl::MutexLock lock(&group_mu_);
  url_ = std::move(url);
  group_at_ = absl::InfinitePast();
}

std::string ConsoleServer::Url() const {
  absl::MutexLock lock(&group_mu_);
  return url_;
}

void ConsoleServer::SetGroup(GroupProbe probe) {
  absl::MutexLock lock(&group_mu_);
  group_probe_ = std::move(probe);
  group_at_ = absl::InfinitePast();
}

Group ConsoleServer::CurrentGroup() {
  GroupProbe probe;
  {
    absl::MutexLock lock(&group_mu_);
    if (absl::Now() - group_at_ < kGroupProbe) return group_;
    if (group_probe_ == nullptr) {
      group_ = Group{true, url_, {url_}};
      group_at_ = absl::InfiniteFuture();
      return group_;
    }
    probe = group_probe_;
  }
  // Outside the lock: an etcd read.
  Group group = probe();
  absl::MutexLock lock(&group_mu_);
  group_ = group;
  group_at_ = absl::Now();
  return group;
}

void ConsoleServer::ServeLeader(httplib::Response& res) {
  const Group group = CurrentGroup();
  google::protobuf::Struct answer;
  auto& fields = *answer.mutable_fields();
  fields["leading"].set_bool_value(group.leading);
  fields["leader"].set_string_value(group.leader);
  auto* consoles = fields["consoles"].mutable_list_value();
  for (const std::string& url : group.consoles) {
    consoles->add_values()->set_string_value(url);
  }
  res.set_header("Access-Control-Allow-Origin", "*");
  res.set_header("Cache-Control", "no-store");
  SendJson(answer, res);
}

void ConsoleServer::ServePage(const httplib::Request& req,
                              httplib::Response& res) {
  const Page* page = FindPage(req.path);
  if (page == nullptr) {
    res.status = 404;
    return;
  }
  if (page->content_type.find("text/html") != absl::string_view::npos) {
    // The page may ask its group's consoles who leads: plain HTTP ones
    // (loopback only) are named, HTTPS ones are allowed already.
    std::string policy = kPolicy;
    const std::string self = OriginOf(Url());
    for (const std::string& url : CurrentGroup().consoles) {
      if (absl::StartsWith(url, "http://") && OriginOf(url) != self) {
        absl::StrAppend(&policy, " ", OriginOf(url));
      }
    }
    res.headers.erase("Content-Security-Policy");
    res.set_header("Content-Security-Policy", policy);
  }
  res.set_content(std::string(page->body), std::string(page->content_type));
}

void ConsoleServer::ServeStream(const httplib::Request& req,
                                httplib::Response& res) {
  grpc::ClientContext context;
  Authorize(req, &context);
  cascade::v1::GetTopologyResponse topology;
  const grpc::Status status = admin_->GetTopology(
      &context, cascade::v1::GetTopologyRequest(), &topology);
  if (!status.ok()) return Refuse(status, res);
  if (streams_.fetch_add(1) >= options_.max_streams) {
    streams_.fetch_sub(1);
    res.status = 503;
    res.set_content("too many console streams open\n", "text/plain");
    return;
  }
  // The caller's own snapshot is a tick: its stream starts from it.
  hub_.Apply(topology, absl::Now());
  auto stream = std::make_shared<Stream>(&hub_, admin_.get(), req, &streams_);
  res.set_header("Cache-Control", "no-store");
  res.set_chunked_content_provider(
      "text/event-stream",
      [stream](size_t, httplib::DataSink& sink) { return stream->Write(sink); },
      [stream](bool) {});
}

void ConsoleServer::ServeAction(const httplib::Request& req,
                                httplib::Response& res) {
  const std::string action = req.matches[1];
  const std::string node = req.get_param_value("node");
  const std::string parent = req.get_param_value("parent");
  // A watch link without a node is the program's.
  if ((node.empty() && action != "watch") ||
      (action == "move" && parent.empty())) {
    res.status = 400;
    res.set_content(action == "move" ? "?node=ID&parent=ID are required\n"
                                     : "?node=ID is required\n",
                    "text/plain");
    return;
  }
  grpc::ClientContext context;
  Authorize(req, &context);
  cascade::v1::ChangeResponse response;
  grpc::Status status;
  if (action == "watch") {
    // The command center's WHEP link to the site's upstream stream (or,
    // with no node, the program) at the national relay, as `relayctl url
    // --center [SITE]` (audited there).
    cascade::v1::MintEdgeTokenRequest request;
    request.set_node(node);
    request.set_center(true);
    request.set_ttl_ms(absl::ToInt64Milliseconds(kWatchTtl));
    cascade::v1::MintEdgeTokenResponse minted;
    status = admin_->MintEdgeToken(&context, request, &minted);
    if (!status.ok()) return Refuse(status, res);
    res.set_header("Cache-Control", "no-store");
    return SendJson(minted, res);
  }
  if (action == "drain") {
    cascade::v1::DrainNodeRequest request;
    request.set_id(node);
    status = admin_->DrainNode(&context, request, &response);
  } else if (action == "restore") {
    cascade::v1::RestoreRequest request;
    request.set_id(node);
    status = admin_->Restore(&context, request, &response);
  } else if (action == "failover") {
    cascade::v1::FailoverRequest request;
    request.set_id(node);
    status = admin_->Failover(&context, request, &response);
  } else if (action == "move") {
    cascade::v1::MoveNodeRequest request;
    request.set_id(node);
    request.set_new_parent(parent);
    status = admin_->MoveNode(&context, request, &response);
  } else {
    cascade::v1::UpstreamRequest request;
    request.set_site(node);
    status = action == "select"
                 ? admin_->SelectUpstream(&context, request, &response)
                 : admin_->ReleaseUpstream(&context, request, &response);
  }
  if (!status.ok()) return Refuse(status, res);
  SendJson(response, res);
}

void ConsoleServer::Route() {
  http_->set_default_headers({{"Content-Security-Policy", kPolicy},
                              {"X-Content-Type-Options", "nosniff"},
                              {"Referrer-Policy", "no-referrer"}});
  http_->Get("/console/api/tree",
             [this](const httplib::Request& req, httplib::Response& res) {
               grpc::ClientContext context;
               Authorize(req, &context);
               cascade::v1::GetTopologyResponse topology;
               const grpc::Status status = admin_->GetTopology(
                   &context, cascade::v1::GetTopologyRequest(), &topology);
               if (!status.ok()) return Refuse(status, res);
               hub_.Apply(topology, absl::Now());
               res.set_content(*hub_.Tree(), "application/json");
             });
  http_->Get("/console/api/node", [this](const httplib::Request& req,
                                         httplib::Response& res) {
    grpc::ClientContext context;
    Authorize(req, &context);
    cascade::v1::GetNodeRequest request;
    request.set_id(req.get_param_value("id"));
    cascade::v1::NodeView view;
    const grpc::Status status = admin_->GetNode(&context, request, &view);
    if (!status.ok()) return Refuse(status, res);
    SendJson(view, res);
  });
  http_->Get("/console/api/leader",
             [this](const httplib::Request&, httplib::Response& res) {
               ServeLeader(res);
             });
  http_->Get("/console/api/stream",
             [this](const httplib::Request& req, httplib::Response& res) {
               ServeStream(req, res);
             });
  http_->Post("/console/api/(drain|restore|failover|move|select|release|watch)",
              [this](const httplib::Request& req, httplib::Response& res) {
                ServeAction(req, res);
              });
  // Last: routes are tried in order, and this one matches every path.
  http_->Get("/console(/.*)?",
             [this](const httplib::Request& req, httplib::Response& res) {
               ServePage(req, res);
             });
}

absl::Status ConsoleServer::Start() {
  const bool tls = !options_.tls_cert.empty();
  if (tls) {
    auto server = std::make_unique<httplib::SSLServer>(
        [this](SSL_CTX& ctx) { return SetUpTls(options_, &ctx); });
    if (!server->is_valid()) {
      return absl::InvalidArgumentError(
          "--console: cannot load --tls-cert/--tls-key (or --tls-client-ca) "
          "for HTTPS");
    }
    http_ = std::move(server);
  } else {
    http_ = std::make_unique<httplib::Server>();
  }
  // Each open stream holds a thread: room for them and for the requests.
  const int threads = options_.max_streams + 8;
  http_->new_task_queue = [threads] {
    return new httplib::ThreadPool(threads);
  };
  Route();
  if (options_.port == 0) {
    port_ = http_->bind_to_any_port(options_.host);
  } else if (http_->bind_to_port(options_.host, options_.port)) {
    port_ = options_.port;
  }
  if (port_ <= 0) {
    port_ = 0;
    return absl::UnavailableError(absl::StrCat(
        "--console: cannot bind ", options_.host, ":", options_.port));
  }
  {
    absl::MutexLock lock(&group_mu_);
    if (url_.empty()) {
      const bool v6 = options_.host.find(':') != std::string::npos;
      url_ = absl::StrCat(tls ? "https" : "http", "://", v6 ? "[" : "",
                          options_.host, v6 ? "]" : "", ":", port_, "/console");
    }
  }
  thread_ = std::thread([this] { http_->listen_after_bind(); });
  LOG(INFO) << "console on " << Url();
  return absl::OkStatus();
}

}  // namespace cascade::console
