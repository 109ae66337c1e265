// Translates the controller's Assignment (proto/topology.proto) into relayd's
// configuration, so an assignment is validated by the same rules as a
// --config file and applied through the same RelayInstance::Apply path.
#ifndef CASCADE_RELAY_ASSIGNMENT_H_
#define CASCADE_RELAY_ASSIGNMENT_H_

#include "absl/status/statusor.h"
#include "proto/relay_config.pb.h"
#include "proto/topology.pb.h"
#include "relay/relay_options.h"

namespace cascade::relay {

// The assignment laid over `local` (from --config and flags): node_id, listen
// and timings stay local; parents, children and streams come from the
// assignment. The assignment's parents in order (plain sources without a
// key); when it lists none (the tree's root), `local`'s parents stay, which
// is how the root learns its source. Active children with a key are
// activated children, plain endpoints are static push; standby children are
// listed (keyed ones only) so they can activate here on failover. Each
// stream's tracks become streams by SSRC; an upstream track is selected
// when an upstream selection names its SSRC. H.264 tracks get the keyframe
// cache; audio tracks go to a plain endpoint's audio_address when it has
// one. A down stream's tracks get the stream's keys (an edge relay's
// stream_keys), which are validated like a --config's. Errors name the
// assignment's field.
absl::StatusOr<cascade::v1::RelayConfig> AssignmentToConfig(
    const cascade::v1::Assignment& assignment,
    const cascade::v1::RelayConfig& local);

// AssignmentToConfig, then the usual validation (config.h ToOptions).
absl::StatusOr<RelayOptions> AssignmentToOptions(
    const cascade::v1::Assignment& assignment,
    const cascade::v1::RelayConfig& local);

}  // namespace cascade::relay

#endif  // CASCADE_RELAY_ASSIGNMENT_H_
