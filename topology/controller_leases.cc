// The relays' side of the controller: leases and node status, Register,
// Report and Ack, marking a node down or a child silent, and reintegrating
// a node that comes back.
#include <glog/logging.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "topology/controller.h"

namespace cascade::topology {

using cascade::v1::Assignment;
using cascade::v1::Event;
using cascade::v1::Node;
using cascade::v1::NodeStatus;

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

// Sites are leaves: nobody's parents depend on them, and a site without a
// controller link (a browser, a hardware decoder that activates) never
// reports, so waiting for sites made every restart learn for its whole
// period.
bool Controller::SettlesLearning(const Node& node) {
  return node.tier() != cascade::v1::TIER_SITE;
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
  if (live.last_report == absl::InfinitePast()) {
    if (!node.plain_endpoint() && SettlesLearning(node) && unheard_ > 0) {
      --unheard_;
    }
    // A site's first report shows it has a controller link: from now on it
    // may be placed beyond its own parents (controller_plan.cc).
    if (KeepsOwnParents(node)) recompute_pending_ = true;
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
  ProfiledLock lock(&mu_, &timing_, LockUse::kRegister);
  PushPendingLocked();
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
  ProfiledLock lock(&mu_, &timing_, LockUse::kReport);
  PushPendingLocked();
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
  ++lease_expiries_;
  // Pins still on their way no longer bring it back (see
  // FinishReintegrationLocked).
  live->reintegrating = false;
  EmitLocked(Event::KIND_NODE_DOWN, node_id, why);
}

absl::Status Controller::Ack(const cascade::v1::AckRequest& request) {
  ProfiledLock lock(&mu_, &timing_, LockUse::kAck);
  PushPendingLocked();
  if (!index_.contains(request.node_id())) {
    return absl::NotFoundError(
        absl::StrCat("no node \"", request.node_id(), "\""));
  }
  Live& live = live_[request.node_id()];
  live.acked_version = request.version();
  live.ack_error = request.error();
  ++(request.error().empty() ? acks_ : nacks_);
  if (request.error().empty() && request.version() == live.offered_version &&
      live.offered_at != absl::InfinitePast()) {
    ack_latency_.Observe(
        absl::ToDoubleSeconds(clock_->Now() - live.offered_at));
    live.offered_at = absl::InfinitePast();
  }
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

}  // namespace cascade::topology
