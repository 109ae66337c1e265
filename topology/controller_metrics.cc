// The controller's figures for /metrics: copied under the lock, rendered by
// the metrics server without it.
#include "topology/controller.h"

namespace cascade::topology {

ControllerMetrics Controller::Metrics() const {
  absl::MutexLock lock(&mu_);
  ControllerMetrics metrics;
  const auto& nodes = state_.topology().nodes();
  metrics.nodes.reserve(nodes.size());
  for (int i = 0; i < nodes.size(); ++i) {
    const cascade::v1::Node& node = nodes[i];
    const cascade::v1::NodeStatus status = StatusLocked(i);
    if (node.plain_endpoint()) {
      ++metrics.plain_endpoints[{node.tier(), status}];
      continue;
    }
    ControllerMetrics::Node& row = metrics.nodes.emplace_back();
    row.id = node.id();
    row.tier = node.tier();
    row.status = status;
    if (auto live = live_.find(node.id()); live != live_.end()) {
      row.packets_in = live->second.stats.packets_in();
    }
    // The plan is sized to the topology once recomputed.
    if (static_cast<size_t>(i) < active_children_.size()) {
      row.children = active_children_[i].size();
    }
    row.max_children = node.capacity().max_children();
  }
  metrics.state_sequence = state_.sequence();
  metrics.orphans = orphans_.size();
  metrics.learning = !settled_;
  metrics.lease_expiries = lease_expiries_;
  metrics.node_calls_refused =
      node_calls_refused_.load(std::memory_order_relaxed);
  metrics.failovers = failovers_;
  metrics.assignments_pushed = assignments_pushed_;
  metrics.acks = acks_;
  metrics.nacks = nacks_;
  metrics.changes_applied = changes_applied_;
  metrics.changes_dropped = changes_dropped_;
  metrics.ack_latency = ack_latency_;
  metrics.store_write_latency = pipeline_.PersistLatency();
  return metrics;
}

}  // namespace cascade::topology
