// The forwarding core of relayd, free of sockets and event loops: datagrams
// and timer ticks in, packets out through a Transport. It owns every piece of
// per-stream and per-peer state and all counters; the event loop (server.h)
// calls it, tests drive it with a fake clock and a fake transport.
//
// Security rule: packets leave only toward the active parent or an
// authorised child (static push, or activated with a valid signed APP).
#ifndef CASCADE_RELAY_RELAY_CORE_H_
#define CASCADE_RELAY_RELAY_CORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "base/prometheus_text.h"
#include "child/parent_selector.h"
#include "media/endpoint.h"
#include "media/rtp/activation.h"
#include "media/rtp/rtcp.h"
#include "media/rtp/rtp.h"
#include "media/rtp/seq.h"
#include "relay/keyframe_cache.h"
#include "relay/packet_pool.h"
#include "relay/relay_options.h"
#include "relay/retransmit_ring.h"
#include "relay/transport.h"

namespace cascade::relay {

// Consecutive numbers a relay refuses, though they are no copies of what it
// holds, before it follows the source's fresh numbering (RelayCore::
// Renumbered). Long enough that reordering or late copies never look like
// it; short enough that a subtree loses only this many packets a tier.
inline constexpr int kRenumberedRun = 8;

struct StreamCounters {
  uint64_t packets_in = 0;
  uint64_t bytes_in = 0;
  uint64_t packets_out = 0;  // every copy sent, retransmissions included
  uint64_t bytes_out = 0;
  uint64_t nacks_received = 0;  // sequence numbers asked for by children
  uint64_t nacks_answered = 0;  // ... resent from the ring
  uint64_t nacks_sent = 0;      // sequence numbers asked of the parent
  uint64_t repaired = 0;        // gaps filled after a NACK
  uint64_t nack_gave_up = 0;
  uint64_t keyframe_requests_received = 0;
  uint64_t keyframe_requests_sent = 0;
  uint64_t keyframe_requests_coalesced = 0;
  uint64_t keyframe_cache_packets_sent = 0;
  // Times the source's numbering started afresh (RelayCore::Renumbered).
  uint64_t renumbered = 0;
};

struct CoreCounters {
  uint64_t activations_accepted = 0;
  uint64_t deactivations = 0;
  uint64_t child_timeouts = 0;
  uint64_t rtcp_in = 0;
  uint64_t rtcp_out = 0;
  uint64_t h264_malformed = 0;    // forwarded anyway; only the cache skips it
  uint64_t parent_failovers = 0;  // moves away from a silent parent
  // Of those, moves because the parent's host reported its port closed.
  uint64_t parent_unreachable_failovers = 0;
  uint64_t parent_switches = 0;  // make-before-break moves (new settings)
};

// What the relay itself serves beside its children: the browser edge
// (relay/edge.h) sees every packet of a down stream as a child would, and
// every packet of an up stream that reaches it.
class LocalViewers {
 public:
  virtual ~LocalViewers() = default;
  virtual void OnStreamPacket(const StreamOptions& stream,
                              const PacketRef& packet) = 0;
  // The source's sender report of a down stream (lip sync).
  virtual void OnDownSenderReport(const StreamOptions& stream,
                                  const rtp::SenderReportView& sr) = 0;
  // Someone wants a keyframe of a stream published here (OnLocalSource).
  virtual void OnPublishedKeyframeRequest(const StreamOptions& stream) = 0;
};

class RelayCore {
 public:
  RelayCore(const RelayOptions& options, const Clock* clock, PacketPool* pool,
            Transport* transport);
  ~RelayCore();

  // One datagram from `from`. Everything malformed or unauthorised is
  // counted in drops() and dropped.
  void OnDatagram(const media::Endpoint& from, const PacketRef& packet);
  // The kernel reported a packet to `to` undeliverable (ICMP unreachable).
  // The active parent's dead process is failed over at the next OnTick.
  void OnUnreachable(const media::Endpoint& to);
  // Timers: NACK retries, keyframe request pacing, keepalives, child
  // timeouts, parent failover. Call again within NextTick().
  void OnTick();
  // How soon the next OnTick is due: busy_tick while repairs are pending or
  // a parent is being changed, else the next deadline (parent silence,
  // keepalive, child report), at most idle_tick away. The caller arms its
  // timer with it, and calls it again after every read: a tick or read
  // later than that finds the relay was not running, and its parent's
  // packets waiting unread are not taken for silence.
  absl::Duration NextTick();
  // Takes new settings at run time; children that stay keep their state and
  // stay active. A new first parent is taken make-before-break: the old one
  // is heard until the new one sends media. Children no longer listed are
  // served for removed_child_grace, so their own move is seamless too.
  void Apply(const RelayOptions& options);
  size_t parent_index() const { return parents_.active_index(); }
  // Tells activated children the relay is leaving (RTCP BYE).
  void SayGoodbye();

  // The browser edge's way in (loop thread; `viewers` outlives the core or
  // is unset first).
  void set_local_viewers(LocalViewers* viewers) { local_viewers_ = viewers; }
  // A local viewer lost `seq` of stream `ssrc`: the packet from the
  // retransmission ring, or an empty ref (then asked of the parent).
  PacketRef Resend(uint32_t ssrc, uint16_t seq);
  // A local viewer wants a keyframe: asked of the stream's source (the
  // parent, the child sending an up stream, a local publisher), coalesced
  // with the children's requests.
  void RequestKeyframe(uint32_t ssrc);
  // A packet of a stream published on this relay (RelayStream.publishable;
  // the browser edge's WHIP), taken as its source would send it: a down
  // stream is cached and fanned out, an up stream goes to the parent while
  // selected. Its keyframe requests then go to OnPublishedKeyframeRequest.
  void OnLocalSource(const PacketRef& packet);
  // The local publisher's sender report of a down stream, passed on as the
  // source's would be.
  void OnLocalSenderReport(const PacketRef& packet);
  // The down stream's packets from its last keyframe on (empty: none yet).
  const std::vector<PacketRef>& CachedKeyframe(uint32_t ssrc) const;

  // Prometheus text exposition of every counter.
  void RenderMetrics(std::string* out) const;

  const RelayOptions& options() const { return options_; }
  uint32_t ssrc() const { return ssrc_; }
  // Addresses currently served, in activation order.
  std::vector<media::Endpoint> ActiveChildren() const;
  // Ids of activated children silent for child_silence or longer.
  std::vector<std::string> SilentChildren() const;
  const media::Endpoint* active_parent() const;
  // Dropped datagrams by kind ("rtp", "rtcp", "activation", "relay") and
  // reason (the parsers' error names, or the relay's own).
  uint64_t drops(absl::string_view kind, absl::string_view reason) const;
  uint64_t total_drops() const;
  const StreamCounters* stream_counters(uint32_t ssrc) const;
  const CoreCounters& counters() const { return counters_; }
  // The parent being left make-before-break, if any.
  const media::Endpoint* leaving_parent() const;

 private:
  struct Stream;
  struct Child;
  class RtcpHandler;

  void Drop(absl::string_view kind, absl::string_view reason) {
    ++drops_[{kind, reason}];
  }
  void SendTo(const media::Endpoint& to, const PacketRef& packet,
              Stream* stream);
  void OnRtp(const media::Endpoint& from, const PacketRef& packet);
  void OnRtcp(const media::Endpoint& from, const PacketRef& packet);
  // A packet of `stream` from its source (`from`; none: published here),
  // authorised: stored, counted, and sent on.
  void Accept(Stream& stream, const rtp::RtpView& view, const PacketRef& packet,
              std::optional<media::Endpoint> from);
  // A packet the ring refused (`duplicate`: it holds one under that
  // number): true once kRenumberedRun consecutive numbers came that the
  // ring refused, that were no copies of what it holds, and whose RTP
  // timestamps are far from the stream's (another clock). The source then
  // numbers the stream afresh (a new WHIP session at the other root after
  // a failover, behind the dead one's numbers): the stream's numbering
  // state starts over from this packet, and a keyframe is asked for.
  bool Renumbered(Stream& stream, const rtp::RtpView& view, int64_t seq,
                  const PacketRef& packet, bool duplicate);

  void ForwardDown(Stream& stream, const PacketRef& packet);
  // A plain endpoint's audio has a port of its own (a player binds one per
  // media kind); everything else goes to the child's address.
  const media::Endpoint& DestinationOf(const Child& child,
                                       const Stream& stream) const;
  // Where a packet of `stream` fans out to: DestinationOf each active child.
  const std::shared_ptr<const FanoutList>& FanoutOf(const Stream& stream) const;
  void HandleActivation(const media::Endpoint& from, const rtp::AppView& app);
  void HandleNack(Child& child, const rtp::NackView& nack);
  void HandleParentNack(const rtp::NackView& nack);
  // The source's sender report of a down stream, to the children and the
  // local viewers.
  void PassSenderReportDown(const rtp::SenderReportView& sr);
  // A down stream's packet `seq` asked for by a child or a local viewer;
  // an empty ref when the ring lacks it (then it is asked of the parent).
  PacketRef Recall(Stream& stream, uint16_t seq);
  void HandleKeyframeRequest(uint32_t media_ssrc, bool fir, Child* child);
  // Where a keyframe of `stream` is asked for: the active parent (down),
  // the child that sends it (up); null: nobody.
  const media::Endpoint* KeyframeSource(Stream& stream);
  // Asks `target` (none: nobody to ask) unless a request went out lately.
  void ForwardKeyframeRequest(Stream& stream, bool fir,
                              const media::Endpoint* target);
  void RequestKeyframeFromSource(Stream& stream, bool fir,
                                 const media::Endpoint& source);
  void Activate(Child& child, const media::Endpoint& at);
  void Deactivate(Child& child);
  void RebuildActiveList();
  void OnParentHeard(bool media);
  // Children are told we are alive this often, by media or by a report.
  absl::Time ChildReportDue() const;
  // Excuses the parent's silence for as long as the tick asked for is
  // overdue (the relay did not run), and forgets that tick.
  void ExcuseOwnDelay();
  absl::Time NextTickDue() const;
  // An RTCP RR, with a signed activation under `key` unless it is empty.
  void SendSigned(const media::Endpoint& to, const std::string& key,
                  rtp::ActivationKind kind);
  // Tells a child no longer listed that it should move on.
  void SendRelease(const Child& child);
  void SendChildReports();
  // An SR from the relay itself: tells a child its parent is alive.
  PacketRef ChildReport();
  void SendNacks();
  void ExpireChildren();
  Child* FindActiveChild(const media::Endpoint& from);
  PacketRef NewPacket();

  RelayOptions options_;
  const Clock* const clock_;
  PacketPool* const pool_;
  Transport* const transport_;
  const uint32_t ssrc_;
  absl::Time now_;

  absl::flat_hash_map<uint32_t, std::unique_ptr<Stream>> streams_;
  absl::flat_hash_map<std::string, std::unique_ptr<Child>> children_;
  absl::flat_hash_map<media::Endpoint, Child*> active_by_address_;
  std::vector<Child*> active_;  // fan-out list
  // The active children's addresses for video and for audio (where a plain
  // endpoint takes it on a port of its own), rebuilt with active_: handed
  // to the transport whole, which may split it across loops.
  std::shared_ptr<const FanoutList> video_fanout_;
  std::shared_ptr<const FanoutList> audio_fanout_;
  child::ParentSelector parents_;
  LocalViewers* local_viewers_ = nullptr;
  // When the tick NextTick() last asked for is due (none pending: never).
  absl::Time tick_due_ = absl::InfiniteFuture();
  absl::Time last_child_report_ = absl::InfinitePast();
  absl::Time last_fanout_ = absl::InfinitePast();
  rtp::ReplayGuard replay_guard_;
  uint64_t nonce_counter_;
  uint8_t fir_sequence_ = 0;

  // Keys point to static strings.
  absl::flat_hash_map<std::pair<absl::string_view, absl::string_view>, uint64_t>
      drops_;
  CoreCounters counters_;
  // Silences the active parent ended: what the per-link timeout is learnt
  // from, shown so an operator can judge --parent_timeout.
  DurationHistogram parent_gaps_{
      {0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5}};
  std::vector<int64_t> due_scratch_;
  std::vector<uint16_t> seq_scratch_;
};

}  // namespace cascade::relay

#endif  // CASCADE_RELAY_RELAY_CORE_H_
