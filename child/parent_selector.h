// Which parent a child receives from, and when it tells that parent it is
// alive: the one failover state machine of relayd and of every site.
//
// A child holds an ordered list of parents. It activates the first one that
// is not held down, keeps alive toward it on the grid every relay and site
// shares (base/clock.h, AlignUp), and when the active parent has been silent
// past the timeout it activates the next one at once, without the
// controller (failover). Each failover within a minute of the last doubles
// the next timeout, so parents that are starved, not dead, are not bounced
// between. A parent silent for half the timeout's floor is asked at once,
// off the keepalive grid: if its process is gone, the kernel answers for it
// (ICMP port unreachable, OnUnreachable) and the child fails over after one
// round trip instead of the whole timeout. A parent that is only slow says
// nothing, and keeps its timeout. Moves that are not failures are
// make-before-break: a new list from the controller, or the parent's signed
// release (it was drained), keep the old parent's media until the new one sends
// its own. So does the way back to a parent left before it ever answered (it
// did not know the child yet: the controller's orders reach the child before
// its new parent): it is tried again, first in the list as it is, once its
// hold-down ends.
//
// Time-driven and socket-free: the caller feeds it what it hears and sends
// what OnTick asks for, so tests drive it with plain absl::Time values.
#ifndef CASCADE_CHILD_PARENT_SELECTOR_H_
#define CASCADE_CHILD_PARENT_SELECTOR_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "child/silence_timeout.h"
#include "media/endpoint.h"
#include "media/rtp/activation.h"
#include "media/rtp/rtcp.h"

namespace cascade::child {

struct Parent {
  std::string id;  // for logs; may be empty (a site need not know it)
  media::Endpoint address;
  std::string key;  // raw HMAC key of the link; empty: a plain source
};

struct ParentPolicy {
  // Silence after which the active parent is taken for dead; zero or less:
  // never (a root fed by a plain source).
  absl::Duration timeout = absl::Milliseconds(300);
  // Above `timeout`: the silence is judged per link, against twice the
  // longest gap the parent left lately, between `timeout` and this
  // (child/silence_timeout.h). At or below it: `timeout`, fixed.
  absl::Duration timeout_max = absl::ZeroDuration();
  // Until any parent has been heard: the nodes of a tree start in any
  // order. Infinite: a child that never reached its first parent keeps
  // asking it.
  absl::Duration startup_timeout = absl::Seconds(2);
  // A parent left for silence is passed over this long.
  absl::Duration hold_down = absl::Seconds(10);
  // Receiver reports toward the parent, so it knows the child is alive.
  absl::Duration keepalive = absl::Milliseconds(250);
  // Until any parent has answered, the child asks (a signed keepalive) this
  // often.
  absl::Duration startup_retry = absl::Milliseconds(100);
  // Every keepalive is signed until the active parent answers; after that
  // only when it has been silent this long (zero: every keepalive), so a
  // parent that lost the child takes it back.
  absl::Duration activation_refresh = absl::ZeroDuration();
  // Make-before-break: how long an old parent is kept while the new one
  // has sent nothing yet.
  absl::Duration switch_overlap = absl::Seconds(1);
};

class ParentSelector {
 public:
  // What OnTick asks the caller to send.
  struct Actions {
    // Send a receiver report to the active parent, with a signed
    // activation when `activate`.
    bool keepalive = false;
    bool activate = false;
    // A parent left make-before-break: tell it with a signed deactivation,
    // so it stops at once instead of at its timeout.
    std::optional<Parent> release;
    // Left this silent parent for the next one this tick (for the log).
    std::optional<Parent> failed_over_from;
    // ... because its host reported it unreachable, not for its silence.
    bool unreachable = false;
    // Moved make-before-break back to the first parent, left before it
    // answered (for the log).
    bool retried_first = false;
  };

  ParentSelector(const ParentPolicy& policy, absl::Time now);

  // New settings. A new first parent (the first not held down) is taken
  // make-before-break. True when the active parent changed.
  bool SetParents(std::vector<Parent> parents, absl::Time now);
  void SetPolicy(const ParentPolicy& policy) {
    policy_ = policy;
    silence_.SetBounds(policy.timeout, policy.timeout_max);
  }

  bool IsActive(const media::Endpoint& from) const;
  // A parent being left make-before-break still feeds the child.
  bool IsLeaving(const media::Endpoint& from) const;
  // The parent being left sent something: it is kept past the overlap
  // while it still feeds us and the new one has not (it stops by itself when
  // its grace for us ends).
  void OnLeavingHeard(absl::Time now) {
    if (leaving_.has_value()) leaving_->last_heard = now;
  }
  bool IsListed(const media::Endpoint& from) const;

  struct Heard {
    // Its first word since it was chosen: requests that went to a silent
    // parent were never answered, so the caller asks the new one again.
    bool first = false;
    // The silence it ends (not for a first word): what the timeout is
    // learnt from, and what a relay's gap histogram shows.
    absl::Duration gap = absl::ZeroDuration();
    // Its first media ends a make-before-break switch: tell the old parent
    // (signed deactivation); from now on its packets are not taken.
    std::optional<Parent> release;
  };
  // The active parent sent something.
  Heard OnActiveHeard(bool media, absl::Time now);
  // An RTCP APP from the active parent: when it is the parent's signed
  // release of this child (a deactivation under the link key, not our own
  // reflected back, not replayed), the child moves to its next parent
  // make-before-break. True when accepted.
  bool OnParentApp(const rtp::AppView& app, absl::string_view own_id,
                   absl::Time now);

  // The kernel reported a packet to `to` undeliverable (ICMP port or host
  // unreachable). When `to` is the active parent, which had answered since
  // it was chosen, the next OnTick fails over: a closed port is a dead
  // process, not a slow one. True when it was the active parent.
  bool OnUnreachable(const media::Endpoint& to);

  Actions OnTick(absl::Time now);
  // The silence the active parent is allowed now (its failover timeout).
  absl::Duration Timeout(absl::Time now) const;
  // The caller ran `late` after it meant to (descheduled, stopped, busy):
  // the parent's packets wait unread in the socket, so that time is not
  // taken for the parent's silence. Call after reading the socket, before
  // OnTick. Lateness within a sixth of the timeout is ordinary jitter and
  // counts.
  void Excuse(absl::Duration late, absl::Time now);

  // The next instant OnTick has work: a keepalive, or the parent's silence
  // reaching the timeout.
  absl::Time NextDeadline(absl::Time now) const;
  // While a switch is under way, or a parent just chosen has not answered
  // for up to one timeout: the caller ticks finely. No longer: a parent that
  // never answers (a wrong assignment, a relay not started yet) must not
  // keep hundreds of children waking every few milliseconds.
  bool Watching(absl::Time now) const;

  const Parent* active() const;
  const Parent* leaving() const;
  // Where the child's own stream goes: the active parent once it has
  // answered (before that it drops what a child it does not serve yet
  // sends); until then the parent being left, which still serves the child.
  // Null while neither would take it.
  const Parent* upstream_parent() const;
  size_t active_index() const { return index_; }
  bool heard_since_switch() const { return heard_since_switch_; }
  // Whether NACKs are worth sending: the active parent has answered since
  // it was chosen and is not falling silent. Requests to a silent parent,
  // or to a new one that may not know the child yet, would be spent for
  // nothing; they are kept for the parent that answers.
  bool Answering(absl::Time now, absl::Duration nack_retry) const;
  absl::Time last_heard() const { return last_heard_; }
  // Moves away from a silent parent.
  uint64_t failovers() const { return failovers_; }
  // Of those, moves because the parent's host reported it unreachable.
  uint64_t unreachable_failovers() const { return unreachable_failovers_; }
  // Make-before-break moves: new settings or a parent's release.
  uint64_t switches() const { return switches_; }
  uint64_t releases_accepted() const { return releases_accepted_; }

 private:
  void Use(size_t index, absl::Time now);
  void FailOver(absl::Time now, Actions* actions);
  // The first parent not held down, if it is not the active one, make-
  // before-break.
  void RetryFirst(absl::Time now, Actions* actions);
  bool ActivationDue(absl::Time now) const;
  absl::Time KeepaliveDue() const;
  // When the active parent's silence is asked about off the grid.
  absl::Time ProbeDue() const;
  bool HeldDown(const media::Endpoint& address, absl::Time now) const;
  size_t Next(absl::Time now) const;
  // The next parent not held down, if any other is.
  std::optional<size_t> NextAvailable(absl::Time now) const;
  size_t Preferred(absl::Time now) const;

  ParentPolicy policy_;
  SilenceTimeout silence_;
  std::vector<Parent> parents_;
  size_t index_ = 0;  // parents_.size(): none
  absl::Time last_heard_;
  absl::Time chosen_at_ = absl::InfinitePast();
  bool heard_since_switch_ = false;
  bool any_heard_ = false;
  // The active parent's silence was asked about; reset when it is heard.
  bool probed_ = false;
  // Its host reported it unreachable since it was last heard.
  bool unreachable_ = false;
  struct Leaving {
    Parent parent;
    absl::Time until;
    absl::Time last_heard;
  };
  std::optional<Leaving> leaving_;
  // When each parent was left for silence (hold-down).
  absl::flat_hash_map<media::Endpoint, absl::Time> failed_at_;
  int recent_failovers_ = 0;
  absl::Time last_failover_ = absl::InfinitePast();
  // When the first parent, left before it ever answered, is tried again.
  absl::Time retry_first_at_ = absl::InfiniteFuture();
  absl::Time last_keepalive_ = absl::InfinitePast();
  absl::Time last_activation_ = absl::InfinitePast();
  rtp::ReplayGuard release_replays_;
  uint64_t failovers_ = 0;
  uint64_t unreachable_failovers_ = 0;
  uint64_t switches_ = 0;
  uint64_t releases_accepted_ = 0;
};

}  // namespace cascade::child

#endif  // CASCADE_CHILD_PARENT_SELECTOR_H_
