#include "child/parent_selector.h"

#include <algorithm>
#include <utility>

#include "base/clock.h"

namespace cascade::child {

ParentSelector::ParentSelector(const ParentPolicy& policy, absl::Time now)
    : policy_(policy),
      silence_(policy.timeout, policy.timeout_max),
      last_heard_(now) {}

const Parent* ParentSelector::active() const {
  return index_ < parents_.size() ? &parents_[index_] : nullptr;
}

const Parent* ParentSelector::leaving() const {
  return leaving_.has_value() ? &leaving_->parent : nullptr;
}

const Parent* ParentSelector::upstream_parent() const {
  if (heard_since_switch_) return active();
  return leaving();
}

bool ParentSelector::IsActive(const media::Endpoint& from) const {
  const Parent* parent = active();
  return parent != nullptr && parent->address == from;
}

bool ParentSelector::IsLeaving(const media::Endpoint& from) const {
  return leaving_.has_value() && leaving_->parent.address == from;
}

bool ParentSelector::IsListed(const media::Endpoint& from) const {
  return std::any_of(parents_.begin(), parents_.end(),
                     [&](const Parent& p) { return p.address == from; });
}

bool ParentSelector::SetParents(std::vector<Parent> parents, absl::Time now) {
  std::optional<Parent> previous;
  if (const Parent* parent = active()) previous = *parent;
  parents_ = std::move(parents);
  const size_t preferred = Preferred(now);
  if (!previous.has_value()) {
    Use(preferred, now);
    return active() != nullptr;
  }
  if (preferred < parents_.size() &&
      parents_[preferred].address == previous->address) {
    index_ = preferred;
    // A new key needs a new activation.
    if (parents_[preferred].key != previous->key) {
      last_keepalive_ = absl::InfinitePast();
    }
    return false;
  }
  // Make-before-break: keep hearing a live old parent until the new one
  // sends media.
  if (heard_since_switch_ && now - last_heard_ < policy_.timeout) {
    leaving_ = Leaving{*std::move(previous), now + policy_.switch_overlap, now};
  }
  ++switches_;
  Use(preferred, now);
  return true;
}

void ParentSelector::Use(size_t index, absl::Time now) {
  index_ = index;
  heard_since_switch_ = false;
  probed_ = false;
  unreachable_ = false;
  chosen_at_ = now;
  last_heard_ = now;
  silence_.Reset();
  if (leaving_.has_value() && IsActive(leaving_->parent.address)) {
    leaving_.reset();
  }
  // Activate at once; gaps left by the move show up as sequence gaps and
  // are asked of the new parent.
  last_keepalive_ = absl::InfinitePast();
}

ParentSelector::Heard ParentSelector::OnActiveHeard(bool media,
                                                    absl::Time now) {
  Heard heard;
  if (heard_since_switch_) {
    heard.gap = now - last_heard_;
    silence_.OnGap(heard.gap, now);
  }
  last_heard_ = now;
  any_heard_ = true;
  probed_ = false;
  unreachable_ = false;
  heard.first = !heard_since_switch_;
  heard_since_switch_ = true;
  if (media && leaving_.has_value()) {
    if (!leaving_->parent.key.empty()) {
      heard.release = std::move(leaving_->parent);
    }
    leaving_.reset();
  }
  return heard;
}

bool ParentSelector::OnParentApp(const rtp::AppView& app,
                                 absl::string_view own_id, absl::Time now) {
  const Parent* parent = active();
  if (parent == nullptr || parent->key.empty() || !rtp::IsActivation(app)) {
    return false;
  }
  rtp::ActivationRequest request;
  if (rtp::VerifyActivation(app, rtp::KeyBytes(parent->key), &request) !=
          rtp::ActivationResult::kOk ||
      request.kind != rtp::ActivationKind::kDeactivate) {
    return false;
  }
  // The link key is the child's too: its own deactivation, reflected back,
  // must not move it.
  if (request.node_id == own_id ||
      (!parent->id.empty() && request.node_id != parent->id)) {
    return false;
  }
  if (release_replays_.Check(request.node_id, request.timestamp_ms,
                             request.nonce,
                             now) != rtp::ReplayVerdict::kAccepted) {
    return false;
  }
  ++releases_accepted_;
  // Only to a parent that has not failed lately; otherwise stay while the
  // releasing one still serves us.
  const std::optional<size_t> next = NextAvailable(now);
  if (!next.has_value()) return true;
  leaving_ = Leaving{*parent, now + policy_.switch_overlap, now};
  ++switches_;
  Use(*next, now);
  return true;
}

bool ParentSelector::OnUnreachable(const media::Endpoint& to) {
  // Before the parent answered it may simply not be up yet: the nodes of a
  // tree start in any order, and that is what the startup timeout is for.
  if (!IsActive(to) || !heard_since_switch_) return false;
  unreachable_ = true;
  return true;
}

void ParentSelector::Excuse(absl::Duration late, absl::Time now) {
  if (late <= policy_.timeout / 6) return;
  // Never past now: a packet just read already brought it up to date.
  last_heard_ = std::min(last_heard_ + late, now);
}

ParentSelector::Actions ParentSelector::OnTick(absl::Time now) {
  Actions actions;
  if (leaving_.has_value() && now >= leaving_->until &&
      now - leaving_->last_heard >= policy_.timeout) {
    if (!leaving_->parent.key.empty()) {
      actions.release = std::move(leaving_->parent);
    }
    leaving_.reset();
  }
  if (active() == nullptr) return actions;
  if (policy_.timeout > absl::ZeroDuration()) {
    if (now - last_failover_ > absl::Minutes(1)) recent_failovers_ = 0;
    if (unreachable_ || now - last_heard_ >= Timeout(now)) {
      actions.unreachable = unreachable_;
      FailOver(now, &actions);
    }
  }
  if (now >= retry_first_at_) RetryFirst(now, &actions);
  const bool probe = now >= ProbeDue();
  if (probe) probed_ = true;
  if (probe || now >= KeepaliveDue()) {
    last_keepalive_ = now;
    actions.keepalive = true;
    actions.activate = !active()->key.empty() && ActivationDue(now);
    if (actions.activate) last_activation_ = now;
  }
  return actions;
}

void ParentSelector::FailOver(absl::Time now, Actions* actions) {
  const size_t next = Next(now);
  if (next == index_) {
    // Nowhere else to go: keep asking the only parent.
    Use(next, now);
    return;
  }
  const Parent& silent = parents_[index_];
  failed_at_[silent.address] = now;
  ++failovers_;
  ++recent_failovers_;
  last_failover_ = now;
  actions->failed_over_from = silent;
  if (actions->unreachable) ++unreachable_failovers_;
  // One that never answered since it was chosen may simply not have known
  // us yet: asked again when its hold-down ends. One that answered and
  // fell silent failed; the controller decides whether we go back.
  retry_first_at_ =
      heard_since_switch_ ? absl::InfiniteFuture() : now + policy_.hold_down;
  Use(next, now);
}

void ParentSelector::RetryFirst(absl::Time now, Actions* actions) {
  retry_first_at_ = absl::InfiniteFuture();
  const size_t first = Preferred(now);
  // Only from a parent that feeds us, which keeps feeding us meanwhile.
  if (first == index_ || !heard_since_switch_ || leaving_.has_value()) return;
  leaving_ = Leaving{parents_[index_], now + policy_.switch_overlap, now};
  ++switches_;
  actions->retried_first = true;
  Use(first, now);
}

bool ParentSelector::ActivationDue(absl::Time now) const {
  // Until the active parent answers, every keepalive asks it; then only
  // when it has been silent a while.
  if (!heard_since_switch_) return true;
  return now - last_activation_ >= policy_.activation_refresh &&
         now - last_heard_ >= policy_.activation_refresh;
}

absl::Duration ParentSelector::Timeout(absl::Time now) const {
  const absl::Duration timeout =
      any_heard_ ? silence_.Get(now) * (1 << std::min(recent_failovers_, 4))
                 : std::max(policy_.timeout, policy_.startup_timeout);
  // A parent just given to us may get its own orders later than we did:
  // while the old one still feeds us it gets the whole overlap to answer,
  // rather than a failover to a third parent.
  return leaving_.has_value() ? std::max(timeout, policy_.switch_overlap)
                              : timeout;
}

absl::Time ParentSelector::KeepaliveDue() const {
  if (last_keepalive_ == absl::InfinitePast()) return absl::InfinitePast();
  // Before any parent answered, it may not be up yet: asked at the startup
  // pace. A parent chosen after another answered is asked more often until
  // it answers too: it may have missed the activation, and one lost
  // activation must not cost a second failover.
  absl::Duration interval = policy_.keepalive;
  if (!any_heard_) {
    interval = policy_.startup_retry;
  } else if (!heard_since_switch_ && policy_.timeout > absl::ZeroDuration()) {
    interval = std::min(policy_.keepalive, policy_.timeout / 3);
  }
  // On the shared grid: a parent's children renew together and it wakes
  // once for all of them.
  return AlignUp(last_keepalive_ + interval / 2, interval);
}

absl::Time ParentSelector::ProbeDue() const {
  if (!heard_since_switch_ || probed_ ||
      policy_.timeout <= absl::ZeroDuration()) {
    return absl::InfiniteFuture();
  }
  // Half the floor, as Answering() has it: time enough for any live
  // parent's next packet, and a dead one is found well inside its timeout.
  return last_heard_ + policy_.timeout / 2;
}

bool ParentSelector::Answering(absl::Time now,
                               absl::Duration nack_retry) const {
  return heard_since_switch_ &&
         now - last_heard_ <= std::max(nack_retry, policy_.timeout / 2);
}

absl::Time ParentSelector::NextDeadline(absl::Time now) const {
  absl::Time due = absl::InfiniteFuture();
  if (leaving_.has_value()) due = leaving_->until;
  if (active() == nullptr) return due;
  due = std::min({due, std::max(now, KeepaliveDue()), retry_first_at_});
  if (policy_.timeout > absl::ZeroDuration()) {
    due = std::min({due, last_heard_ + Timeout(now), ProbeDue()});
    if (unreachable_) due = now;
  }
  return due;
}

bool ParentSelector::Watching(absl::Time now) const {
  return leaving_.has_value() || (active() != nullptr && !heard_since_switch_ &&
                                  now - chosen_at_ < policy_.timeout);
}

bool ParentSelector::HeldDown(const media::Endpoint& address,
                              absl::Time now) const {
  auto it = failed_at_.find(address);
  return it != failed_at_.end() && now - it->second < policy_.hold_down;
}

size_t ParentSelector::Next(absl::Time now) const {
  if (std::optional<size_t> next = NextAvailable(now)) return *next;
  // Every other parent failed recently: try them in turn anyway.
  const size_t n = parents_.size();
  return n > 1 ? (index_ + 1) % n : index_;
}

std::optional<size_t> ParentSelector::NextAvailable(absl::Time now) const {
  const size_t n = parents_.size();
  for (size_t k = 1; k < n; ++k) {
    const size_t i = (index_ + k) % n;
    if (!HeldDown(parents_[i].address, now)) return i;
  }
  return std::nullopt;
}

size_t ParentSelector::Preferred(absl::Time now) const {
  for (size_t i = 0; i < parents_.size(); ++i) {
    if (!HeldDown(parents_[i].address, now)) return i;
  }
  return 0;
}

}  // namespace cascade::child
