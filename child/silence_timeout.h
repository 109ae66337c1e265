// How long the active parent may be silent before a child takes it for
// dead, learnt per link instead of fixed for the busiest relay's worst
// moment: twice the longest gap between the parent's packets seen lately,
// between a floor and a ceiling. The record of the longest gap halves every
// `half_life`, so a parent whose loop stalled once gets the room it showed
// it needs for a while, and a steady parent keeps the floor (the fastest
// failover the configuration allows).
#ifndef CASCADE_CHILD_SILENCE_TIMEOUT_H_
#define CASCADE_CHILD_SILENCE_TIMEOUT_H_

#include <algorithm>
#include <cmath>

#include "absl/time/time.h"

namespace cascade::child {

// The ceiling relayd and relay-probe use unless told otherwise.
inline absl::Duration DefaultSilenceCeiling(absl::Duration floor) {
  return 4 * floor;
}

class SilenceTimeout {
 public:
  // A ceiling at or below the floor: the timeout is the floor, fixed.
  SilenceTimeout(absl::Duration floor, absl::Duration ceiling,
                 absl::Duration half_life = absl::Seconds(10))
      : floor_(floor), ceiling_(ceiling), half_life_(half_life) {}

  // New settings keep what was learnt.
  void SetBounds(absl::Duration floor, absl::Duration ceiling) {
    floor_ = floor;
    ceiling_ = ceiling;
  }

  // The parent was silent for `gap` until `now` (time the child itself did
  // not run already taken out).
  void OnGap(absl::Duration gap, absl::Time now) {
    // Called for every packet from the parent: a gap that cannot lift the
    // timeout above the floor changes nothing, so the decay is not computed.
    if (2 * gap <= floor_) return;
    longest_ = std::max(gap, Longest(now));
    longest_at_ = now;
  }
  // A new parent: nothing is known of it yet.
  void Reset() { longest_ = absl::ZeroDuration(); }

  absl::Duration Get(absl::Time now) const {
    if (ceiling_ <= floor_) return floor_;
    return std::clamp(2 * Longest(now), floor_, ceiling_);
  }

 private:
  absl::Duration Longest(absl::Time now) const {
    if (longest_ == absl::ZeroDuration()) return longest_;
    const double halvings = absl::FDivDuration(now - longest_at_, half_life_);
    return longest_ * std::exp2(-std::max(halvings, 0.0));
  }

  absl::Duration floor_;
  absl::Duration ceiling_;
  absl::Duration half_life_;
  absl::Duration longest_ = absl::ZeroDuration();
  absl::Time longest_at_;
};

}  // namespace cascade::child

#endif  // CASCADE_CHILD_SILENCE_TIMEOUT_H_
