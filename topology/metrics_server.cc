#include "topology/metrics_server.h"

#include <arpa/inet.h>
#include <glog/logging.h>
#include <httplib.h>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "base/prometheus_text.h"

namespace cascade::topology {
namespace {

using cascade::v1::NodeStatus;
using cascade::v1::Tier;

// Lower case without the prefix: "district", "hold_down".
std::string TierName(Tier tier) {
  std::string name = cascade::v1::Tier_Name(tier);
  return absl::AsciiStrToLower(name.substr(name.find('_') + 1));
}
std::string StatusName(NodeStatus status) {
  std::string name = cascade::v1::NodeStatus_Name(status);
  return absl::AsciiStrToLower(name.substr(name.find('_') + 1));
}

void RenderController(const ControllerMetrics& c, std::string* out) {
  // Nodes by tier and status, plain endpoints included.
  std::map<std::pair<Tier, NodeStatus>, uint32_t> by_status = c.plain_endpoints;
  for (const ControllerMetrics::Node& node : c.nodes) {
    ++by_status[{node.tier, node.status}];
  }
  AppendFamily(out, "topology_nodes", "gauge",
               "Nodes of the topology by tier and status (up, down, unknown, "
               "draining, failed, hold_down).");
  for (const auto& [key, n] : by_status) {
    AppendSample(
        out, "topology_nodes",
        {{"tier", TierName(key.first)}, {"status", StatusName(key.second)}}, n);
  }
  AppendFamily(out, "topology_node_up", "gauge",
               "1 while the node holds its lease (reports in time), by node; "
               "plain endpoints never report and are not listed.");
  for (const ControllerMetrics::Node& node : c.nodes) {
    AppendSample(out, "topology_node_up",
                 {{"node", node.id}, {"tier", TierName(node.tier)}},
                 node.status == cascade::v1::STATUS_UP ||
                         node.status == cascade::v1::STATUS_HOLD_DOWN ||
                         node.status == cascade::v1::STATUS_DRAINING
                     ? 1
                     : 0);
  }
  AppendFamily(out, "topology_node_packets_in_total", "counter",
               "RTP packets the node reports it received (its own counter, "
               "reset when it restarts).");
  for (const ControllerMetrics::Node& node : c.nodes) {
    AppendSample(out, "topology_node_packets_in_total",
                 {{"node", node.id}, {"tier", TierName(node.tier)}},
                 node.packets_in);
  }
  AppendFamily(out, "topology_node_children", "gauge",
               "Active children the current plan gives a relay.");
  for (const ControllerMetrics::Node& node : c.nodes) {
    if (node.tier == cascade::v1::TIER_SITE) continue;
    AppendSample(out, "topology_node_children",
                 {{"node", node.id}, {"tier", TierName(node.tier)}},
                 node.children);
  }
  AppendFamily(out, "topology_node_max_children", "gauge",
               "A relay's capacity in active children (0: unlimited leaf).");
  for (const ControllerMetrics::Node& node : c.nodes) {
    if (node.tier == cascade::v1::TIER_SITE) continue;
    AppendSample(out, "topology_node_max_children",
                 {{"node", node.id}, {"tier", TierName(node.tier)}},
                 node.max_children);
  }
  AppendGauge(out, "topology_orphans",
              "Nodes without a usable parent with capacity.", c.orphans);
  AppendGauge(out, "topology_state_sequence",
              "Changes applied since the state "
              "was created.",
              c.state_sequence);
  AppendGauge(out, "topology_restart_learning",
              "1 while a restarted controller learns and sends no assignment.",
              c.learning ? 1 : 0);
  AppendCounter(out, "topology_lease_expiries_total",
                "Nodes marked down: lease lapsed, or silent to their parent.",
                c.lease_expiries);
  AppendCounter(out, "topology_node_calls_refused_total",
                "RelayControl calls refused for who the caller is: no, a "
                "wrong or a revoked client certificate.",
                c.node_calls_refused);
  AppendFamily(out, "topology_failovers_total", "counter",
               "Nodes the controller moved off an active parent that "
               "stopped being usable, by why (down, failed, drained).");
  for (const char* reason : {"down", "failed", "drained"}) {
    auto it = c.failovers.find(reason);
    AppendSample(out, "topology_failovers_total", {{"reason", reason}},
                 it == c.failovers.end() ? 0 : it->second);
  }
  AppendCounter(out, "topology_assignments_pushed_total",
                "Assignments offered to nodes (each new version).",
                c.assignments_pushed);
  AppendCounter(out, "topology_assignment_acks_total",
                "Assignments nodes acknowledged as applied.", c.acks);
  AppendCounter(out, "topology_assignment_nacks_total",
                "Assignments nodes refused (acknowledged with an error).",
                c.nacks);
  c.ack_latency.Append(out, "topology_assignment_ack_latency_seconds",
                       "From an assignment's offer to its node's ack of "
                       "that version.");
  AppendFamily(out, "topology_changes_applied_total", "counter",
               "Changes made durable and applied, by kind.");
  for (const auto& [kind, n] : c.changes_applied) {
    AppendSample(out, "topology_changes_applied_total", {{"kind", kind}}, n);
  }
  AppendCounter(out, "topology_changes_dropped_total",
                "Changes decided but not applied: the store did not take them.",
                c.changes_dropped);
  c.store_write_latency.Append(
      out, "topology_store_write_seconds",
      "Each change's write to the store: a journal append with fdatasync, "
      "or an etcd transaction (with a snapshot when one is due).");
}

// One histogram of a labelled family (DurationHistogram::Append writes
// unlabelled ones only).
void AppendLabelledHistogram(std::string* out, absl::string_view name,
                             absl::string_view label, absl::string_view value,
                             const DurationHistogram& histogram,
                             const std::vector<double>& bounds) {
  const std::string bucket = absl::StrCat(name, "_bucket");
  for (size_t i = 0; i < bounds.size(); ++i) {
    AppendSample(out, bucket, {{label, value}, {"le", absl::StrCat(bounds[i])}},
                 histogram.bucket(i));
  }
  AppendSample(out, bucket, {{label, value}, {"le", "+Inf"}},
               histogram.count());
  AppendSample(out, absl::StrCat(name, "_sum"), {{label, value}},
               histogram.sum());
  AppendSample(out, absl::StrCat(name, "_count"), {{label, value}},
               histogram.count());
}

void RenderTiming(const ControllerTiming::Snapshot& t, std::string* out) {
  t.tick_late.Append(
      out, "topology_tick_late_seconds",
      "How late each lease tick ran beyond its interval (a tenth of the "
      "lease): the ticker's thread starved of CPU, or blocked on the "
      "controller's lock (topology_lock_*).");
  t.tick_run_queue_wait.Append(
      out, "topology_tick_run_queue_wait_seconds",
      "Per lease tick, how long the ticker's thread waited runnable for a CPU "
      "since the tick before (/proc/thread-self/schedstat).");
  const std::vector<double> bounds = LockBounds();
  AppendFamily(out, "topology_lock_wait_seconds", "histogram",
               "Waits for the controller's lock, by caller (tick, excuse, "
               "report, register, ack).");
  AppendFamily(out, "topology_lock_held_seconds", "histogram",
               "Holds of the controller's lock, by caller; recompute, "
               "recompute_all (every assignment rebuilt) and offer (handing "
               "assignments to the Watch streams) are parts of the other "
               "holds.");
  // Only those that ask for the lock themselves.
  for (size_t k = 0; k <= static_cast<size_t>(LockUse::kAck); ++k) {
    AppendLabelledHistogram(out, "topology_lock_wait_seconds", "op",
                            LockUseName(static_cast<LockUse>(k)), t.waited[k],
                            bounds);
  }
  for (size_t k = 0; k < kLockUses; ++k) {
    AppendLabelledHistogram(out, "topology_lock_held_seconds", "op",
                            LockUseName(static_cast<LockUse>(k)), t.held[k],
                            bounds);
  }
}

}  // namespace

std::string RenderMetrics(const MetricsInputs& inputs) {
  std::string out;
  AppendGauge(&out, "topology_leader",
              "1 while this controller leads (always, on a journal).",
              inputs.leading ? 1 : 0);
  AppendCounter(&out, "topology_leader_changes_total",
                "New leaders (terms) this controller has seen elected, itself "
                "included.",
                inputs.leader_changes);
  AppendGauge(&out, "topology_watch_streams",
              "Open Watch streams: relays connected to this controller.",
              inputs.watchers);
  AppendFamily(&out, "topology_admin_requests_total", "counter",
               "Admin calls answered, by method and gRPC code.");
  for (const auto& [key, n] : inputs.admin_calls) {
    AppendSample(&out, "topology_admin_requests_total",
                 {{"method", key.first}, {"code", key.second}}, n);
  }
  if (inputs.controller.has_value()) RenderController(*inputs.controller, &out);
  if (inputs.timing.has_value()) RenderTiming(*inputs.timing, &out);
  return out;
}

absl::StatusOr<MetricsListen> ParseMetricsListen(absl::string_view text) {
  const size_t colon = text.rfind(':');
  MetricsListen listen;
  if (colon == absl::string_view::npos ||
      !absl::SimpleAtoi(text.substr(colon + 1), &listen.port) ||
      listen.port < 0 || listen.port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics must be IP:PORT, not \"", text, "\""));
  }
  absl::string_view host = text.substr(0, colon);
  const bool v6 =
      absl::ConsumePrefix(&host, "[") && absl::ConsumeSuffix(&host, "]");
  listen.host = std::string(host);
  unsigned char address[16];
  if (inet_pton(v6 ? AF_INET6 : AF_INET, listen.host.c_str(), address) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics: \"", host,
                     "\" is not an IP address (IP:PORT, [IPv6]:PORT)"));
  }
  return listen;
}

// Notes leadership and new terms, then passes the status on.
class MetricsEndpoint::LeaderWatch : public etcd::LeaderListener {
 public:
  explicit LeaderWatch(etcd::LeaderListener* next) : next_(next) {}
  void OnLeaderStatus(const etcd::LeaderStatus& status) override {
    {
      absl::MutexLock lock(&mu_);
      leading_ = status.leading;
      if (!status.leader.empty() &&
          (status.term != term_ || status.leader != leader_)) {
        ++changes_;
        term_ = status.term;
        leader_ = status.leader;
      }
    }
    if (next_ != nullptr) next_->OnLeaderStatus(status);
  }
  std::pair<bool, uint64_t> Get() const {
    absl::MutexLock lock(&mu_);
    return {leading_, changes_};
  }

 private:
  etcd::LeaderListener* const next_;
  mutable absl::Mutex mu_;
  bool leading_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t changes_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t term_ ABSL_GUARDED_BY(mu_) = 0;
  std::string leader_ ABSL_GUARDED_BY(mu_);
};

MetricsEndpoint::MetricsEndpoint(ControllerService* service,
                                 bool always_leading)
    : service_(service), always_leading_(always_leading) {}

MetricsEndpoint::~MetricsEndpoint() {
  if (http_ != nullptr) http_->stop();
  if (thread_.joinable()) thread_.join();
}

std::string MetricsEndpoint::PortFileLine() const {
  return port_ > 0 ? absl::StrCat("metrics=", port_, "\n") : "";
}

etcd::LeaderListener* MetricsEndpoint::Leader(etcd::LeaderListener* next) {
  leader_ = std::make_unique<LeaderWatch>(next);
  return leader_.get();
}

MetricsInputs MetricsEndpoint::Collect() const {
  MetricsInputs inputs;
  if (always_leading_) {
    inputs.leading = true;
    inputs.leader_changes = 1;
  } else if (leader_ != nullptr) {
    std::tie(inputs.leading, inputs.leader_changes) = leader_->Get();
  }
  if (Controller* controller = service_->controller(); controller != nullptr) {
    inputs.controller = controller->Metrics();
    inputs.timing = controller->timing()->Take();
  }
  inputs.watchers = service_->watcher_count();
  if (service_->options().admin_calls != nullptr) {
    inputs.admin_calls = service_->options().admin_calls->Counts();
  }
  return inputs;
}

absl::Status MetricsEndpoint::Start(const MetricsListen& listen) {
  http_ = std::make_unique<httplib::Server>();
  http_->Get(
      "/metrics", [this](const httplib::Request&, httplib::Response& res) {
        res.set_content(RenderMetrics(Collect()), "text/plain; version=0.0.4");
      });
  if (listen.port == 0) {
    port_ = http_->bind_to_any_port(listen.host);
  } else if (http_->bind_to_port(listen.host, listen.port)) {
    port_ = listen.port;
  }
  if (port_ <= 0) {
    port_ = 0;
    return absl::UnavailableError(
        absl::StrCat("--metrics: cannot bind ", listen.host, ":", listen.port));
  }
  thread_ = std::thread([this] { http_->listen_after_bind(); });
  LOG(INFO) << "metrics on http://" << listen.host << ":" << port_
            << "/metrics";
  return absl::OkStatus();
}

}  // namespace cascade::topology
