// The controller's admin views (GetNode, GetTopology, GetStats): read under
// the lock, never a key in them.
#include <string>

#include "absl/strings/str_cat.h"
#include "topology/controller.h"

namespace cascade::topology {

using cascade::v1::Node;

cascade::v1::NodeView Controller::ViewLocked(int index) const {
  const Node& node = state_.topology().nodes(index);
  cascade::v1::NodeView view;
  view.set_id(node.id());
  view.set_tier(node.tier());
  view.set_status(StatusLocked(index));
  const auto& nodes = state_.topology().nodes();
  for (int p : parents_[index]) view.add_parents(nodes[p].id());
  view.set_desired_parent(node.parent());
  *view.mutable_standby_parents() = node.standby_parents();
  for (int c : active_children_[index]) view.add_active_children(nodes[c].id());
  for (int c : standby_children_[index]) {
    view.add_standby_children(nodes[c].id());
  }
  *view.mutable_labels() = node.labels();
  view.set_media_address(node.media_address());
  *view.mutable_capacity() = node.capacity();
  view.set_role(node.role());
  view.set_plain_endpoint(node.plain_endpoint());
  view.set_audio_address(node.audio_address());
  view.set_edge_address(node.edge_address());
  view.set_metrics_address(node.metrics_address());
  view.set_orphan(orphans_.contains(node.id()));
  auto pushed = pushed_.find(node.id());
  if (pushed != pushed_.end()) {
    view.set_assignment_version(pushed->second->version());
  }
  view.set_last_report_ms_ago(-1);
  auto live = live_.find(node.id());
  if (live != live_.end()) {
    if (live->second.status == cascade::v1::STATUS_HOLD_DOWN) {
      view.set_hold_down_ms_left(std::max<int64_t>(
          0,
          absl::ToInt64Milliseconds(live->second.hold_until - clock_->Now())));
    }
    const absl::Time window = clock_->Now() - options_.reintegrate_max;
    view.set_recent_expiries(static_cast<uint32_t>(std::count_if(
        live->second.expiries.begin(), live->second.expiries.end(),
        [&](absl::Time t) { return t >= window; })));
    view.set_acked_version(live->second.acked_version);
    view.set_ack_error(live->second.ack_error);
    *view.mutable_stats() = live->second.stats;
    if (live->second.last_report != absl::InfinitePast()) {
      view.set_last_report_ms_ago(
          absl::ToInt64Milliseconds(clock_->Now() - live->second.last_report));
    }
  }
  const auto& selected = state_.selected_sites();
  view.set_upstream_selected(
      std::find(selected.begin(), selected.end(), node.id()) != selected.end());
  return view;
}

absl::StatusOr<cascade::v1::NodeView> Controller::GetNode(
    const std::string& id) const {
  absl::MutexLock lock(&mu_);
  auto it = index_.find(id);
  if (it == index_.end()) {
    return absl::NotFoundError(absl::StrCat("no node \"", id, "\""));
  }
  return ViewLocked(it->second);
}

absl::StatusOr<cascade::v1::GetTopologyResponse> Controller::GetTopology(
    const std::string& root) const {
  absl::MutexLock lock(&mu_);
  cascade::v1::GetTopologyResponse response;
  response.set_state_sequence(state_.sequence());
  *response.mutable_streams() = state_.topology().streams();
  if (root.empty()) {
    for (int i = 0; i < state_.topology().nodes_size(); ++i) {
      *response.add_nodes() = ViewLocked(i);
    }
    return response;
  }
  auto it = index_.find(root);
  if (it == index_.end()) {
    return absl::NotFoundError(absl::StrCat("no node \"", root, "\""));
  }
  // Breadth-first down the active children: parents before children.
  std::deque<int> queue = {it->second};
  while (!queue.empty()) {
    int i = queue.front();
    queue.pop_front();
    *response.add_nodes() = ViewLocked(i);
    for (int c : active_children_[i]) queue.push_back(c);
  }
  return response;
}

cascade::v1::StatsResponse Controller::GetStats() const {
  absl::MutexLock lock(&mu_);
  cascade::v1::StatsResponse stats;
  stats.set_nodes(state_.topology().nodes_size());
  for (int i = 0; i < state_.topology().nodes_size(); ++i) {
    switch (StatusLocked(i)) {
      case cascade::v1::STATUS_UP:
        stats.set_nodes_up(stats.nodes_up() + 1);
        break;
      case cascade::v1::STATUS_UNKNOWN:
        stats.set_nodes_unknown(stats.nodes_unknown() + 1);
        break;
      default:
        stats.set_nodes_down(stats.nodes_down() + 1);
        break;
    }
  }
  stats.set_orphans(orphans_.size());
  stats.set_state_sequence(state_.sequence());
  stats.set_assignments_pushed(assignments_pushed_);
  stats.set_journal_records(pipeline_.RecordsSinceSnapshot());
  stats.set_journal_discarded_bytes(journal_discarded_bytes_);
  stats.set_journal_recovery_note(recovery_note_);
  stats.set_upstream_selected(state_.selected_sites_size());
  return stats;
}

}  // namespace cascade::topology
