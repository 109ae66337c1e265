// relayd's validated settings, built from a RelayConfig (config.h) or, later,
// from the controller's assignment.
#ifndef CASCADE_RELAY_RELAY_OPTIONS_H_
#define CASCADE_RELAY_RELAY_OPTIONS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "child/nack_scheduler.h"
#include "child/parent_selector.h"
#include "child/silence_timeout.h"
#include "media/endpoint.h"
#include "relay/retransmit_ring.h"

namespace cascade::relay {

// id, address and the link's raw HMAC key (empty: a plain source).
using ParentOptions = child::Parent;

struct ChildOptions {
  std::string id;
  std::optional<media::Endpoint> address;  // required when static_push
  // static_push only: audio streams go here, video to `address` (a player
  // binds one port per kind). None: every stream goes to `address`.
  std::optional<media::Endpoint> audio_address;
  std::string key;  // raw HMAC key; required unless static
  // During a link key rotation's overlap: the key before `key`, whose
  // activations are accepted too (topologyd's Peer.previous_key).
  std::string previous_key;
  bool static_push = false;
  // The controller's standby child: served when it activates us (its
  // failover); released when it was our active child before (a restore).
  bool standby = false;
};

enum class Direction { kDown, kUp };

// One SRTP key of an encrypted down stream (topologyd's StreamKey), held only
// by an edge relay, which decrypts for its plain endpoints
// (relay/stream_decryptor.h); the forwarding core never reads it.
struct StreamKeyOptions {
  uint32_t id = 0;       // the MKI, 4 bytes big-endian in every packet
  std::string material;  // the 16-byte AES key, then the 12-byte salt
  bool operator==(const StreamKeyOptions& o) const {
    return id == o.id && material == o.material;
  }
};

struct StreamOptions {
  uint32_t ssrc = 0;
  Direction direction = Direction::kDown;
  bool selected = false;
  bool h264 = false;
  bool audio = false;  // sent to a static push child's audio_address
  // The topology stream it belongs to, as browsers name it; empty: not
  // served at the browser edge.
  std::string stream_id;
  // The browser edge accepts a WHIP publisher for it (RelayStream.publishable),
  // whose packets get this payload type.
  bool publishable = false;
  uint8_t payload_type = 0;
  // Browsers may watch it here: every down stream, and an up stream at the
  // root, where the command center watches a selected site.
  bool watchable = false;
  // Newest first; empty: the stream is not decrypted here (a relay that
  // only forwards, or a stream sent in clear).
  std::vector<StreamKeyOptions> keys;
};

inline child::NackOptions RelayNackOptions() {
  child::NackOptions nack;
  nack.reorder_wait = absl::Milliseconds(10);
  nack.retry_interval = absl::Milliseconds(40);
  return nack;
}

struct RelayOptions {
  std::string node_id;
  media::Endpoint listen;
  std::vector<ParentOptions> parents;
  std::vector<ChildOptions> children;
  std::vector<StreamOptions> streams;
  // Public keys (DER) whose edge tokens the browser edge accepts.
  std::vector<std::string> edge_token_keys;

  RingLimits ring;
  size_t keyframe_cache_max_packets = 1024;
  // Toward the parent. A relay sits closer to the source than a site, so it
  // asks sooner (its children's requests wait on its answers), with the
  // same doubling back-off and pace as every child.
  child::NackOptions nack = RelayNackOptions();
  absl::Duration keyframe_request_interval = absl::Milliseconds(500);
  absl::Duration child_timeout = absl::Seconds(5);
  // Often enough that a parent notices a dead child in child_silence.
  absl::Duration parent_keepalive = absl::Milliseconds(250);
  // An activated child silent this long is reported as silent (to the
  // controller); it is still served until child_timeout.
  absl::Duration child_silence = absl::Milliseconds(750);
  absl::Duration child_report = absl::Milliseconds(100);
  double retransmit_rate_per_child = 500;
  double retransmit_burst_per_child = 2000;
  absl::Duration activation_window = absl::Seconds(30);

  // Failover (docs/relayd.md, "Failover").
  absl::Duration parent_timeout = absl::Milliseconds(300);
  // Judged per link between the two (child/silence_timeout.h).
  absl::Duration parent_timeout_max =
      child::DefaultSilenceCeiling(parent_timeout);
  // Until any parent has been heard since start: relays of a tree start in
  // any order.
  absl::Duration parent_startup_timeout = absl::Seconds(2);
  absl::Duration parent_hold_down = absl::Seconds(10);
  // Make-before-break: how long the old parent is kept while the new one
  // has sent nothing yet.
  absl::Duration parent_switch_overlap = absl::Seconds(1);
  absl::Duration removed_child_grace = absl::Seconds(2);

  // Timer resolution (relay_core.h, NextTick): busy_tick while repairing or
  // switching; otherwise ticks come at deadlines, at least every idle_tick
  // (child expiry, ring expiry).
  absl::Duration busy_tick = absl::Milliseconds(5);
  absl::Duration idle_tick = absl::Milliseconds(250);
};

}  // namespace cascade::relay

#endif  // CASCADE_RELAY_RELAY_OPTIONS_H_
