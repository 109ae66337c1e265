// The streams' SRTP keys in the controller's state
// (ControllerState.stream_keys): making and rotating them, pruning those no
// longer needed, and who may hold them. The keys are the controller's; a
// stream's source and its receivers get them (GetStreamKeys), a relay that
// forwards the stream never does (docs/security.md, "Stream keys from
// topologyd"). Downstream and upstream streams are keyed alike. Pure
// functions of the state, shared by live changes and journal replay.
#ifndef CASCADE_TOPOLOGY_STREAM_KEYS_H_
#define CASCADE_TOPOLOGY_STREAM_KEYS_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "proto/controller.pb.h"

namespace cascade::topology {

// The 16-byte AES key and the 12-byte salt of AEAD_AES_128_GCM (RFC 7714).
inline constexpr size_t kStreamKeyMaterialSize = 28;

// Fills in a rotation decided at `now`: one fresh key (OpenSSL's RAND_bytes)
// for `rotate->stream` (either direction), or for every downstream stream
// when it is empty (upstream ones rotate by name and on their timer),
// its id one more than the stream's newest. A stream's first key is used at
// once, a later one from `now + overlap`. NOT_FOUND for no such stream,
// FAILED_PRECONDITION for none at all or when OpenSSL gives no randomness
// (the change is refused).
absl::Status ResolveStreamKeyRotation(
    const cascade::v1::ControllerState& state, absl::Time now,
    absl::Duration overlap, cascade::v1::RotateStreamKeyRequest* rotate);

// Adds a resolved rotation's keys, each stream's newest first, and prunes
// what no receiver needs any more: of the keys in use by `rotate.unix_ms`,
// all but the newest and the one before it (its packets may still be on
// their way). FAILED_PRECONDITION while a stream's previous rotation is in
// its overlap: its key would be pruned before anyone used it.
absl::Status ApplyStreamKeyRotation(
    const cascade::v1::RotateStreamKeyRequest& rotate,
    cascade::v1::ControllerState* state);

// Drops the keys of streams the topology no longer has.
void DropOrphanStreamKeys(cascade::v1::ControllerState* state);

// The streams (downstream and upstream) that need a key by `now`: those with
// none yet, those whose newest key was made `every` or longer ago, and those
// whose newest key was made before a node's certificate was revoked
// (certificate_revocation.h). Never one whose rotation is in its overlap.
std::vector<std::string> StreamsDueForKey(
    const cascade::v1::ControllerState& state, absl::Time now,
    absl::Duration every);

// The relays that decrypt for what they serve: those with an edge_address
// (browsers) and those a plain endpoint names as its parent or a standby.
// Their assignments carry the keys; every other relay only forwards.
absl::flat_hash_set<std::string> DecryptingRelays(
    const cascade::v1::Topology& topology);

// What a relay that DecryptingRelays names gets in its assignment: the
// downstream streams' keys. Never an upstream stream's: no relay decrypts
// a site's camera.
std::vector<cascade::v1::StreamKey> DecryptingRelayKeys(
    const cascade::v1::ControllerState& state);

// Whether `rotate` (resolved: its keys set) gives a downstream stream a
// key: only those are in relays' assignments (DecryptingRelayKeys).
bool RotatesDownstreamKey(const cascade::v1::ControllerState& state,
                          const cascade::v1::RotateStreamKeyRequest& rotate);

// The keys `nodes` may hold, with their streams (keys and streams of the
// response; the caller adds the rest):
// - a site (not a plain endpoint) every downstream stream's keys and those
//   of the upstream streams whose source_node it is;
// - a downstream stream's source node (a plain endpoint: the command
//   center) that stream's keys and, as the top of the tree where the sites'
//   upstream streams arrive, every upstream stream's keys.
// PERMISSION_DENIED names the first node that may hold none (any relay,
// even one named as a source; a plain endpoint site), NOT_FOUND one that
// does not exist, INVALID_ARGUMENT an empty list.
absl::StatusOr<cascade::v1::GetStreamKeysResponse> StreamKeysFor(
    const cascade::v1::ControllerState& state,
    absl::Span<const std::string> nodes);

}  // namespace cascade::topology

#endif  // CASCADE_TOPOLOGY_STREAM_KEYS_H_
