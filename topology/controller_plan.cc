// The controller's plan: where every node goes (active parent, standbys,
// children), the upstream selections along the paths, and the assignments
// rebuilt from it. Everything here runs under the controller's lock.
#include <glog/logging.h>

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "topology/controller.h"
#include "topology/stream_keys.h"
#include "topology/topology_file.h"

namespace cascade::topology {
namespace {

using cascade::v1::Assignment;
using cascade::v1::Event;
using cascade::v1::Node;
using cascade::v1::NodeStatus;

const std::string& Region(const Node& node) {
  static const std::string kNone;
  auto it = node.labels().find("region");
  return it == node.labels().end() ? kNone : it->second;
}

}  // namespace

void Controller::RebuildLayoutLocked() {
  const auto& nodes = state_.topology().nodes();
  const int n = nodes.size();
  const absl::flat_hash_map<std::string, int> previous_index =
      std::move(index_);
  index_.clear();
  index_.reserve(n);
  for (int i = 0; i < n; ++i) index_[nodes[i].id()] = i;
  link_keys_.clear();
  // Removed nodes' keys before a rotation went with them.
  RefreshPreviousKeysLocked();
  // Only a change of nodes changes who is expected to report (RenewLocked
  // counts the first reports).
  const absl::Time now = clock_->Now();
  unheard_ = 0;
  for (const Node& node : nodes) {
    // Plain endpoints never report; every other node is expected to.
    if (node.plain_endpoint()) continue;
    Live& live = live_[node.id()];
    if (live.expected_since == absl::InfinitePast()) {
      live.expected_since = now;
    }
    if (live.last_report == absl::InfinitePast() && SettlesLearning(node)) {
      ++unheard_;
    }
  }

  // The last plan in the new indices: a parent that is gone is dropped from
  // the list (as a lookup of its id found nothing before).
  std::vector<const std::string*> previous_ids(parents_.size());
  for (const auto& [id, i] : previous_index) {
    if (i < static_cast<int>(previous_ids.size())) previous_ids[i] = &id;
  }
  std::vector<std::vector<int>> parents(n);
  std::vector<bool> known(n, false);
  for (int i = 0; i < n; ++i) {
    auto old = previous_index.find(nodes[i].id());
    if (old == previous_index.end() ||
        old->second >= static_cast<int>(parents_.size()) ||
        !parent_known_[old->second]) {
      continue;
    }
    known[i] = true;
    for (int p : parents_[old->second]) {
      auto now_at = index_.find(*previous_ids[p]);
      if (now_at != index_.end()) parents[i].push_back(now_at->second);
    }
  }
  parents_ = std::move(parents);
  parent_known_ = std::move(known);
  // In old indices when the topology changed, but then every assignment is
  // rebuilt anyway: only their size matters for the comparison.
  active_children_.resize(n);
  standby_children_.resize(n);
  upstream_.resize(n);

  absl::flat_hash_map<std::string, std::string> pinned;
  for (const auto& admin : state_.admin()) {
    if (!admin.pinned_parent().empty()) {
      pinned[admin.id()] = admin.pinned_parent();
    }
  }
  // Standby-role nodes by (tier, region): the automatic standby choices.
  absl::flat_hash_map<std::string, std::vector<int>> standby_pool;
  for (int i = 0; i < n; ++i) {
    if (nodes[i].role() == cascade::v1::ROLE_STANDBY) {
      standby_pool[absl::StrCat(nodes[i].tier(), "/", Region(nodes[i]))]
          .push_back(i);
    }
  }
  // Candidate parents in preference order: the pin, the desired parent,
  // configured standbys, standby-role nodes of the desired parent's tier and
  // region, then the desired parent's ancestors (the next tier up). Only
  // higher tiers, so the effective tree can never cycle. The first
  // own_candidates_ of them are the node's own (pin, parent, standbys): all
  // a site without a controller link knows (Recompute).
  candidates_.assign(n, {});
  own_candidates_.assign(n, 0);
  for (int i = 0; i < n; ++i) {
    std::vector<int>& out = candidates_[i];
    auto add = [&](const std::string& id) {
      auto it = index_.find(id);
      if (it == index_.end() || it->second == i) return;
      if (nodes[it->second].tier() >= nodes[i].tier()) return;
      if (std::find(out.begin(), out.end(), it->second) == out.end()) {
        out.push_back(it->second);
      }
    };
    auto pin = pinned.find(nodes[i].id());
    if (pin != pinned.end()) add(pin->second);
    add(nodes[i].parent());
    for (const std::string& standby : nodes[i].standby_parents()) add(standby);
    own_candidates_[i] = out.size();
    auto desired = index_.find(nodes[i].parent());
    if (desired != index_.end()) {
      const Node& p = nodes[desired->second];
      auto pool = standby_pool.find(absl::StrCat(p.tier(), "/", Region(p)));
      if (pool != standby_pool.end()) {
        for (int s : pool->second) add(nodes[s].id());
      }
      // Tiers strictly decrease upward, so this walk is bounded.
      for (auto up = index_.find(p.parent()); up != index_.end();
           up = index_.find(nodes[up->second].parent())) {
        add(nodes[up->second].id());
      }
    }
  }
  const uint64_t downstream_kbps = DownstreamKbps(state_.topology());
  capacity_.resize(n);
  for (int i = 0; i < n; ++i) {
    capacity_[i] = ChildCapacity(nodes[i], downstream_kbps);
  }
  tier_order_.resize(n);
  for (int i = 0; i < n; ++i) tier_order_[i] = i;
  std::stable_sort(tier_order_.begin(), tier_order_.end(), [&](int a, int b) {
    return nodes[a].tier() < nodes[b].tier();
  });
  layout_stale_ = false;
}

uint32_t Controller::RecomputeLocked() {
  if (!options_.incremental) {
    layout_stale_ = true;
    rebuild_all_ = true;
  }
  const absl::Time began = absl::Now();
  const ScopedHold hold(
      &timing_, rebuild_all_ ? LockUse::kRecomputeAll : LockUse::kRecompute);
  if (layout_stale_) RebuildLayoutLocked();
  const auto& nodes = state_.topology().nodes();
  const int n = nodes.size();
  // Where node i was: the k-th parent of the plan last sent, or -1. Without
  // one (a restart, a new node) the parent it reports receiving from stands
  // for its active parent.
  auto previous_parent = [&](int i, size_t k) {
    if (parent_known_[i]) {
      return k < parents_[i].size() ? parents_[i][k] : -1;
    }
    if (k != 0) return -1;
    auto live = live_.find(nodes[i].id());
    if (live == live_.end()) return -1;
    auto from = index_.find(live->second.stats.receiving_from());
    return from == index_.end() ? -1 : from->second;
  };

  admin_.clear();
  for (const auto& admin : state_.admin()) admin_[admin.id()] = &admin;
  std::vector<bool> usable(n);
  std::vector<uint32_t> load(n, 0);
  // StatusLocked, with the few operators' flags applied after: one lookup
  // of each node's id, not two (the plan reads every node's status).
  for (int i = 0; i < n; ++i) {
    auto live = live_.find(nodes[i].id());
    const NodeStatus status =
        live == live_.end() ? cascade::v1::STATUS_UNKNOWN : live->second.status;
    usable[i] = status == cascade::v1::STATUS_UP ||
                status == cascade::v1::STATUS_UNKNOWN;
  }
  for (const auto& [id, admin] : admin_) {
    if (!admin->failed() && !admin->draining()) continue;
    if (auto it = index_.find(id); it != index_.end()) {
      usable[it->second] = false;
    }
  }

  // The plan is computed into buffers kept from the last recompute (cleared,
  // their capacity kept) and swapped in at the end: at 100,000 nodes,
  // allocating and freeing a few hundred thousand small vectors each time
  // cost more than the placement itself.
  auto reuse = [n](std::vector<std::vector<int>> & lists) -> auto& {
    lists.resize(n);
    for (std::vector<int>& list : lists) list.clear();
    return lists;
  };
  std::vector<std::vector<int>>& parents = reuse(next_parents_);
  auto fits = [&](int p) { return usable[p] && load[p] < capacity_[p]; };
  // A site that activates but has no controller link (it never reported)
  // moves, at a drain's release or a failover, only among the parents
  // configured where it runs: it is given no others, or the plan and the
  // site would part.
  std::vector<size_t> candidate_count(n);
  for (int i = 0; i < n; ++i) {
    bool own_only = KeepsOwnParents(nodes[i]);
    if (own_only) {
      auto live = live_.find(nodes[i].id());
      own_only = live == live_.end() ||
                 live->second.last_report == absl::InfinitePast();
    }
    candidate_count[i] = own_only ? own_candidates_[i] : candidates_[i].size();
  }
  auto candidates = [&](int i) {
    return absl::MakeConstSpan(candidates_[i]).first(candidate_count[i]);
  };
  auto is_candidate = [&](int i, int p) {
    const absl::Span<const int> list = candidates(i);
    return std::find(list.begin(), list.end(), p) != list.end();
  };
  auto take = [&](int i, int p) {
    parents[i].push_back(p);
    ++load[p];
  };
  // First every node whose first choice can take it, so failed-over nodes
  // never push a node off its own parent.
  for (int i : tier_order_) {
    if (!candidates(i).empty() && fits(candidates(i)[0])) {
      take(i, candidates(i)[0]);
    }
  }
  // Then the others stay where they were while that still works, or else
  // take the standby they were given: the one their relay has already
  // switched to on its own when its parent went silent. So the controller
  // confirms a failover instead of making a second move.
  for (int i : tier_order_) {
    if (!parents[i].empty()) continue;
    for (int was : {previous_parent(i, 0), previous_parent(i, 1)}) {
      if (was >= 0 && is_candidate(i, was) && fits(was)) {
        take(i, was);
        break;
      }
    }
  }
  // The rest on their first candidate with room, in order.
  for (int i : tier_order_) {
    if (!parents[i].empty()) continue;
    for (int c : candidates(i)) {
      if (fits(c)) {
        take(i, c);
        break;
      }
    }
  }
  // Such a site with no usable parent of its own goes where it would go
  // by itself (a drained parent's release sends it to the next one of its
  // list): to one of its own that is alive, a relay still held down after
  // its return included, or else it stays on the one it has while that one
  // is not known to be down, drained or not. Anywhere else it would
  // receive nothing. (Any other node can be placed higher up, or is left an
  // orphan: the event says so.)
  auto alive = [](NodeStatus status) {
    return status == cascade::v1::STATUS_UP ||
           status == cascade::v1::STATUS_UNKNOWN ||
           status == cascade::v1::STATUS_HOLD_DOWN;
  };
  // A node's own status, an operator's drain or failover aside.
  auto live_status = [&](int p) {
    auto live = live_.find(nodes[p].id());
    return live == live_.end() ? cascade::v1::STATUS_UNKNOWN
                               : live->second.status;
  };
  for (int i : tier_order_) {
    if (!parents[i].empty() || candidates(i).size() == candidates_[i].size()) {
      continue;
    }
    const int was = previous_parent(i, 0);
    for (int c : candidates(i)) {
      if (c != was && alive(StatusLocked(c)) && load[c] < capacity_[c]) {
        take(i, c);
        break;
      }
    }
    if (parents[i].empty() && was >= 0 && is_candidate(i, was) &&
        alive(live_status(was))) {
      take(i, was);
    }
  }
  // Standbys: usable candidates with room for every child of the same
  // active parent that stands by on them, so when that parent fails all of
  // its children fit where their relays switch to.
  absl::flat_hash_map<std::pair<int, int>, uint32_t> standing_by;
  for (int i : tier_order_) {
    if (parents[i].empty()) continue;
    const int active = parents[i][0];
    for (int c : candidates(i)) {
      if (static_cast<int>(parents[i].size()) > options_.max_standbys) break;
      if (c == active || !usable[c]) continue;
      uint32_t& reserved = standing_by[{c, active}];
      if (load[c] + reserved < capacity_[c]) {
        parents[i].push_back(c);
        ++reserved;
      }
    }
  }

  std::vector<std::vector<int>>& active_children = reuse(next_active_children_);
  std::vector<std::vector<int>>& standby_children =
      reuse(next_standby_children_);
  absl::flat_hash_set<std::string> orphans;
  for (int i = 0; i < n; ++i) {
    if (parents[i].empty() && !nodes[i].parent().empty()) {
      orphans.insert(nodes[i].id());
      if (!orphans_.contains(nodes[i].id())) {
        EmitLocked(Event::KIND_ORPHAN, nodes[i].id(),
                   "no usable parent with free capacity");
      }
    }
    for (size_t k = 0; k < parents[i].size(); ++k) {
      (k == 0 ? active_children : standby_children)[parents[i][k]].push_back(i);
    }
  }
  // Upstream selections at every relay a selected site's stream may cross:
  // its active path, and the standbys a failover takes it through before
  // this controller hears of it. Only a relay's active children send to it,
  // so a selection off the path carries nothing.
  std::vector<std::vector<cascade::v1::UpstreamSelection>> upstream(n);
  for (const std::string& site : state_.selected_sites()) {
    auto it = index_.find(site);
    if (it == index_.end()) continue;
    cascade::v1::UpstreamSelection selection;
    selection.set_site(site);
    for (const auto& stream : state_.topology().streams()) {
      if (stream.direction() == cascade::v1::DIRECTION_UPSTREAM &&
          stream.source_node() == site) {
        for (const auto& track : stream.tracks()) {
          selection.add_ssrcs(track.ssrc());
        }
      }
    }
    // (relay, the child it is reached from): the active path first.
    std::vector<std::pair<int, int>> reached;
    absl::flat_hash_set<int> seen;
    for (int at = it->second, from = -1; at >= 0 && seen.insert(at).second;
         from = at, at = parents[at].empty() ? -1 : parents[at][0]) {
      reached.emplace_back(at, from);
    }
    for (size_t k = 0; k < reached.size(); ++k) {
      const auto [at, from] = reached[k];
      for (int parent : parents[at]) {
        if (seen.insert(parent).second) reached.emplace_back(parent, at);
      }
      cascade::v1::UpstreamSelection& added =
          upstream[at].emplace_back(selection);
      if (from >= 0) added.set_from_child(nodes[from].id());
    }
  }

  // Which assignments may differ from the last ones: only a node's own
  // plan entries go into it besides the topology (whose change rebuilds
  // them all).
  auto same_upstream = [](const auto& a, const auto& b) {
    if (a.size() != b.size()) return false;
    for (size_t k = 0; k < a.size(); ++k) {
      if (a[k].SerializeAsString() != b[k].SerializeAsString()) return false;
    }
    return true;
  };
  std::vector<int> dirty;
  for (int i = 0; i < n; ++i) {
    if (rebuild_all_ || parents[i] != parents_[i] ||
        active_children[i] != active_children_[i] ||
        standby_children[i] != standby_children_[i] ||
        !same_upstream(upstream[i], upstream_[i])) {
      dirty.push_back(i);
    }
  }
  if (settled_) {
    // Failovers the controller decides: a node whose active parent in the
    // plan last sent is no longer usable gets another one.
    for (int i : dirty) {
      if (!parent_known_[i] || parents_[i].empty()) continue;
      const int was = parents_[i].front();
      if (usable[was] || parents[i].empty() || parents[i].front() == was) {
        continue;
      }
      const NodeStatus status = StatusLocked(was);
      ++failovers_[status == cascade::v1::STATUS_FAILED     ? "failed"
                   : status == cascade::v1::STATUS_DRAINING ? "drained"
                                                            : "down"];
    }
  }
  parents_.swap(parents);
  // Learning after a restart: the plan is kept for the admin views only.
  parent_known_.assign(n, settled_);
  active_children_.swap(active_children);
  standby_children_.swap(standby_children);
  upstream_ = std::move(upstream);
  orphans_ = std::move(orphans);
  if (!settled_) return 0;

  // A whole rebuild goes out in slices (ControllerOptions::push_slice):
  // the first now, the rest as the lock is next taken (PushPendingLocked).
  // It replaces whatever an earlier one left pending (its indices may be
  // stale); an incremental push goes out whole, ahead of what is pending.
  if (rebuild_all_) {
    const size_t now =
        std::min(dirty.size(), std::max<size_t>(options_.push_slice, 1));
    pending_push_.assign(dirty.rbegin(), dirty.rend() - now);
    dirty.resize(now);
  }
  const uint32_t changed = OfferLocked(dirty);
  if (rebuild_all_) {
    for (auto it = pushed_.begin(); it != pushed_.end();) {
      if (index_.contains(it->first)) {
        ++it;
        continue;
      }
      if (listener_ != nullptr) listener_->OnNodeRemoved(it->first);
      live_.erase(it->first);
      pushed_.erase(it++);
    }
  }
  VLOG(1) << "recompute: " << n << " nodes placed, " << dirty.size()
          << " assignments rebuilt" << (rebuild_all_ ? " (all)" : "") << " ("
          << pending_push_.size() << " more pending), " << changed
          << " changed, in " << absl::FormatDuration(absl::Now() - began);
  rebuild_all_ = false;
  return changed;
}

uint32_t Controller::OfferLocked(absl::Span<const int> dirty) {
  const auto& nodes = state_.topology().nodes();
  uint32_t changed = 0;
  const absl::Time offered_at = clock_->Now();
  // What the listener (the gRPC service) took.
  absl::Duration offering;
  for (int i : dirty) {
    std::shared_ptr<Assignment> assignment = BuildAssignmentLocked(i);
    std::shared_ptr<const Assignment>& pushed = pushed_[nodes[i].id()];
    if (pushed != nullptr) {
      // Compared with the version left out: only content counts.
      assignment->set_version(pushed->version());
      if (assignment->SerializeAsString() == pushed->SerializeAsString()) {
        continue;
      }
    }
    assignment->set_version(++next_version_);
    pushed = std::move(assignment);
    ++changed;
    ++assignments_pushed_;
    if (auto live = live_.find(nodes[i].id()); live != live_.end()) {
      live->second.offered_version = pushed->version();
      live->second.offered_at = offered_at;
    }
    if (listener_ != nullptr) {
      const absl::Time offered = absl::Now();
      listener_->OnAssignment(pushed);
      offering += absl::Now() - offered;
    }
  }
  if (changed > 0) timing_.RecordHold(LockUse::kOffer, std::nullopt, offering);
  return changed;
}

void Controller::PushPendingLocked() {
  if (pending_push_.empty() || !settled_ ||
      tick_waiting_.load(std::memory_order_relaxed)) {
    return;
  }
  const ScopedHold hold(&timing_, LockUse::kPushSlice);
  const size_t k =
      std::min(pending_push_.size(), std::max<size_t>(options_.push_slice, 1));
  std::vector<int> slice(pending_push_.rbegin(), pending_push_.rbegin() + k);
  pending_push_.resize(pending_push_.size() - k);
  OfferLocked(slice);
}

std::shared_ptr<Assignment> Controller::BuildAssignmentLocked(int i) {
  const auto& nodes = state_.topology().nodes();
  auto peer = [&](int id_index, const LinkKeys& keys, cascade::v1::Peer* p) {
    p->set_id(nodes[id_index].id());
    p->set_media_address(nodes[id_index].media_address());
    p->set_key(keys.key);
    p->set_previous_key(keys.previous);
    p->set_plain_endpoint(nodes[id_index].plain_endpoint());
    p->set_audio_address(nodes[id_index].audio_address());
  };
  auto assignment = std::make_shared<Assignment>();
  assignment->set_node_id(nodes[i].id());
  assignment->set_media_address(nodes[i].media_address());
  for (int p : parents_[i]) {
    peer(p, LinkKeyLocked(i, p), assignment->add_parents());
  }
  for (int c : active_children_[i]) {
    peer(c, LinkKeyLocked(c, i), assignment->add_active_children());
  }
  for (int c : standby_children_[i]) {
    peer(c, LinkKeyLocked(c, i), assignment->add_standby_children());
  }
  *assignment->mutable_streams() = state_.topology().streams();
  for (const auto& selection : upstream_[i]) {
    *assignment->add_upstream() = selection;
  }
  // Relays check browsers' tokens; sites serve no browser.
  if (nodes[i].tier() != cascade::v1::TIER_SITE) {
    for (const std::string& key : edge_public_keys_) {
      assignment->add_edge_token_keys(key);
    }
  }
  if (decrypting_relays_.contains(nodes[i].id())) {
    for (cascade::v1::StreamKey& key : DecryptingRelayKeys(state_)) {
      *assignment->add_stream_keys() = std::move(key);
    }
  }
  return assignment;
}

}  // namespace cascade::topology
