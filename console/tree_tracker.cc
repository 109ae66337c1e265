#include "console/tree_tracker.h"

#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/time/clock.h"

namespace cascade::console {
namespace {

using cascade::v1::ConsoleNode;
using cascade::v1::NodeStatus;
using cascade::v1::NodeView;

// A node is only ever drawn as receiving while the controller takes it
// for alive.
bool Alive(NodeStatus status) {
  return status == cascade::v1::STATUS_UP ||
         status == cascade::v1::STATUS_DRAINING ||
         status == cascade::v1::STATUS_HOLD_DOWN;
}

// The node's "region" label (the reference topologies name the province
// there, its standby relay included), else the provincial relay above it
// by desired parents; bounded, so a malformed chain cannot loop.
std::string Province(
    const NodeView& view,
    const absl::flat_hash_map<std::string, const NodeView*>& by_id) {
  auto region = view.labels().find("region");
  if (region != view.labels().end()) return region->second;
  const NodeView* at = &view;
  for (int depth = 0; depth < 8 && at != nullptr; ++depth) {
    if (at->tier() == cascade::v1::TIER_PROVINCIAL) return at->id();
    if (at->tier() == cascade::v1::TIER_NATIONAL) return "";
    auto parent = by_id.find(at->desired_parent());
    at = parent == by_id.end() ? nullptr : parent->second;
  }
  return "";
}

}  // namespace

TreeTracker::Update TreeTracker::Apply(
    const cascade::v1::GetTopologyResponse& topology, absl::Time now) {
  Update update;
  update.tree.set_state_sequence(topology.state_sequence());
  update.tree.set_unix_ms(absl::ToUnixMillis(now));
  update.delta.set_state_sequence(topology.state_sequence());
  update.delta.set_unix_ms(absl::ToUnixMillis(now));
  absl::flat_hash_map<std::string, const NodeView*> by_id;
  for (const NodeView& view : topology.nodes()) by_id[view.id()] = &view;

  absl::flat_hash_set<std::string> present;
  for (const NodeView& view : topology.nodes()) {
    present.insert(view.id());
    auto [it, is_new] = seen_.try_emplace(view.id());
    Seen& seen = it->second;
    const uint64_t packets = view.stats().packets_in();
    const bool late =
        view.last_report_ms_ago() < 0 ||
        view.last_report_ms_ago() > absl::ToInt64Milliseconds(kReceivingWindow);
    // A counter that moved (or restarted lower) counts; a node first seen
    // counts as receiving if it has received and reports on time.
    if (is_new ? (packets > 0 && !late) : packets != seen.packets_in) {
      seen.grew = now;
    }
    seen.packets_in = packets;

    ConsoleNode node;
    node.set_id(view.id());
    node.set_tier(view.tier());
    node.set_province(Province(view, by_id));
    if (!view.parents().empty()) node.set_parent(view.parents(0));
    for (int i = 1; i < view.parents_size(); ++i) {
      node.add_standbys(view.parents(i));
    }
    node.set_status(view.status());
    node.set_receiving(Alive(view.status()) && packets > 0 &&
                       now - seen.grew <= kReceivingWindow);
    node.set_receiving_from(view.stats().receiving_from());
    node.set_report_late(late);
    node.set_assignment_version(view.assignment_version());
    node.set_acked_version(view.acked_version());
    node.set_ack_error(view.ack_error());
    node.set_drops(view.stats().drops());
    node.set_nacks_sent(view.stats().nacks_sent());
    node.set_retransmissions(view.stats().retransmissions());
    node.set_orphan(view.orphan());
    node.set_upstream_selected(view.upstream_selected());
    node.set_plain_endpoint(view.plain_endpoint());
    std::string key = node.SerializeAsString();
    node.set_report_age_ms(view.last_report_ms_ago());
    if (is_new || key != seen.key) {
      seen.key = std::move(key);
      *update.delta.add_changed() = node;
    }
    *update.tree.add_nodes() = std::move(node);
  }
  for (auto it = seen_.begin(); it != seen_.end();) {
    if (present.contains(it->first)) {
      ++it;
      continue;
    }
    update.delta.add_removed(it->first);
    seen_.erase(it++);
  }
  return update;
}

}  // namespace cascade::console
