#include "relay/server.h"

#include <glog/logging.h>
#include <httplib.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/files.h"
#include "base/prometheus_text.h"

namespace cascade::relay {
namespace {

constexpr absl::Duration kMetricsTimeout = absl::Seconds(2);

template <typename T>
RelayServer* ServerOf(T* handle) {
  return static_cast<RelayServer*>(handle->data);
}

}  // namespace

absl::StatusOr<std::unique_ptr<RelayServer>> RelayServer::Create(
    ServerOptions options) {
  std::unique_ptr<RelayServer> server(new RelayServer(std::move(options)));
  if (absl::Status s = server->Start(); !s.ok()) return s;
  return server;
}

RelayServer::RelayServer(ServerOptions options)
    : options_(std::move(options)),
      pool_(options_.pool_slots_per_relay *
            std::max<size_t>(1, options_.relays.size())) {}

absl::Status RelayServer::Start() {
  if (options_.relays.empty()) {
    return absl::InvalidArgumentError("no relay to run");
  }
  if (options_.relays.size() > 1 && !options_.pages_per_relay) {
    return absl::InvalidArgumentError("several relays need pages_per_relay");
  }
  if (options_.pages_per_relay && options_.reload) {
    return absl::InvalidArgumentError("relays by id cannot be reloaded");
  }
  if (options_.fanout.loops < 1 ||
      (options_.relays.size() > 1 && options_.fanout.loops > 1)) {
    return absl::InvalidArgumentError(
        "send threads: at least 1, and only 1 for several relays");
  }
  absl::flat_hash_set<std::string> ids;
  for (const RelayOptions& relay : options_.relays) {
    if (!ids.insert(relay.node_id).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("relay id ", relay.node_id, " given twice"));
    }
  }
  uv_loop_init(&loop_);
  for (UvHandle<uv_signal_t>* signal : {&sigterm_, &sigint_, &sighup_}) {
    *signal = UvHandle<uv_signal_t>::Make();
    uv_signal_init(&loop_, signal->get());
    signal->get()->data = this;
  }
  for (UvHandle<uv_timer_t>* timer : {&watchdog_, &warning_}) {
    *timer = UvHandle<uv_timer_t>::Make();
    uv_timer_init(&loop_, timer->get());  // cannot fail
    timer->get()->data = this;
  }
  loop_ready_ = true;
  dispatcher_ = std::make_unique<Dispatcher>(&loop_);
  for (const RelayOptions& options : options_.relays) {
    absl::StatusOr<std::unique_ptr<RelayInstance>> relay =
        RelayInstance::Create(options, options_.fanout, &loop_, &pool_,
                              &clock_);
    if (!relay.ok()) return relay.status();
    relays_.push_back(*std::move(relay));
  }
  if (options_.edge) {
    if (absl::Status s = StartEdge(); !s.ok()) return s;
  }

  if (options_.metrics) {
    http_ = std::make_unique<httplib::Server>();
    auto serve = [this](RelayInstance* relay, httplib::Response& res) {
      std::optional<std::string> text = RequestMetrics(relay);
      if (!text) {
        res.status = 503;
        return;
      }
      res.set_content(*text, "text/plain; version=0.0.4");
    };
    if (!options_.pages_per_relay) {
      http_->Get("/metrics", [this, serve](const httplib::Request&,
                                           httplib::Response& res) {
        serve(relays_.front().get(), res);
      });
    } else {
      // One page per relay, as a process of its own would serve it: the
      // series carry no relay label, so pages cannot simply be joined.
      // httplib's patterns are regexes: ids are looked up, never matched.
      http_->Get(R"(/metrics/(.+))", [this, serve](const httplib::Request& req,
                                                   httplib::Response& res) {
        auto it = relay_by_id_.find(req.matches[1].str());
        if (it == relay_by_id_.end()) {
          res.status = 404;
          return;
        }
        serve(it->second, res);
      });
      for (const std::unique_ptr<RelayInstance>& relay : relays_) {
        relay_by_id_[relay->id()] = relay.get();
      }
    }
    const std::string host = options_.metrics->IpString();
    if (options_.metrics->port == 0) {
      metrics_port_ = http_->bind_to_any_port(host);
    } else if (http_->bind_to_port(host, options_.metrics->port)) {
      metrics_port_ = options_.metrics->port;
    }
    if (metrics_port_ <= 0) {
      return absl::UnavailableError(
          absl::StrCat("metrics: cannot bind ", options_.metrics->ToString()));
    }
  }
  if (!options_.port_file.empty()) return WritePortFile();
  return absl::OkStatus();
}

absl::Status RelayServer::StartEdge() {
  if (options_.pages_per_relay || relays_.size() != 1) {
    return absl::InvalidArgumentError(
        "the browser edge serves one relay per process (not with --relays)");
  }
  absl::StatusOr<std::unique_ptr<dtls::Certificate>> certificate =
      dtls::Certificate::Generate({clock_.Now()});
  if (!certificate.ok()) return certificate.status();
  edge_certificate_ = *std::move(certificate);
  RelayInstance* relay = relays_.front().get();
  if (absl::Status s = relay->EnableEdge(
          *options_.edge, edge_certificate_.get(), &loop_, &pool_);
      !s.ok()) {
    return s;
  }
  EdgeHttpOptions http;
  http.listen = options_.edge->http;
  http.tls_cert_file = options_.edge->tls_cert_file;
  http.tls_key_file = options_.edge->tls_key_file;
  absl::StatusOr<std::unique_ptr<EdgeHttpServer>> server =
      EdgeHttpServer::Start(
          http, dispatcher_.get(),
          [relay](const edge::HttpRequest& request, const std::string& client) {
            return relay->edge()->Handle(request, client);
          });
  if (!server.ok()) return server.status();
  edge_http_ = *std::move(server);
  LOG(INFO) << relay->id() << ": browser edge on "
            << (edge_http_->tls() ? "https://" : "http://")
            << options_.edge->http.IpString() << ":" << edge_http_->port();
  return absl::OkStatus();
}

absl::Status RelayServer::WritePortFile() const {
  std::string content;
  if (!options_.pages_per_relay) {
    absl::StrAppend(&content, "udp=", relays_.front()->local().port, "\n");
  } else {
    for (const std::unique_ptr<RelayInstance>& relay : relays_) {
      absl::StrAppend(&content, "udp.", relay->id(), "=", relay->local().port,
                      "\n");
    }
  }
  absl::StrAppend(&content, "metrics=", metrics_port_, "\n");
  if (edge_http_ != nullptr) {
    absl::StrAppend(&content, "edge=", edge_http_->port(), "\n");
  }
  // A reader never sees half a file.
  return WriteFileAtomically(options_.port_file, content);
}

RelayServer::~RelayServer() {
  // Late posts are refused at once (relayd stops its links first).
  if (dispatcher_ != nullptr) dispatcher_->Close();
  if (http_ != nullptr) {
    http_->stop();
    if (http_thread_.joinable()) http_thread_.join();
  }
  edge_http_.reset();
  if (loop_ready_) {
    // Every handle closed, then the loop runs their close callbacks.
    relays_.clear();
    for (UvHandle<uv_signal_t>* signal : {&sigterm_, &sigint_, &sighup_}) {
      signal->Reset();
    }
    watchdog_.Reset();
    warning_.Reset();
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
  }
}

void RelayServer::Run() {
  for (const std::unique_ptr<RelayInstance>& relay : relays_) relay->Start();
  auto on_signal = [](uv_signal_t* h, int signum) {
    ServerOf(h)->OnSignal(signum);
  };
  uv_signal_start(sigterm_.get(), on_signal, SIGTERM);
  uv_signal_start(sigint_.get(), on_signal, SIGINT);
  uv_signal_start(sighup_.get(), on_signal, SIGHUP);
  if (http_ != nullptr) {
    http_thread_ = std::thread([this] { http_->listen_after_bind(); });
  }
  for (const std::unique_ptr<RelayInstance>& relay : relays_) {
    LOG(INFO) << "relayd " << relay->id() << " on " << relay->local().ToString()
              << ", metrics port " << metrics_port_;
  }
  if (options_.notifier != nullptr) {
    if (!options_.ready_after_assignment) NotifyReady();
    if (std::optional<absl::Duration> interval =
            options_.notifier->watchdog_interval()) {
      // Twice per interval, as sd_watchdog_enabled(3) advises; from the
      // loop, so a loop that hangs stops them.
      const uint64_t ms =
          std::max<int64_t>(1, absl::ToInt64Milliseconds(*interval / 2));
      uv_timer_start(
          watchdog_.get(),
          [](uv_timer_t* h) {
            static_cast<RelayServer*>(h->data)->options_.notifier->Watchdog();
          },
          0, ms);
    }
  }
  if (!options_.warning.empty()) {
    uv_timer_start(
        warning_.get(),
        [](uv_timer_t* h) {
          LOG(WARNING) << static_cast<RelayServer*>(h->data)->options_.warning;
        },
        0,
        std::max<int64_t>(1,
                          absl::ToInt64Milliseconds(options_.warning_every)));
  }
  uv_run(&loop_, UV_RUN_DEFAULT);
}

void RelayServer::AssignmentApplied(RelayInstance* relay) {
  assigned_.insert(relay);
  if (!ready_ && options_.ready_after_assignment &&
      assigned_.size() == relays_.size()) {
    NotifyReady();
  }
}

void RelayServer::NotifyReady() {
  ready_ = true;
  if (options_.notifier == nullptr) return;
  options_.notifier->Ready(absl::StrCat(
      relays_.size() == 1 ? relays_.front()->id()
                          : absl::StrCat(relays_.size(), " relays"),
      " forwarding, UDP ", relays_.front()->local().ToString()));
}

void RelayServer::OnSignal(int signum) {
  if (signum == SIGHUP) {
    if (!options_.reload) {
      LOG(INFO) << "SIGHUP: nothing to reload";
      return;
    }
    if (options_.notifier != nullptr) options_.notifier->Reloading();
    absl::StatusOr<RelayOptions> options = options_.reload();
    if (!options.ok()) {
      ++reload_failures_;
      LOG(ERROR) << "reload failed, keeping the running config: "
                 << options.status();
      if (ready_) NotifyReady();
      return;
    }
    ++reloads_;
    RelayInstance& relay = *relays_.front();
    relay.Apply(*options);
    LOG(INFO) << "reloaded: " << relay.core().ActiveChildren().size()
              << " children active";
    if (ready_) NotifyReady();
    return;
  }
  LOG(INFO) << "signal " << signum << ": stopping";
  Shutdown();
}

void RelayServer::Stop() {
  // Refused once the loop is closing: then it stops anyway.
  dispatcher_->Post([this] { Shutdown(); });
}

void RelayServer::Shutdown() {
  if (options_.notifier != nullptr) options_.notifier->Stopping();
  uv_timer_stop(watchdog_.get());
  uv_timer_stop(warning_.get());
  for (const std::unique_ptr<RelayInstance>& relay : relays_) {
    LOG(INFO) << relay->id() << " says goodbye to "
              << relay->core().ActiveChildren().size() << " children";
    relay->SayGoodbye();
  }
  dispatcher_->Close();
  if (http_ != nullptr) http_->stop();
  uv_stop(&loop_);
}

std::optional<std::string> RelayServer::RequestMetrics(RelayInstance* relay) {
  // A timed-out snapshot may still be taken later: it owns its text.
  auto text = std::make_shared<std::string>();
  if (!dispatcher_->PostAndWait(
          [this, relay, text] { *text = RenderMetrics(relay); },
          kMetricsTimeout)) {
    return std::nullopt;
  }
  return std::move(*text);
}

std::string RelayServer::RenderMetrics(RelayInstance* relay) {
  std::string out;
  relay->RenderMetrics(&out);
  AppendCounter(&out, "relay_reloads_total",
                "Configurations applied on SIGHUP.", reloads_);
  AppendCounter(&out, "relay_reload_failures_total", "SIGHUP reloads refused.",
                reload_failures_);
  // The pool is the process's, shared by its relays.
  AppendGauge(&out, "relay_packet_slots_allocated", "Packet buffers allocated.",
              absl::StrCat(pool_.allocated_slots()));
  AppendGauge(&out, "relay_packet_slots_free", "Packet buffers free.",
              absl::StrCat(pool_.free_slots()));
  return out;
}

}  // namespace cascade::relay
