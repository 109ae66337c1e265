// RelayCore's per-stream and per-child state and the names of its drop
// kinds, shared by its three source files (the data path, feedback, and
// metrics); private to the relay_core target.
#ifndef CASCADE_RELAY_RELAY_CORE_STATE_H_
#define CASCADE_RELAY_RELAY_CORE_STATE_H_

#include <optional>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "base/token_bucket.h"
#include "relay/relay_core.h"

namespace cascade::relay {

// The kinds of relay_drops_total.
inline constexpr absl::string_view kRelay = "relay";
inline constexpr absl::string_view kRtp = "rtp";
inline constexpr absl::string_view kRtcp = "rtcp";
inline constexpr absl::string_view kActivation = "activation";

struct RelayCore::Stream {
  Stream(const StreamOptions& o, const RelayOptions& relay)
      : options(o),
        ring(relay.ring),
        keyframes(relay.keyframe_cache_max_packets),
        nacks(relay.nack) {}

  StreamOptions options;
  rtp::SeqUnwrapper unwrapper;
  RetransmitRing ring;
  KeyframeCache keyframes;
  child::NackScheduler nacks;
  absl::Time last_keyframe_request = absl::InfinitePast();
  // A deselected stream flows on for the removed children's grace: a drain
  // deselects it along the old path while the drained relay's site still
  // sends through it, until its new parent answers.
  absl::Time deselected_until = absl::InfinitePast();
  // Upstream: the child that sends it, for keyframe requests from above.
  std::optional<media::Endpoint> source;
  // A browser publishes it here (OnLocalSource) until then: keyframe
  // requests go to it through the local viewers.
  absl::Time published_until = absl::InfinitePast();
  // The run of consecutive numbers the ring refused though they were no
  // copies of what it holds, and the last of them (RelayCore::Renumbered).
  int renumbered_run = 0;
  uint16_t renumbered_last = 0;
  // The RTP timestamp of the newest packet taken: a refused packet on the
  // same clock is an old one of this numbering (a new parent's keyframe
  // cache), not a new numbering (another session's random offset).
  uint32_t newest_timestamp = 0;
  StreamCounters counters;
};

struct RelayCore::Child {
  Child(const ChildOptions& o, double rate, double burst)
      : options(o), retransmits(rate, burst) {}

  ChildOptions options;
  bool active = false;
  media::Endpoint address;
  absl::Time last_heard;
  TokenBucket retransmits;
  // Set when new settings no longer list the child: served until then.
  absl::Time remove_at = absl::InfiniteFuture();
  // The controller moved the child elsewhere while it was served here (it is
  // no longer listed, or was demoted to standby): each report repeats the
  // release until the child goes. A child that activates us afresh (its own
  // failover) is served without one.
  bool released = false;
};

}  // namespace cascade::relay

#endif  // CASCADE_RELAY_RELAY_CORE_STATE_H_
