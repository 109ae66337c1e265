#include "topology/controller.h"

#include <glog/logging.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <deque>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "topology/state.h"
#include "topology/topology_file.h"

namespace cascade::topology {
namespace {

using cascade::v1::Assignment;
using cascade::v1::Change;
using cascade::v1::ControllerState;
using cascade::v1::Event;
using cascade::v1::Node;
using cascade::v1::NodeStatus;

constexpr int kNodeKeyBytes = 32;

std::string RandomKey() {
  std::string key(kNodeKeyBytes, '\0');
  CHECK_EQ(RAND_bytes(reinterpret_cast<unsigned char*>(&key[0]), kNodeKeyBytes),
           1)
      << "no randomness for node keys";
  return key;
}

const std::string& Region(const Node& node) {
  static const std::string kNone;
  auto it = node.labels().find("region");
  return it == node.labels().end() ? kNone : it->second;
}

}  // namespace

std::string LinkKey(const std::string& child_key,
                    const std::string& parent_id) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  std::string message = "cascade-link-v1:" + parent_id;
  HMAC(EVP_sha256(), child_key.data(), static_cast<int>(child_key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(),
       out, &length);
  return std::string(reinterpret_cast<char*>(out), length);
}

Controller::Controller(const Clock* clock, Store* store,
                       ControllerOptions options)
    : clock_(clock),
      options_(options),
      started_(clock->Now()),
      // Versions start at the start time, so a restarted controller never
      // hands out a version a relay has already seen.
      next_version_(static_cast<uint64_t>(absl::ToUnixMicros(clock->Now()))),
      pipeline_(store, options.snapshot_every, &mu_,
                [this](Commit& commit, const absl::Status& persisted)
                    ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
                      return ApplyLocked(commit, persisted);
                    }) {}

void Controller::SetListener(ControllerListener* listener) {
  absl::MutexLock lock(&mu_);
  listener_ = listener;
}

absl::Status Controller::Recover() {
  absl::StatusOr<RecoveredState> recovered = pipeline_.Recover();
  if (!recovered.ok()) return recovered.status();
  absl::MutexLock lock(&mu_);
  state_ = std::move(recovered->snapshot);
  for (const Change& change : recovered->changes) {
    absl::Status status = ApplyChangeToState(change, &state_);
    if (!status.ok()) {
      return absl::DataLossError(
          absl::StrCat("journal record ", change.sequence(),
                       " does not replay: ", status.message()));
    }
  }
  // A restart: relays run what the previous process sent; learn before
  // sending anything (see the header).
  settled_ = state_.sequence() == 0;
  journal_discarded_bytes_ = recovered->discarded_bytes;
  recovery_note_ = recovered->note;
  if (!recovery_note_.empty()) {
    LOG(WARNING) << recovery_note_;
    EmitLocked(Event::KIND_JOURNAL, "", recovery_note_);
  }
  RecomputeLocked();
  return absl::OkStatus();
}

void Controller::ResolveLocked(const ControllerState& base, Change* change) {
  // Keys are generated once, journaled, and kept across re-applies so relays
  // need not be re-keyed; `base` may hold nodes whose addition is not
  // applied yet.
  if (change->has_apply() || change->has_add()) {
    absl::flat_hash_map<absl::string_view, const std::string*> keys;
    keys.reserve(base.topology().nodes_size());
    for (const Node& node : base.topology().nodes()) {
      keys[node.id()] = &node.key();
    }
    auto fill_key = [&](Node* node) {
      if (!node->key().empty()) return;
      auto it = keys.find(node->id());
      node->set_key(it == keys.end() || it->second->empty() ? RandomKey()
                                                            : *it->second);
    };
    if (change->has_apply()) {
      for (Node& node :
           *change->mutable_apply()->mutable_topology()->mutable_nodes()) {
        fill_key(&node);
      }
    }
    if (change->has_add()) fill_key(change->mutable_add()->mutable_node());
  }
  if (change->has_restore()) {
    auto* restore = change->mutable_restore();
    if (restore->policy() == cascade::v1::RESTORE_DEFAULT) {
      restore->set_policy(options_.default_policy);
    }
    AddPinsLocked(restore->id(), change);
  }
}

void Controller::AddPinsLocked(const std::string& returning, Change* change) {
  auto it = index_.find(returning);
  if (it == index_.end()) return;
  bool non_revertive =
      change->has_restore()
          ? change->restore().policy() == cascade::v1::RESTORE_NON_REVERTIVE
          : options_.default_policy == cascade::v1::RESTORE_NON_REVERTIVE;
  const auto& nodes = state_.topology().nodes();
  for (int i = 0; i < nodes.size(); ++i) {
    if (nodes[i].parent() != returning) continue;
    if (non_revertive) {
      // Children that failover put elsewhere stay there.
      if (!parents_[i].empty() && parents_[i][0] != it->second) {
        cascade::v1::Pin* pin = change->add_pins();
        pin->set_node(nodes[i].id());
        pin->set_parent(nodes[parents_[i][0]].id());
      }
    } else {
      for (const auto& admin : state_.admin()) {
        if (admin.id() == nodes[i].id() && !admin.pinned_parent().empty()) {
          change->add_pins()->set_node(nodes[i].id());
        }
      }
    }
  }
}

void Controller::SubmitAsync(Change change, ChangeDone done) {
  auto commit = std::make_unique<Commit>();
  commit->change = std::move(change);
  commit->done = std::move(done);
  absl::Status refused;
  {
    absl::MutexLock lock(&mu_);
    refused = DecideLocked(&commit);
  }
  if (!refused.ok()) commit->done(std::move(refused));
}

ChangeResult Controller::Submit(Change change) {
  ChangeResult result;
  absl::Notification done;
  SubmitAsync(std::move(change), [&](ChangeResult outcome) {
    result = std::move(outcome);
    done.Notify();
  });
  done.WaitForNotification();
  return result;
}

void Controller::AwaitCommitted() { pipeline_.AwaitSettled(); }

absl::Status Controller::DecideLocked(std::unique_ptr<Commit>* commit) {
  Commit& decided = **commit;
  const ControllerState* tail = pipeline_.Tail();
  const ControllerState& base = tail != nullptr ? *tail : state_;
  ResolveLocked(base, &decided.change);
  decided.change.set_sequence(base.sequence() + 1);
  decided.state = base;
  absl::Status status = ApplyChangeToState(decided.change, &decided.state);
  if (!status.ok()) return status;
  pipeline_.Push(std::move(*commit));
  return absl::OkStatus();
}

ChangeResult Controller::ApplyLocked(Commit& commit,
                                     const absl::Status& persisted) {
  const Change& change = commit.change;
  if (!persisted.ok()) {
    LOG(ERROR) << "change " << change.sequence()
               << " not persisted, not applied: " << persisted;
    if (commit.settle) commit.settle(false);
    return absl::UnavailableError(
        absl::StrCat("cannot persist the change: ", persisted.message()));
  }
  state_ = std::move(commit.state);
  switch (change.change_case()) {
    case Change::kApply:
    case Change::kAdd:
    case Change::kRemove:
    case Change::kMove:
      layout_stale_ = true;
      rebuild_all_ = true;
      break;
    default:
      // Pins reorder candidates; other changes only flip admin flags or
      // selections, which the plan reads afresh each time.
      if (change.pins_size() > 0) layout_stale_ = true;
      break;
  }
  if (commit.settle) commit.settle(true);
  cascade::v1::ChangeResponse response;
  response.set_state_sequence(state_.sequence());
  response.set_assignments_changed(RecomputeLocked());
  EmitLocked(Event::KIND_CHANGE, "",
             absl::StrCat(change.change_case() == Change::CHANGE_NOT_SET
                              ? "reintegrate"
                              : Change::descriptor()
                                    ->FindFieldByNumber(change.change_case())
                                    ->name(),
                          ": ", response.assignments_changed(),
                          " assignments changed"));
  return response;
}

NodeStatus Controller::StatusLocked(int index) const {
  const std::string& id = state_.topology().nodes(index).id();
  // Usually no node has operators' flags: skip hashing the id for them.
  auto admin = admin_.empty() ? admin_.end() : admin_.find(id);
  if (admin != admin_.end()) {
    if (admin->second->failed()) return cascade::v1::STATUS_FAILED;
    if (admin->second->draining()) return cascade::v1::STATUS_DRAINING;
  }
  auto it = live_.find(id);
  return it == live_.end() ? cascade::v1::STATUS_UNKNOWN : it->second.status;
}

const std::string& Controller::LinkKeyLocked(int child, int parent) {
  auto it = link_keys_.find({child, parent});
  if (it == link_keys_.end()) {
    it = link_keys_
             .emplace(std::make_pair(child, parent),
                      LinkKey(state_.topology().nodes(child).key(),
                              state_.topology().nodes(parent).id()))
             .first;
  }
  return it->second;
}

// Whether a restarted controller waits for this node's first report before
// it sends assignments. Sites are leaves: nobody's parents depend on them,
// and a site without a controller link (a browser, a hardware decoder that
// activates) never reports, so waiting for sites made every restart learn
// for its whole period.
namespace {
bool SettlesLearning(const Node& node) {
  return node.tier() != cascade::v1::TIER_SITE;
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
      parents[i].push_back(now_at == index_.end() ? -1 : now_at->second);
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
  // higher tiers, so the effective tree can never cycle.
  candidates_.assign(n, {});
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
  for (int i = 0; i < n; ++i) {
    NodeStatus status = StatusLocked(i);
    usable[i] = status == cascade::v1::STATUS_UP ||
                status == cascade::v1::STATUS_UNKNOWN;
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
  auto is_candidate = [&](int i, int p) {
    return std::find(candidates_[i].begin(), candidates_[i].end(), p) !=
           candidates_[i].end();
  };
  auto take = [&](int i, int p) {
    parents[i].push_back(p);
    ++load[p];
  };
  // First every node whose first choice can take it, so failed-over nodes
  // never push a node off its own parent.
  for (int i : tier_order_) {
    if (!candidates_[i].empty() && fits(candidates_[i][0])) {
      take(i, candidates_[i][0]);
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
    for (int c : candidates_[i]) {
      if (fits(c)) {
        take(i, c);
        break;
      }
    }
  }
  // Standbys: usable candidates with room for every child of the same
  // active parent that stands by on them, so when that parent fails all of
  // its children fit where their relays switch to.
  absl::flat_hash_map<std::pair<int, int>, uint32_t> standing_by;
  for (int i : tier_order_) {
    if (parents[i].empty()) continue;
    const int active = parents[i][0];
    for (int c : candidates_[i]) {
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
  parents_.swap(parents);
  // Learning after a restart: the plan is kept for the admin views only.
  parent_known_.assign(n, settled_);
  active_children_.swap(active_children);
  standby_children_.swap(standby_children);
  upstream_ = std::move(upstream);
  orphans_ = std::move(orphans);
  if (!settled_) return 0;

  uint32_t changed = 0;
  // Of the time logged below, what the listener (the gRPC service) took.
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
    if (listener_ != nullptr) {
      const absl::Time offered = absl::Now();
      listener_->OnAssignment(pushed);
      offering += absl::Now() - offered;
    }
  }
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
          << " assignments rebuilt" << (rebuild_all_ ? " (all)" : "") << ", "
          << changed << " changed, in "
          << absl::FormatDuration(absl::Now() - began) << " ("
          << absl::FormatDuration(offering) << " of it handing them over)";
  rebuild_all_ = false;
  return changed;
}

std::shared_ptr<Assignment> Controller::BuildAssignmentLocked(int i) {
  const auto& nodes = state_.topology().nodes();
  auto peer = [&](int id_index, const std::string& key, cascade::v1::Peer* p) {
    p->set_id(nodes[id_index].id());
    p->set_media_address(nodes[id_index].media_address());
    p->set_key(key);
    p->set_plain_endpoint(nodes[id_index].plain_endpoint());
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
  return assignment;
}

absl::Duration Controller::HoldDownLocked(Live* live) {
  const absl::Time now = clock_->Now();
  while (!live->expiries.empty() &&
         now - live->expiries.front() > options_.reintegrate_max) {
    live->expiries.erase(live->expiries.begin());
  }
  absl::Duration hold = options_.reintegrate_after;
  for (size_t k = 1;
       k < live->expiries.size() && hold < options_.reintegrate_max; ++k) {
    hold *= 2;
  }
  return std::min(hold, options_.reintegrate_max);
}

absl::Status Controller::RenewLocked(const std::string& node_id) {
  auto it = index_.find(node_id);
  if (it == index_.end()) {
    return absl::NotFoundError(absl::StrCat("no node \"", node_id, "\""));
  }
  Live& live = live_[node_id];
  const absl::Time now = clock_->Now();
  // Counted once per node learning waits for (see RebuildLayoutLocked).
  const Node& node = state_.topology().nodes(it->second);
  if (live.last_report == absl::InfinitePast() && !node.plain_endpoint() &&
      SettlesLearning(node) && unheard_ > 0) {
    --unheard_;
  }
  live.last_report = now;
  if (live.status == cascade::v1::STATUS_UP ||
      live.status == cascade::v1::STATUS_HOLD_DOWN) {
    return absl::OkStatus();
  }
  const bool was_down = live.status == cascade::v1::STATUS_DOWN;
  if (!was_down || live.expiries.empty()) {
    // First report, or first since it was expected: nothing to distrust.
    live.status = cascade::v1::STATUS_UP;
    EmitLocked(Event::KIND_NODE_UP, node_id, was_down ? "first report" : "");
    // A site is never anyone's parent: its status changes no assignment.
    // Others wait for the next tick, so a network coming up recomputes a
    // few times a second, not once per relay.
    if (was_down &&
        state_.topology().nodes(it->second).tier() != cascade::v1::TIER_SITE) {
      recompute_pending_ = true;
    }
    return absl::OkStatus();
  }
  // Back after its lease expired: children only once it has held the lease
  // for its hold-down.
  const absl::Duration hold = HoldDownLocked(&live);
  live.status = cascade::v1::STATUS_HOLD_DOWN;
  live.hold_until = now + hold;
  EmitLocked(
      Event::KIND_NODE_UP, node_id,
      absl::StrCat("lease renewed; hold-down ", absl::FormatDuration(hold),
                   " (", live.expiries.size(), " recent expiries)"));
  if (hold <= absl::ZeroDuration()) ReintegrateLocked({node_id});
  return absl::OkStatus();
}

bool Controller::ReintegrateLocked(const std::vector<std::string>& node_ids) {
  // Under the non-revertive policy children are pinned where they are; pins
  // are state, durable before the nodes take children again.
  auto commit = std::make_unique<Commit>();
  for (const std::string& id : node_ids) AddPinsLocked(id, &commit->change);
  if (commit->change.pins_size() == 0) {
    for (const std::string& id : node_ids) {
      live_[id].status = cascade::v1::STATUS_UP;
    }
    RecomputeLocked();
    for (const std::string& id : node_ids) {
      EmitLocked(Event::KIND_NODE_UP, id, "hold-down over: reintegrated");
    }
    return true;
  }
  commit->settle = [this, node_ids](bool applied) ABSL_EXCLUSIVE_LOCKS_REQUIRED(
                       mu_) { FinishReintegrationLocked(node_ids, applied); };
  if (absl::Status status = DecideLocked(&commit); !status.ok()) {
    LOG(ERROR) << "reintegration postponed: " << status;
    return false;
  }
  for (const std::string& id : node_ids) live_[id].reintegrating = true;
  return false;
}

void Controller::FinishReintegrationLocked(
    const std::vector<std::string>& node_ids, bool applied) {
  if (!applied) LOG(ERROR) << "reintegration postponed: pins not persisted";
  for (const std::string& id : node_ids) {
    auto it = live_.find(id);
    // Down again meanwhile (or removed): it starts over when it returns.
    if (it == live_.end() || !it->second.reintegrating) continue;
    it->second.reintegrating = false;
    if (!applied) continue;
    it->second.status = cascade::v1::STATUS_UP;
    EmitLocked(Event::KIND_NODE_UP, id, "hold-down over: reintegrated");
  }
}

void Controller::SettleLocked() {
  settled_ = true;
  LOG(INFO) << "learned the nodes' state; sending assignments";
  RecomputeLocked();
}

absl::StatusOr<cascade::v1::RegisterResponse> Controller::Register(
    const cascade::v1::RegisterRequest& request) {
  absl::MutexLock lock(&mu_);
  absl::Status status = RenewLocked(request.node_id());
  if (!status.ok()) return status;
  // Everyone heard from: nothing more to learn.
  if (!settled_ && unheard_ == 0) SettleLocked();
  cascade::v1::RegisterResponse response;
  response.set_lease_timeout_ms(
      absl::ToInt64Milliseconds(options_.lease_timeout));
  return response;
}

absl::Status Controller::Report(const cascade::v1::ReportRequest& request) {
  absl::MutexLock lock(&mu_);
  absl::Status status = RenewLocked(request.node_id());
  if (!status.ok()) return status;
  live_[request.node_id()].stats = request.stats();
  // A relay its own parent no longer hears is as good as one whose lease
  // lapsed: act now, so the plain endpoints below it move at once. One
  // recompute for all of them.
  bool marked = false;
  for (const std::string& child : request.stats().silent_children()) {
    marked |= MarkSilentLocked(child, request.node_id());
  }
  if (marked && settled_) RecomputeLocked();
  if (!settled_ && unheard_ == 0) SettleLocked();
  return status;
}

bool Controller::MarkSilentLocked(const std::string& child,
                                  const std::string& reporter) {
  auto it = index_.find(child);
  if (it == index_.end() ||
      state_.topology().nodes(it->second).tier() == cascade::v1::TIER_SITE) {
    return false;
  }
  const std::vector<int>& parents = parents_[it->second];
  if (parents.empty() ||
      state_.topology().nodes(parents.front()).id() != reporter) {
    return false;
  }
  Live& live = live_[child];
  if (live.status != cascade::v1::STATUS_UP &&
      live.status != cascade::v1::STATUS_HOLD_DOWN) {
    return false;
  }
  // Still renewing its own lease (reports come several times a lease): alive,
  // it left that parent by itself (a failover on a busy machine, say). Taking
  // it down would move its whole subtree for nothing.
  const absl::Time now = clock_->Now();
  if (now - live.last_report < options_.lease_timeout / 4) return false;
  // Counted like a lapsed lease: if it was alive after all, its next report
  // brings it back after a hold-down.
  MarkDownLocked(child, &live, now,
                 absl::StrCat("silent to its parent ", reporter));
  return true;
}

void Controller::MarkDownLocked(const std::string& node_id, Live* live,
                                absl::Time now, const std::string& why) {
  live->status = cascade::v1::STATUS_DOWN;
  live->expiries.push_back(now);
  // Pins still on their way no longer bring it back (see
  // FinishReintegrationLocked).
  live->reintegrating = false;
  EmitLocked(Event::KIND_NODE_DOWN, node_id, why);
}

absl::Status Controller::Ack(const cascade::v1::AckRequest& request) {
  absl::MutexLock lock(&mu_);
  if (!index_.contains(request.node_id())) {
    return absl::NotFoundError(
        absl::StrCat("no node \"", request.node_id(), "\""));
  }
  Live& live = live_[request.node_id()];
  live.acked_version = request.version();
  live.ack_error = request.error();
  EmitLocked(
      request.error().empty() ? Event::KIND_ACK : Event::KIND_NACK,
      request.node_id(),
      absl::StrCat("version ", request.version(),
                   request.error().empty() ? "" : ": ", request.error()));
  return absl::OkStatus();
}

std::shared_ptr<const Assignment> Controller::CurrentAssignment(
    const std::string& node_id) const {
  absl::MutexLock lock(&mu_);
  auto it = pushed_.find(node_id);
  return it == pushed_.end() ? nullptr : it->second;
}

bool Controller::HasNode(const std::string& node_id) const {
  absl::MutexLock lock(&mu_);
  return index_.contains(node_id);
}

int Controller::Tick() {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_->Now();
  int expired = 0;
  bool changed = recompute_pending_;
  recompute_pending_ = false;
  std::vector<std::string> returning;
  // Only a node that can be a parent changes assignments by going down.
  auto can_parent = [&](const std::string& id) {
    auto it = index_.find(id);
    return it != index_.end() &&
           state_.topology().nodes(it->second).tier() != cascade::v1::TIER_SITE;
  };
  for (auto& [id, live] : live_) {
    switch (live.status) {
      case cascade::v1::STATUS_UP:
      case cascade::v1::STATUS_HOLD_DOWN:
        if (now - live.last_report > options_.lease_timeout) {
          MarkDownLocked(id, &live, now, "lease expired");
          ++expired;
          changed |= can_parent(id);
        } else if (live.status == cascade::v1::STATUS_HOLD_DOWN &&
                   now >= live.hold_until && !live.reintegrating) {
          returning.push_back(id);
        }
        break;
      case cascade::v1::STATUS_UNKNOWN:
        // Never reported since it was expected: as good as a lapsed lease,
        // but no flap to hold against when it shows up.
        if (now - live.expected_since >= options_.lease_timeout) {
          live.status = cascade::v1::STATUS_DOWN;
          changed |= can_parent(id);
          EmitLocked(Event::KIND_NODE_DOWN, id,
                     "no report within a lease of being expected");
        }
        break;
      default:
        break;
    }
  }
  // Returning nodes without pins recompute themselves (those with pins when
  // the pins are applied); otherwise only on a change.
  if (!returning.empty() && ReintegrateLocked(returning)) changed = false;
  if (!settled_ && now - started_ >= std::max(options_.lease_timeout,
                                              options_.restart_learning)) {
    SettleLocked();
  } else if (changed) {
    RecomputeLocked();
  }
  return expired;
}

void Controller::Excuse(absl::Duration late) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_->Now();
  for (auto& [id, live] : live_) {
    live.last_report = std::min(live.last_report + late, now);
    live.expected_since = std::min(live.expected_since + late, now);
  }
  LOG(WARNING) << "not run for " << late << ": every lease extended by as much";
}

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

std::string Controller::RecoveryNote() const {
  absl::MutexLock lock(&mu_);
  return recovery_note_;
}

uint64_t Controller::Sequence() const {
  absl::MutexLock lock(&mu_);
  return state_.sequence();
}

void Controller::EmitLocked(Event::Kind kind, const std::string& node_id,
                            const std::string& detail) {
  if (listener_ == nullptr) return;
  Event event;
  event.set_kind(kind);
  event.set_node_id(node_id);
  event.set_detail(detail);
  event.set_unix_ms(absl::ToUnixMillis(clock_->Now()));
  event.set_state_sequence(state_.sequence());
  listener_->OnEvent(event);
}

}  // namespace cascade::topology
