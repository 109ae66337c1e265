#ifndef CASCADE_TOOLS_SOURCE_UPSTREAM_COUNTER_H_
#define CASCADE_TOOLS_SOURCE_UPSTREAM_COUNTER_H_

// What the command center receives back: the sites' upstream streams the
// root relay forwards to it (selected with Admin SelectUpstream). Counts RTP
// per SSRC, the first arrival, and latency from the send time in the header
// extension (sender and center share one clock on a test machine). Given
// keys, the streams are SRTP (media/srtp, each upstream stream under its
// own keys): only packets that authenticate and decrypt count, the rest are
// bad packets, counted apart.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "media/srtp/keys.h"
#include "media/srtp/srtp.h"
#include "tools/media/stats.h"

namespace cascade {
namespace source {

// The keys of the encrypted upstream streams.
struct UpstreamKeys {
  // Each stream's keys under its SSRCs (topologyd's, by the stream's
  // tracks).
  absl::flat_hash_map<uint32_t, std::vector<srtp::StreamKey>> by_ssrc;
  // Any other SSRC's (a key file); empty: an SSRC not above is refused.
  std::vector<srtp::StreamKey> any;
};

class UpstreamCounter {
 public:
  // More SSRCs than this coming back is junk, not a selection.
  static constexpr size_t kMaxStreams = 64;

  struct Stream {
    int64_t packets = 0;
    int64_t bytes = 0;
    absl::Time first_arrival;
    // Packets without a readable send time (no latency sample).
    int64_t without_send_time = 0;
    media::LatencyStats latency{1 << 16};
  };

  enum class Result {
    kCounted,
    kMalformed,
    kTooManyStreams,
    // Encrypted streams: no key for the SSRC, forged, altered, replayed.
    kNotAuthenticated,
  };

  // `encrypted`: every packet must authenticate under the keys SetKeys
  // gives (none before the first call: all are refused).
  explicit UpstreamCounter(bool encrypted = false);
  ~UpstreamCounter();

  // `data` is a datagram the demultiplexer classified as RTP.
  Result OnRtp(absl::Span<const uint8_t> data, absl::Time arrival);

  // Holds exactly `keys` from the next packet on (a rotation adds a key,
  // drops an old one); keys CheckKeys refuses are left out, with a warning.
  // Only with `encrypted`.
  void SetKeys(UpstreamKeys keys);

  // By SSRC, in order.
  const std::map<uint32_t, Stream>& streams() const { return streams_; }
  // Packets refused as kNotAuthenticated.
  int64_t bad_packets() const { return bad_packets_; }

 private:
  // The packet in plain RTP (in plain_), or nullopt when it does not
  // authenticate.
  std::optional<absl::Span<const uint8_t>> Decrypt(
      uint32_t ssrc, absl::Span<const uint8_t> data);

  const bool encrypted_;
  UpstreamKeys keys_;
  absl::flat_hash_map<uint32_t, std::unique_ptr<srtp::SrtpReceiver>> receivers_;
  std::vector<uint8_t> plain_;
  int64_t bad_packets_ = 0;
  std::map<uint32_t, Stream> streams_;
};

}  // namespace source
}  // namespace cascade

#endif  // CASCADE_TOOLS_SOURCE_UPSTREAM_COUNTER_H_
