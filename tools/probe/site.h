#ifndef CASCADE_TOOLS_PROBE_SITE_H_
#define CASCADE_TOOLS_PROBE_SITE_H_

// One conference site as relay-probe sees it: a UDP socket receiving a
// Cascade stream, either pushed to it or as an authorised child of a relay
// (signed activation, RR keepalive, NACK for gaps, PLI when it cannot
// decode). It counts every packet; a decoding site also reassembles and
// decodes the H.264 and measures frames, freezes and latency.

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "relay/endpoint.h"
#include "relay/rtp/seq.h"
#include "tools/media/codec.h"
#include "tools/media/frame_assembler.h"
#include "tools/media/nack_scheduler.h"
#include "tools/media/stats.h"
#include "tools/media/udp.h"

namespace cascade {
namespace probe {

struct ParentLink {
  relay::Endpoint address;
  std::string node_id;
  std::string key;  // raw HMAC key bytes
};

struct SiteOptions {
  relay::Endpoint listen;
  std::optional<ParentLink> parent;  // none: a plain push endpoint
  bool decode = true;
  // Send NACK and PLI: to the parent, or to whoever sends the media.
  bool feedback = true;
  uint8_t video_payload_type = 96;
  // Zero: learnt from the RTP timestamps (the smallest frame step seen).
  absl::Duration frame_interval = absl::ZeroDuration();
  media::FrameAssemblerOptions assembler;
  media::NackOptions nack;
  absl::Duration keepalive_interval = absl::Milliseconds(250);
  // Activation is sent again while nothing has come from the parent for
  // this long.
  absl::Duration activation_retry = absl::Seconds(1);
  absl::Duration pli_interval = absl::Milliseconds(300);
};

// Where latency samples go besides the site's own record: the probe's totals
// over all sites, for the whole run and for the current report interval.
struct LatencySinks {
  media::LatencyStats* total = nullptr;
  media::LatencyStats* interval = nullptr;
};

// A site's counters, cumulative since it started (cheap to take often;
// latency is kept apart, see Site::latency()).
struct SiteReport {
  int64_t packets = 0;
  int64_t bytes = 0;
  int64_t lost = 0;  // after repair: expected minus distinct received
  int64_t duplicates = 0;
  int64_t out_of_order = 0;
  int64_t bad_packets = 0;  // not RTP/RTCP, malformed, or too many streams
  int64_t rtcp_received = 0;
  int64_t streams = 0;
  int64_t frames_decoded = 0;
  int64_t decode_errors = 0;   // depacketisation or decoder errors
  int64_t frames_dropped = 0;  // lost a packet for good; never decoded
  int64_t frames_skipped = 0;  // waiting for a keyframe after damage
  int64_t nacks_sent = 0;      // sequence numbers requested
  int64_t plis_sent = 0;
  int64_t activations_sent = 0;
  std::vector<absl::Duration> freezes;
  std::optional<absl::Duration> first_frame;  // from start to first picture
  std::optional<int64_t> last_pattern_frame;  // number read off the picture
};

class Site {
 public:
  Site(const SiteOptions& options, media::UdpFd socket, absl::Time start,
       LatencySinks sinks = {});
  ~Site();

  int fd() const { return socket_.fd(); }
  const relay::Endpoint& local() const { return socket_.local(); }
  bool decodes() const { return options_.decode; }

  // True when the datagram was a media (RTP) packet of this site.
  bool OnDatagram(const relay::Endpoint& from, absl::Span<const uint8_t> data,
                  absl::Time now);
  // Timers: frame assembly, NACK, PLI, keepalive, activation. Call every few
  // milliseconds.
  void OnTick(absl::Time now);
  // Tells the parent this site leaves (signed deactivation).
  void Leave(absl::Time now);

  SiteReport Report() const;
  // Frame latency: send time (header extension) to the arrival of the
  // frame's last packet, repairs included.
  const media::LatencyStats& latency() const { return latency_; }

 private:
  struct Stream;
  struct RtcpCounter;

  bool OnRtp(const relay::Endpoint& from, absl::Span<const uint8_t> data,
             absl::Time now);
  void DecodeFrames(Stream& stream, absl::Time now);
  void RecordLatency(absl::Duration latency);
  void SendFeedback(absl::Span<const uint8_t> packet);
  void SendActivation(bool activate, absl::Time now);
  void SendReceiverReport();
  std::optional<relay::Endpoint> FeedbackTarget() const;

  SiteOptions options_;
  media::UdpFd socket_;
  absl::Time start_;
  uint32_t ssrc_;
  std::mt19937_64 rng_;
  absl::flat_hash_map<uint32_t, std::unique_ptr<Stream>> streams_;
  std::optional<relay::Endpoint> media_sender_;
  absl::Time last_from_parent_ = absl::InfinitePast();
  absl::Time last_activation_ = absl::InfinitePast();
  absl::Time last_keepalive_ = absl::InfinitePast();
  LatencySinks sinks_;
  media::LatencyStats latency_{1 << 16};
  SiteReport counters_;  // the parts not kept per stream
};

}  // namespace probe
}  // namespace cascade

#endif  // CASCADE_TOOLS_PROBE_SITE_H_
