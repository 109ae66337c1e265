// relayd's validated settings, built from a RelayConfig (config.h) or, later,
// from the controller's assignment.
#ifndef CASCADE_RELAY_RELAY_OPTIONS_H_
#define CASCADE_RELAY_RELAY_OPTIONS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "relay/endpoint.h"
#include "relay/nack_tracker.h"
#include "relay/retransmit_ring.h"

namespace cascade::relay {

struct ParentOptions {
  std::string id;
  Endpoint address;
  std::string key;  // raw HMAC key; empty: a plain source, no activation
};

struct ChildOptions {
  std::string id;
  std::optional<Endpoint> address;  // required when static_push
  std::string key;                  // raw HMAC key; required unless static
  bool static_push = false;
};

enum class Direction { kDown, kUp };

struct StreamOptions {
  uint32_t ssrc = 0;
  Direction direction = Direction::kDown;
  bool selected = false;
  bool h264 = false;
};

struct RelayOptions {
  std::string node_id;
  Endpoint listen;
  std::vector<ParentOptions> parents;
  std::vector<ChildOptions> children;
  std::vector<StreamOptions> streams;

  RingLimits ring;
  size_t keyframe_cache_max_packets = 1024;
  NackTiming nack;
  absl::Duration keyframe_request_interval = absl::Milliseconds(500);
  absl::Duration child_timeout = absl::Seconds(5);
  absl::Duration parent_keepalive = absl::Seconds(1);
  absl::Duration child_report = absl::Milliseconds(100);
  double retransmit_rate_per_child = 500;
  absl::Duration activation_window = absl::Seconds(30);
};

}  // namespace cascade::relay

#endif  // CASCADE_RELAY_RELAY_OPTIONS_H_
