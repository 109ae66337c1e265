#include "topology/controller.h"

#include <glog/logging.h>
#include <openssl/rand.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "topology/audit.h"
#include "topology/certificate_revocation.h"
#include "topology/state.h"
#include "topology/stream_keys.h"

namespace cascade::topology {
namespace {

using cascade::v1::Assignment;
using cascade::v1::Change;
using cascade::v1::ControllerState;
using cascade::v1::Event;
using cascade::v1::Node;
using cascade::v1::NodeStatus;

constexpr int kNodeKeyBytes = 32;

}  // namespace

std::string RandomNodeKey() {
  std::string key(kNodeKeyBytes, '\0');
  CHECK_EQ(RAND_bytes(reinterpret_cast<unsigned char*>(&key[0]), kNodeKeyBytes),
           1)
      << "no randomness for node keys";
  return key;
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
  decided_ = state_;
  RefreshEdgeKeysLocked();
  RefreshPreviousKeysLocked();
  RefreshDecryptingRelaysLocked();
  RefreshRevokedLocked();
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

absl::Status Controller::ResolveLocked(const ControllerState& base,
                                       Change* change) {
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
      node->set_key(it == keys.end() || it->second->empty() ? RandomNodeKey()
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
  if (change->has_audit()) {
    change->mutable_audit()->set_unix_ms(absl::ToUnixMillis(clock_->Now()));
  }
  // Tokens issued up to the decision, not up to whenever it is replayed.
  if (change->has_revoke_token() &&
      !change->revoke_token().operator_().empty()) {
    change->mutable_revoke_token()->set_unix_ms(
        absl::ToUnixMillis(clock_->Now()));
  }
  // Whatever a caller sent, the key is the controller's own.
  if (change->has_rotate_edge_key()) {
    *change->mutable_rotate_edge_key()->mutable_key() =
        NewEdgeKey(clock_->Now());
  }
  if (change->has_rotate_link_keys()) {
    ResolveLinkKeyRotationLocked(base, change->mutable_rotate_link_keys());
  }
  if (change->has_restore()) {
    auto* restore = change->mutable_restore();
    if (restore->policy() == cascade::v1::RESTORE_DEFAULT) {
      restore->set_policy(options_.default_policy);
    }
    AddPinsLocked(restore->id(), change);
  }
  if (change->has_revoke_certificate()) {
    return ResolveCertificateRevocation(clock_->Now(),
                                        change->mutable_revoke_certificate());
  }
  if (change->has_rotate_stream_key()) {
    return ResolveStreamKeyRotation(base, clock_->Now(),
                                    options_.stream_key_overlap,
                                    change->mutable_rotate_stream_key());
  }
  return absl::OkStatus();
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
  if (absl::Status resolved = ResolveLocked(decided_, &decided.change);
      !resolved.ok()) {
    return resolved;
  }
  decided.change.set_sequence(decided_.sequence() + 1);
  if (decided.change.has_audit()) {
    decided.change.mutable_audit()->set_state_sequence(
        decided.change.sequence());
  }
  if (absl::Status status = ApplyToDecidedLocked(decided.change);
      !status.ok()) {
    return status;
  }
  if (pipeline_.SnapshotDue()) {
    decided.snapshot = std::make_unique<ControllerState>(decided_);
  }
  pipeline_.Push(std::move(*commit));
  return absl::OkStatus();
}

absl::Status Controller::ApplyToDecidedLocked(const Change& change) {
  // A change that fails may have applied in part: it goes to a copy, which
  // replaces decided_ only once the whole change applied. A change that
  // only reads the topology borrows it rather than copying it.
  const bool copy_topology = ChangesTopology(change);
  ControllerState next;
  if (copy_topology) {
    next = decided_;
  } else {
    std::unique_ptr<cascade::v1::Topology> topology(
        decided_.release_topology());
    next = decided_;
    next.set_allocated_topology(topology.release());
  }
  absl::Status status = ApplyChangeToState(change, &next);
  if (!copy_topology) decided_.set_allocated_topology(next.release_topology());
  if (!status.ok()) return status;
  if (!copy_topology) next.set_allocated_topology(decided_.release_topology());
  decided_.Swap(&next);
  return absl::OkStatus();
}

ChangeResult Controller::ApplyLocked(Commit& commit,
                                     const absl::Status& persisted) {
  const ScopedHold hold(&timing_, LockUse::kApply);
  const Change& change = commit.change;
  if (!persisted.ok()) {
    LOG(ERROR) << "change " << change.sequence()
               << " not persisted, not applied: " << persisted;
    ++changes_dropped_;
    // Every change decided after it is dropped too (CommitPipeline): the
    // next is decided against what is durable.
    if (decided_.sequence() != state_.sequence()) decided_ = state_;
    if (commit.settle) commit.settle(false);
    return absl::UnavailableError(
        absl::StrCat("cannot persist the change: ", persisted.message()));
  }
  // As a replay of the journal would: the same change on the same state it
  // was decided on (decided_ then), so it applies again.
  if (absl::Status replayed =
          ApplyChangeToState(change, &state_, /*validated=*/true);
      !replayed.ok()) {
    LOG(DFATAL) << "change " << change.sequence()
                << " applied when decided but not when durable: " << replayed;
  }
  cascade::v1::ChangeResponse response;
  response.set_state_sequence(state_.sequence());
  // An audit record alone (a refused call, a minted edge token): nothing
  // to place again.
  if (change.change_case() == Change::CHANGE_NOT_SET &&
      change.pins_size() == 0 && change.has_audit()) {
    ++changes_applied_["audit"];
    PublishLocked(AuditEvent(change.audit()));
    return response;
  }
  switch (change.change_case()) {
    case Change::kApply:
    case Change::kAdd:
    case Change::kRemove:
    case Change::kMove:
      layout_stale_ = true;
      rebuild_all_ = true;
      RefreshDecryptingRelaysLocked();
      break;
    case Change::kRotateStreamKey:
      // The edge relays' assignments carry the downstream streams' keys.
      rebuild_all_ = !decrypting_relays_.empty() &&
                     RotatesDownstreamKey(state_, change.rotate_stream_key());
      break;
    case Change::kRevokeCertificate:
      // The stream keys follow at the next tick (StreamsDueForKey).
      RefreshRevokedLocked();
      if (listener_ != nullptr) listener_->OnCertificateRevoked();
      break;
    case Change::kRotateEdgeKey:
      // Every relay's assignment carries the keys.
      RefreshEdgeKeysLocked();
      rebuild_all_ = true;
      break;
    case Change::kRotateLinkKeys:
      // The links of the rotated nodes, in both ends' assignments.
      RefreshPreviousKeysLocked();
      link_keys_.clear();
      rebuild_all_ = true;
      break;
    default:
      // Pins reorder candidates; other changes only flip admin flags or
      // selections, which the plan reads afresh each time.
      if (change.pins_size() > 0) layout_stale_ = true;
      break;
  }
  if (commit.settle) commit.settle(true);
  ++changes_applied_[change.change_case() == Change::CHANGE_NOT_SET
                         ? "reintegrate"
                         : Change::descriptor()
                               ->FindFieldByNumber(change.change_case())
                               ->name()];
  response.set_assignments_changed(RecomputeLocked());
  const std::string changed = absl::StrCat(": ", response.assignments_changed(),
                                           " assignments changed");
  if (change.has_audit()) {
    // Who did it, from where: the same words the audit trail replays.
    Event event = AuditEvent(change.audit());
    event.mutable_detail()->append(changed);
    PublishLocked(event);
  } else {
    EmitLocked(Event::KIND_CHANGE, "",
               absl::StrCat(change.change_case() == Change::CHANGE_NOT_SET
                                ? "reintegrate"
                                : Change::descriptor()
                                      ->FindFieldByNumber(change.change_case())
                                      ->name(),
                            changed));
  }
  return response;
}

int Controller::Tick() {
  // The lock is not fair: the reports that push a whole rebuild's slices
  // would win it for the whole push, so the slices wait while a tick does.
  tick_waiting_.store(true, std::memory_order_relaxed);
  ProfiledLock lock(&mu_, &timing_, LockUse::kTick);
  tick_waiting_.store(false, std::memory_order_relaxed);
  PushPendingLocked();
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
  // Learning after a restart ends at the latest here; until then a node
  // not heard yet is what learning waits for, not a lapsed lease (the
  // relays of a controller that just took over may still be backing off).
  const bool learning_ends =
      !settled_ && now - started_ >= std::max(options_.lease_timeout,
                                              options_.restart_learning);
  std::vector<absl::Duration> ages;
  for (const auto& [id, live] : live_) {
    if (live.status == cascade::v1::STATUS_UP ||
        live.status == cascade::v1::STATUS_HOLD_DOWN) {
      ages.push_back(now - live.last_report);
    }
  }
  const absl::Duration excuse =
      BacklogExcuse(std::move(ages), options_.lease_timeout);
  int spared = 0;
  for (auto& [id, live] : live_) {
    switch (live.status) {
      case cascade::v1::STATUS_UP:
      case cascade::v1::STATUS_HOLD_DOWN:
        if (now - live.last_report > options_.lease_timeout + excuse) {
          MarkDownLocked(id, &live, now, "lease expired");
          ++expired;
          changed |= can_parent(id);
        } else if (now - live.last_report > options_.lease_timeout) {
          ++spared;
        } else if (live.status == cascade::v1::STATUS_HOLD_DOWN &&
                   now >= live.hold_until && !live.reintegrating) {
          returning.push_back(id);
        }
        break;
      case cascade::v1::STATUS_UNKNOWN:
        // Never reported since it was expected: as good as a lapsed lease,
        // but no flap to hold against when it shows up.
        if ((settled_ || learning_ends) &&
            now - live.expected_since >= options_.lease_timeout) {
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
  LOG_IF(WARNING, spared > 0)
      << "reports " << excuse << " behind: " << spared
      << " leases past their timeout not expired (BacklogExcuse)";
  // Returning nodes without pins recompute themselves (those with pins when
  // the pins are applied); otherwise only on a change.
  if (!returning.empty() && ReintegrateLocked(returning)) changed = false;
  if (EndOverlapsLocked(now)) changed = true;
  KeyStreamsLocked(now);
  if (learning_ends) {
    SettleLocked();
  } else if (changed) {
    RecomputeLocked();
  }
  return expired;
}

void Controller::Excuse(absl::Duration late) {
  ProfiledLock lock(&mu_, &timing_, LockUse::kExcuse);
  const absl::Time now = clock_->Now();
  for (auto& [id, live] : live_) {
    live.last_report = std::min(live.last_report + late, now);
    live.expected_since = std::min(live.expected_since + late, now);
  }
  LOG(WARNING) << "not run for " << late << ": every lease extended by as much";
}

std::string Controller::RecoveryNote() const {
  absl::MutexLock lock(&mu_);
  return recovery_note_;
}

uint64_t Controller::Sequence() const {
  absl::MutexLock lock(&mu_);
  return state_.sequence();
}

void Controller::RecordDenied(const std::string& node_id,
                              const std::string& detail) {
  absl::MutexLock lock(&mu_);
  EmitLocked(Event::KIND_DENIED, node_id, detail);
}

void Controller::EmitLocked(Event::Kind kind, const std::string& node_id,
                            const std::string& detail) {
  Event event;
  event.set_kind(kind);
  event.set_node_id(node_id);
  event.set_detail(detail);
  event.set_unix_ms(absl::ToUnixMillis(clock_->Now()));
  event.set_state_sequence(state_.sequence());
  PublishLocked(event);
}

void Controller::PublishLocked(const Event& event) {
  if (listener_ != nullptr) listener_->OnEvent(event);
}

}  // namespace cascade::topology
