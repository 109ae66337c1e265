// In-band activation of a child at its parent: an authenticated RTCP APP
// packet, and a replay guard.
//
// Wire format: one RTCP APP packet (RFC 3550 section 6.7), all integers
// big-endian.
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |V=2|P=0| subtype |    PT=204     |            length             |
//   +---------------------------------------------------------------+
//   |                   SSRC of the sender (or 0)                   |
//   +---------------------------------------------------------------+
//   |                       name = "CSCD"                           |
//   +---------------------------------------------------------------+
//   |  version = 1  |  id length N  |     flags     |  reserved = 0 |
//   +---------------------------------------------------------------+
//   |              timestamp, ms since the Unix epoch               |
//   |                          (64 bits)                            |
//   +---------------------------------------------------------------+
//   |                        nonce (64 bits)                        |
//   |                                                               |
//   +---------------------------------------------------------------+
//   |          requested SSRC (0 unless flags bit 0 is set)         |
//   +---------------------------------------------------------------+
//   |   node id, N bytes (1..64), then zeros to a 4-byte boundary   |
//   +---------------------------------------------------------------+
//   |        HMAC-SHA256 under the node's key of every byte         |
//   |          above, from the first header byte (32 bytes)         |
//   +---------------------------------------------------------------+
//
// subtype 1 activates (the parent starts sending to the packet's source
// address), subtype 2 deactivates (the child leaves, e.g. on failover, so the
// parent stops at once instead of after the keep-alive timeout). Flags bit 0:
// the requested SSRC field is meaningful; other flag bits must be 0.
// The MAC covers the header (subtype, length), SSRC, name and every field, so
// no bit can change without the key; the replay guard handles reuse.
#ifndef CASCADE_MEDIA_RTP_ACTIVATION_H_
#define CASCADE_MEDIA_RTP_ACTIVATION_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "control/node_id.h"
#include "media/rtp/rtcp.h"

namespace cascade::rtp {

inline constexpr absl::string_view kActivationAppName = "CSCD";
inline constexpr uint8_t kActivationVersion = 1;
// The one limit on node ids (control/node_id.h), which the field's size
// follows.
inline constexpr size_t kMaxNodeIdSize = control::kMaxNodeIdSize;
inline constexpr size_t kActivationMacSize = 32;
// Largest activation packet (longest node id).
inline constexpr size_t kMaxActivationSize =
    12 + 24 + kMaxNodeIdSize + kActivationMacSize;

enum class ActivationKind : uint8_t {
  kActivate = 1,
  kDeactivate = 2,
};

struct ActivationRequest {
  ActivationKind kind = ActivationKind::kActivate;
  uint32_t sender_ssrc = 0;
  absl::string_view node_id;  // 1..kMaxNodeIdSize bytes
  int64_t timestamp_ms = 0;   // ms since the Unix epoch
  uint64_t nonce = 0;
  std::optional<uint32_t> requested_ssrc;
};

enum class ActivationResult : uint8_t {
  kOk = 0,
  kBadMac,
  kMalformed,
};

// "ok", "bad_mac", "malformed".
absl::string_view ErrorName(ActivationResult result);

// True when an APP packet is addressed to this protocol (name "CSCD"), so a
// caller can tell activation from other APP traffic before verifying.
bool IsActivation(const AppView& app);

// A link key held as a string (raw bytes), as the MAC functions take it.
inline absl::Span<const uint8_t> KeyBytes(absl::string_view key) {
  return absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(key.data()),
                             key.size());
}

// Writes an activation packet signed with `key`; returns its size, or 0 when
// the request is invalid (node id empty or too long) or does not fit.
size_t BuildActivation(const ActivationRequest& request,
                       absl::Span<const uint8_t> key, absl::Span<uint8_t> out);

// Decodes the fields without checking the MAC, so the caller can look up the
// node's key: kOk or kMalformed. request->node_id points into app.packet.
// Never act on the result before VerifyActivation says kOk.
ActivationResult ParseActivation(const AppView& app,
                                 ActivationRequest* request);

// Decodes and checks the MAC under `key` (constant-time compare): kOk,
// kMalformed or kBadMac. *request is filled on kOk and kBadMac.
ActivationResult VerifyActivation(const AppView& app,
                                  absl::Span<const uint8_t> key,
                                  ActivationRequest* request);

// ---- Replay protection ----

struct ReplayGuardOptions {
  // Accepted distance between a request's timestamp and now, either way.
  absl::Duration window = absl::Seconds(30);
  // Recent (timestamp, nonce) pairs kept per node. A request older than the
  // oldest pair forgotten is refused, so a full set never lets a replay in;
  // it only refuses honest requests reordered by more than this many.
  size_t nonces_per_node = 32;
};

enum class ReplayVerdict : uint8_t {
  kAccepted = 0,
  kOutsideWindow,  // timestamp too far from now
  kReplayed,       // this (timestamp, nonce) was accepted before
  kStale,          // at or before a timestamp the guard no longer remembers
};

// "accepted", "outside_window", "replayed", "stale".
absl::string_view ErrorName(ReplayVerdict verdict);

// Refuses reused activation requests. Feed it only requests whose MAC
// verified, so node ids come from the configured set and memory stays
// bounded: per node, the newest forgotten timestamp plus at most
// nonces_per_node pairs.
class ReplayGuard {
 public:
  explicit ReplayGuard(ReplayGuardOptions options = {});

  // Checks a verified request and, when accepted, remembers it.
  ReplayVerdict Check(absl::string_view node_id, int64_t timestamp_ms,
                      uint64_t nonce, absl::Time now);

  // Drops what is known about a node (e.g. removed from the topology).
  void Forget(absl::string_view node_id);

  size_t node_count() const { return nodes_.size(); }

 private:
  struct Seen {
    int64_t timestamp_ms;
    uint64_t nonce;
  };
  struct NodeState {
    // Requests at or before this timestamp are refused: it is the newest
    // timestamp the guard has forgotten.
    int64_t floor_ms = INT64_MIN;
    std::vector<Seen> recent;  // sorted by timestamp, oldest first
  };

  ReplayGuardOptions options_;
  absl::flat_hash_map<std::string, NodeState> nodes_;
};

}  // namespace cascade::rtp

#endif  // CASCADE_MEDIA_RTP_ACTIVATION_H_
