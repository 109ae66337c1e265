#ifndef CASCADE_TOOLS_PROBE_SITE_H_
#define CASCADE_TOOLS_PROBE_SITE_H_

// One conference site as relay-probe sees it: a UDP socket receiving a
// Cascade stream, either pushed to it or as an authorised child of a relay
// (signed activation, RR keepalive, NACK for gaps, PLI when it cannot
// decode). A child holds an ordered list of parents and fails over to the
// next when the active one falls silent, asking the new one for what it
// missed. It counts every packet; a decoding site also reassembles and
// decodes the H.264 and measures frames, freezes and latency. Given stream
// keys, it takes only RTP that authenticates and decrypts (SRTP).

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "child/nack_scheduler.h"
#include "child/parent_selector.h"
#include "child/silence_timeout.h"
#include "media/endpoint.h"
#include "media/rtp/activation.h"
#include "media/rtp/seq.h"
#include "media/srtp/srtp.h"
#include "tools/media/codec.h"
#include "tools/media/frame_assembler.h"
#include "tools/media/stats.h"
#include "tools/media/udp.h"
#include "tools/source/key_schedule.h"

namespace cascade {
namespace probe {

// A relay the site may join, with the key of this child/parent link (the
// relay's id is not needed: may be empty).
using ParentLink = child::Parent;

// The largest upstream packet a site sends (SiteOptions::upstream_packet_size).
inline constexpr size_t kMaxUpstreamPacketSize = 1200;

// One complete H.264 access unit as a site took it, repaired and in order,
// for a recorder: never one that follows damage before the next IDR.
struct VideoAccessUnit {
  uint32_t ssrc = 0;
  uint32_t rtp_timestamp = 0;
  absl::Time completed;              // arrival of its last packet
  bool keyframe = false;             // holds an IDR
  absl::Span<const uint8_t> annexb;  // valid during the call only
};

struct SiteOptions {
  media::Endpoint listen;
  // The primary first, then the standbys; empty: a plain push endpoint.
  std::vector<ParentLink> parents;
  std::string node_id;  // activated as at every parent
  // Once the site has heard from its active parent, this much silence (no
  // RTP, no RTCP; relays send an SR at least every third of their parent
  // timeout) makes it activate the next parent in the list. Each parent
  // switched to gets this long again before the site may move on
  // (child/parent_selector.h has the whole policy).
  absl::Duration parent_timeout = absl::Milliseconds(300);
  // The timeout above is a floor: judged per link up to this
  // (child/silence_timeout.h); at or below it, fixed.
  absl::Duration parent_timeout_max =
      child::DefaultSilenceCeiling(parent_timeout);
  bool decode = true;
  // Set: gets every video access unit the site assembles (with or without
  // decoding), before it is decoded.
  std::function<void(const VideoAccessUnit&)> on_access_unit;
  // Send NACK and PLI: to the parent, or to whoever sends the media.
  bool feedback = true;
  uint8_t video_payload_type = 96;
  // Zero: learnt from the RTP timestamps (the smallest frame step seen).
  absl::Duration frame_interval = absl::ZeroDuration();
  media::FrameAssemblerOptions assembler;
  child::NackOptions nack;
  absl::Duration keepalive_interval = absl::Milliseconds(250);
  // A keepalive carries a signed activation at least this often, and every
  // one while a parent just chosen has not answered.
  absl::Duration activation_retry = absl::Seconds(1);
  absl::Duration pli_interval = absl::Milliseconds(300);
  // Non-zero: the site's own stream upstream, one RTP packet of
  // `upstream_packet_size` bytes every `upstream_interval` with this SSRC,
  // sent from the site's socket to its active parent once that parent has
  // answered (so it follows failover). Each packet carries its send time in
  // the header extension, so the center measures the latency.
  uint32_t upstream_ssrc = 0;
  absl::Duration upstream_interval = absl::Milliseconds(50);
  size_t upstream_packet_size = 200;
  // The upstream stream is SRTP, as relay-source sends its stream
  // (AEAD_AES_128_GCM, the key id in every packet, frame marking and the
  // rollover counter in the header, so relays find frames without the key;
  // the packet keeps upstream_packet_size): under the last of these keys (a
  // key file)...
  std::vector<srtp::StreamKey> upstream_srtp_keys;
  // ...or under those Site::SetUpstreamKeys gives (topologyd's): nothing
  // goes upstream before the first, never a packet in the clear.
  bool upstream_keys_later = false;
  // Non-empty: the streams are SRTP (media/srtp), under any of these keys
  // (the old and the new one during a rotation). A packet that does not
  // authenticate is dropped before it counts (bad_packets); a replay counts
  // as a duplicate.
  std::vector<srtp::StreamKey> srtp_keys;
  // The streams are SRTP whose keys come later, by Site::SetSrtpKeys
  // (topologyd's): until then every RTP packet counts as bad_packets.
  bool srtp_keys_later = false;
};

// Where latency samples go besides the site's own record: the probe's totals
// over all sites, for the whole run and for the current report interval.
struct LatencySinks {
  media::LatencyStats* total = nullptr;
  media::LatencyStats* interval = nullptr;
  // The longest stall (see SiteReport::longest_gap) that ended since the
  // owner last reset it: what a fault window's gap is read from, whatever
  // longer stall an earlier window saw.
  absl::Duration* interval_gap = nullptr;
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
  // From a listed parent that is not the active one (dropped).
  int64_t stale_parent_packets = 0;
  int64_t parent_switches = 0;  // failovers: moves away from a silent parent
  // Make-before-break moves: the parent released the site (it was drained).
  int64_t parent_moves = 0;
  int64_t rtcp_received = 0;
  int64_t streams = 0;
  int64_t frames_decoded = 0;
  int64_t decode_errors = 0;   // depacketisation or decoder errors
  int64_t frames_dropped = 0;  // lost a packet for good; never decoded
  int64_t frames_skipped = 0;  // waiting for a keyframe after damage
  int64_t nacks_sent = 0;      // sequence numbers requested
  int64_t nacks_given_up = 0;  // missing ones no longer asked for
  int64_t plis_sent = 0;
  int64_t activations_sent = 0;
  int64_t upstream_sent = 0;  // packets of the site's own upstream stream
  std::vector<absl::Duration> freezes;
  // The longest time between two arrivals of new packets that were next in
  // sequence or filled a gap, in any stream: the stall a viewer sees.
  absl::Duration longest_gap;
  std::optional<absl::Duration> first_frame;  // from start to first picture
  std::optional<int64_t> last_pattern_frame;  // number read off the picture
};

// What lies between a site's socket and its RTP when the last hop is not
// plain RTP: a WHEP viewer's WebRTC session (whep_transport.h) runs ICE and
// DTLS on the socket and takes SRTP off. The site hands it every datagram
// and sends its RTCP (NACK, PLI) through it.
class SiteTransport {
 public:
  // The site's socket.
  class Sink {
   public:
    virtual ~Sink() = default;
    virtual void SendDatagram(const media::Endpoint& to,
                              absl::Span<const uint8_t> datagram) = 0;
  };

  virtual ~SiteTransport() = default;
  // Where the transport's datagrams go; the site calls it once, first.
  virtual void Bind(Sink* sink) = 0;
  // One datagram from `from`: the plain RTP or RTCP packet it carries (valid
  // until the next call), or an empty span when it was the transport's own
  // (STUN, DTLS) or was dropped.
  virtual absl::Span<const uint8_t> Receive(const media::Endpoint& from,
                                            absl::Span<const uint8_t> datagram,
                                            absl::Time now) = 0;
  // Protects one RTCP packet of the site's and sends it to the peer; false
  // when it cannot (not connected).
  virtual bool SendRtcp(absl::Span<const uint8_t> packet) = 0;
  // Timers: connectivity checks, consent, retransmission.
  virtual void OnTick(absl::Time now) = 0;
  // The site leaves: nothing more is sent (a WHEP session is ended by its
  // DELETE, which the relay answers with close_notify).
  virtual void Close() = 0;
};

class Site : private SiteTransport::Sink {
 public:
  // With a `transport`, every datagram goes through it and feedback goes
  // to its peer (no parents, no keepalives).
  Site(const SiteOptions& options, media::UdpFd socket, absl::Time start,
       LatencySinks sinks = {},
       std::unique_ptr<SiteTransport> transport = nullptr);
  ~Site() override;

  int fd() const { return socket_.fd(); }
  const media::Endpoint& local() const { return socket_.local(); }
  bool decodes() const { return options_.decode; }
  const SiteTransport* transport() const { return transport_.get(); }
  // The parent the site is (or tries to be) a child of; null when pushed to.
  const ParentLink* active_parent() const { return parents_.active(); }
  // 0: the primary.
  size_t active_parent_index() const { return parents_.active_index(); }

  // True when the datagram was a media (RTP) packet of this site.
  bool OnDatagram(const media::Endpoint& from, absl::Span<const uint8_t> data,
                  absl::Time now);
  // ICMP reported `to` unreachable (media/unreachable.h). True when it is
  // the active parent: the next OnTick fails over.
  bool OnUnreachable(const media::Endpoint& to) {
    return parents_.OnUnreachable(to);
  }
  // The probe ran `late` after it meant to: call before OnTick (see
  // child::ParentSelector::Excuse).
  void Excuse(absl::Duration late, absl::Time now) {
    parents_.Excuse(late, now);
  }
  // Timers: parent failover, frame assembly, NACK, PLI, keepalive,
  // activation. Call every few milliseconds while Repairing(), else every
  // few tens.
  void OnTick(absl::Time now);
  // Gaps wait to be asked for: NACK timing wants fine ticks.
  bool Repairing() const;
  // Tells the active parent this site leaves (signed deactivation).
  void Leave(absl::Time now);

  // The site holds exactly `keys` from the next packet on (SiteOptions::
  // srtp_keys_later): a rotation's next key added, an old one dropped; none
  // drops the stream's keys. Keys CheckKeys refuses change nothing.
  absl::Status SetSrtpKeys(std::vector<srtp::StreamKey> keys);
  // The upstream stream's keys (SiteOptions::upstream_keys_later): each
  // packet goes under the newest whose send_from has passed.
  void SetUpstreamKeys(std::vector<source::ScheduledKey> keys) {
    upstream_keys_.Set(std::move(keys));
  }

  SiteReport Report() const;
  // Frame latency: send time (header extension) to the arrival of the
  // frame's last packet, repairs included. A frame without the extension
  // (a WHEP edge drops header extensions) takes the send time drawn in
  // the test pattern, read after decoding: milliseconds, from when the
  // source drew the picture, so its encoding is included.
  const media::LatencyStats& latency() const { return latency_; }

 private:
  struct Stream;
  struct RtcpCounter;

  bool encrypted() const {
    return options_.srtp_keys_later || !options_.srtp_keys.empty();
  }
  bool OnRtp(const media::Endpoint& from, absl::Span<const uint8_t> data,
             absl::Time now);
  void OnRtcp(const media::Endpoint& from, absl::Span<const uint8_t> data,
              absl::Time now);
  void DecodeFrames(Stream& stream, absl::Time now);
  void RecordLatency(absl::Duration latency);
  void SendFeedback(absl::Span<const uint8_t> packet);
  // SiteTransport::Sink
  void SendDatagram(const media::Endpoint& to,
                    absl::Span<const uint8_t> datagram) override;
  // A receiver report, with a signed (de)activation when `kind` is set.
  void SendReport(const ParentLink& parent,
                  std::optional<rtp::ActivationKind> kind, absl::Time now);
  void SendUpstream(absl::Time now);
  bool upstream_encrypted() const {
    return options_.upstream_keys_later || !options_.upstream_srtp_keys.empty();
  }
  // Moves the upstream sender to the key scheduled for `now`; false while
  // there is none (nothing may be sent).
  bool FollowUpstreamKey(absl::Time now);
  std::optional<media::Endpoint> FeedbackTarget() const;

  SiteOptions options_;
  media::UdpFd socket_;
  std::unique_ptr<SiteTransport> transport_;
  std::vector<uint8_t> plain_;  // a decrypted packet (with srtp_keys)
  absl::Time start_;
  uint32_t ssrc_;
  std::mt19937_64 rng_;
  absl::flat_hash_map<uint32_t, std::unique_ptr<Stream>> streams_;
  std::optional<media::Endpoint> media_sender_;
  child::ParentSelector parents_;
  // The upstream stream's next packet: sequence number and when it is due.
  uint16_t upstream_seq_ = 0;
  absl::Time next_upstream_ = absl::InfinitePast();
  source::KeySchedule upstream_keys_;
  std::unique_ptr<srtp::SrtpSender> upstream_srtp_;
  LatencySinks sinks_;
  media::LatencyStats latency_{1 << 16};
  SiteReport counters_;  // the parts not kept per stream
};

}  // namespace probe
}  // namespace cascade

#endif  // CASCADE_TOOLS_PROBE_SITE_H_
