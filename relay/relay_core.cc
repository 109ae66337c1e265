#include "relay/relay_core.h"

#include <glog/logging.h>

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/token_bucket.h"
#include "media/rtp/demux.h"
#include "media/rtp/rtp.h"
#include "relay/keyframe_start.h"
#include "relay/metrics_text.h"

namespace cascade::relay {
namespace {

constexpr absl::string_view kRelay = "relay";
constexpr absl::string_view kRtp = "rtp";
constexpr absl::string_view kRtcp = "rtcp";
constexpr absl::string_view kActivation = "activation";
// Sequence numbers per NACK packet toward the parent.
constexpr size_t kMaxNackSeqs = 256;

// A stable SSRC for the relay's own RTCP, derived from its node id (FNV-1a).
uint32_t SsrcFor(absl::string_view node_id) {
  uint32_t h = 2166136261u;
  for (char c : node_id) {
    h = (h ^ static_cast<uint8_t>(c)) * 16777619u;
  }
  return h == 0 ? 1 : h;
}

absl::string_view DirectionName(Direction d) {
  return d == Direction::kDown ? "down" : "up";
}

child::ParentPolicy ParentPolicyFor(const RelayOptions& o) {
  child::ParentPolicy policy;
  policy.timeout = o.parent_timeout;
  policy.timeout_max = o.parent_timeout_max;
  policy.startup_timeout = o.parent_startup_timeout;
  policy.hold_down = o.parent_hold_down;
  policy.keepalive = o.parent_keepalive;
  policy.startup_retry =
      o.parent_timeout > absl::ZeroDuration()
          ? std::min(o.parent_keepalive, o.parent_timeout / 3)
          : o.parent_keepalive;
  // Every keepalive is signed: a restarted parent takes us back at once.
  policy.activation_refresh = absl::ZeroDuration();
  policy.switch_overlap = o.parent_switch_overlap;
  return policy;
}

}  // namespace

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

RelayCore::RelayCore(const RelayOptions& options, const Clock* clock,
                     PacketPool* pool, Transport* transport)
    : clock_(clock),
      pool_(pool),
      transport_(transport),
      ssrc_(SsrcFor(options.node_id)),
      now_(clock->Now()),
      parents_(ParentPolicyFor(options), now_),
      replay_guard_(rtp::ReplayGuardOptions{options.activation_window, 32}),
      // Nonces must never repeat across restarts: start from the clock.
      nonce_counter_(static_cast<uint64_t>(absl::ToUnixNanos(now_))) {
  Apply(options);
}

RelayCore::~RelayCore() = default;

void RelayCore::Apply(const RelayOptions& options) {
  now_ = clock_->Now();
  options_ = options;

  absl::flat_hash_map<std::string, std::unique_ptr<Child>> children;
  for (const ChildOptions& c : options_.children) {
    auto it = children_.find(c.id);
    const bool stays = it != children_.end() &&
                       it->second->options.key == c.key &&
                       it->second->options.static_push == c.static_push &&
                       (!c.address || it->second->address == *c.address);
    std::unique_ptr<Child> child =
        stays ? std::move(it->second)
              : std::make_unique<Child>(c, options_.retransmit_rate_per_child,
                                        options_.retransmit_burst_per_child);
    const bool demoted =
        stays && c.standby && !child->options.standby && child->active;
    child->options = c;
    child->remove_at = absl::InfiniteFuture();
    child->released = c.standby && (child->released || demoted);
    if (demoted) SendRelease(*child);
    if (c.static_push) {
      child->active = true;
      child->address = *c.address;
    }
    children[c.id] = std::move(child);
  }
  for (auto& [id, child] : children_) {
    if (child == nullptr) continue;  // carried over
    if (children.contains(id)) {     // replaced (new key or kind)
      replay_guard_.Forget(id);
      continue;
    }
    // An activated child keeps its media until its own move completes; a
    // plain endpoint cannot drop duplicates, so it stops at once.
    if (child->active && !child->options.static_push &&
        options_.removed_child_grace > absl::ZeroDuration()) {
      if (child->remove_at == absl::InfiniteFuture()) {
        child->remove_at = now_ + options_.removed_child_grace;
        child->released = true;
        SendRelease(*child);
      }
      children[id] = std::move(child);
    } else {
      replay_guard_.Forget(id);
    }
  }
  children_ = std::move(children);
  RebuildActiveList();

  absl::flat_hash_map<uint32_t, std::unique_ptr<Stream>> streams;
  for (const StreamOptions& s : options_.streams) {
    auto it = streams_.find(s.ssrc);
    if (it != streams_.end() && it->second->options.direction == s.direction) {
      Stream& stream = *it->second;
      if (stream.options.selected && !s.selected) {
        stream.deselected_until = now_ + options_.removed_child_grace;
      }
      stream.options = s;
      streams[s.ssrc] = std::move(it->second);
    } else {
      streams[s.ssrc] = std::make_unique<Stream>(s, options_);
    }
  }
  streams_ = std::move(streams);

  const std::string previous =
      parents_.active() != nullptr ? parents_.active()->id : "";
  parents_.SetPolicy(ParentPolicyFor(options_));
  if (parents_.SetParents(options_.parents, now_) && !previous.empty()) {
    ++counters_.parent_switches;
    LOG(INFO) << "parent " << previous << " replaced by "
              << (parents_.active() != nullptr ? parents_.active()->id
                                               : std::string("none"));
  }
}

void RelayCore::RebuildActiveList() {
  active_.clear();
  active_by_address_.clear();
  auto add = [&](Child* child) {
    if (!child->active) return;
    // Two children claiming one address: the first keeps it.
    if (!active_by_address_.emplace(child->address, child).second) return;
    active_.push_back(child);
  };
  for (const ChildOptions& c : options_.children) add(children_[c.id].get());
  for (auto& [id, child] : children_) {
    if (child->remove_at != absl::InfiniteFuture()) add(child.get());
  }
}

const media::Endpoint* RelayCore::active_parent() const {
  const child::Parent* parent = parents_.active();
  return parent != nullptr ? &parent->address : nullptr;
}

const media::Endpoint* RelayCore::leaving_parent() const {
  const child::Parent* parent = parents_.leaving();
  return parent != nullptr ? &parent->address : nullptr;
}

void RelayCore::OnParentHeard(bool media) {
  // Requests that went to a silent parent were never answered: ask the new
  // one now that it knows us.
  const child::ParentSelector::Heard heard =
      parents_.OnActiveHeard(media, now_);
  if (heard.first) {
    for (auto& [ssrc, stream] : streams_) stream->nacks.RetryAll(now_);
  } else {
    parent_gaps_.Add(absl::ToDoubleSeconds(heard.gap));
  }
  if (heard.release.has_value()) {
    SendSigned(heard.release->address, heard.release->key,
               rtp::ActivationKind::kDeactivate);
  }
}

RelayCore::Child* RelayCore::FindActiveChild(const media::Endpoint& from) {
  auto it = active_by_address_.find(from);
  return it == active_by_address_.end() ? nullptr : it->second;
}

std::vector<media::Endpoint> RelayCore::ActiveChildren() const {
  std::vector<media::Endpoint> out;
  for (const Child* c : active_) out.push_back(c->address);
  return out;
}

std::vector<std::string> RelayCore::SilentChildren() const {
  const absl::Time now = clock_->Now();
  std::vector<std::string> silent;
  for (const Child* c : active_) {
    if (!c->options.static_push &&
        now - c->last_heard >= options_.child_silence) {
      silent.push_back(c->options.id);
    }
  }
  return silent;
}

uint64_t RelayCore::drops(absl::string_view kind,
                          absl::string_view reason) const {
  auto it = drops_.find(std::make_pair(kind, reason));
  return it == drops_.end() ? 0 : it->second;
}

uint64_t RelayCore::total_drops() const {
  uint64_t total = 0;
  for (const auto& [key, n] : drops_) total += n;
  return total;
}

const StreamCounters* RelayCore::stream_counters(uint32_t ssrc) const {
  auto it = streams_.find(ssrc);
  return it == streams_.end() ? nullptr : &it->second->counters;
}

PacketRef RelayCore::NewPacket() {
  PacketRef p = pool_->Acquire();
  if (!p) Drop(kRelay, "pool_exhausted");
  return p;
}

void RelayCore::SendTo(const media::Endpoint& to, const PacketRef& packet,
                       Stream* stream) {
  transport_->Send(to, packet);
  if (stream != nullptr) {
    ++stream->counters.packets_out;
    stream->counters.bytes_out += packet.size();
  } else {
    ++counters_.rtcp_out;
  }
}

void RelayCore::OnDatagram(const media::Endpoint& from,
                           const PacketRef& packet) {
  now_ = clock_->Now();
  switch (rtp::Classify(packet.bytes())) {
    case rtp::PacketKind::kRtp:
      OnRtp(from, packet);
      break;
    case rtp::PacketKind::kRtcp:
      OnRtcp(from, packet);
      break;
    case rtp::PacketKind::kNotRtp:
      Drop(kRelay, "not_rtp");
      break;
  }
}

void RelayCore::OnRtp(const media::Endpoint& from, const PacketRef& packet) {
  const bool from_active_parent = parents_.IsActive(from);
  // A parent left make-before-break still feeds us until the new one does.
  const bool from_leaving_parent = parents_.IsLeaving(from);
  if (from_leaving_parent) parents_.OnLeavingHeard(now_);
  const bool from_parent = from_active_parent || from_leaving_parent;
  Child* child = from_parent ? nullptr : FindActiveChild(from);
  if (!from_parent && child == nullptr) {
    Drop(kRelay, "unknown_source");
    return;
  }
  rtp::RtpView view;
  const rtp::RtpError error = rtp::ParseRtp(packet.bytes(), &view);
  if (error != rtp::RtpError::kOk) {
    Drop(kRtp, rtp::ErrorName(error));
    return;
  }
  auto it = streams_.find(view.ssrc);
  if (it == streams_.end()) {
    Drop(kRelay, "unknown_ssrc");
    return;
  }
  Stream& stream = *it->second;
  const bool down = stream.options.direction == Direction::kDown;
  if (down != from_parent) {
    Drop(kRelay, "wrong_direction");
    return;
  }
  if (from_active_parent) OnParentHeard(/*media=*/true);
  if (child != nullptr) child->last_heard = now_;
  if (!down && !stream.options.selected && now_ >= stream.deselected_until) {
    Drop(kRelay, "not_selected");
    return;
  }
  const int64_t seq = stream.unwrapper.Unwrap(view.sequence_number);
  if (!stream.ring.Insert(seq, packet, now_)) {
    Drop(kRelay, stream.ring.Contains(seq) ? "duplicate" : "too_old");
    return;
  }
  ++stream.counters.packets_in;
  stream.counters.bytes_in += packet.size();
  if (!down) {
    stream.source = from;
    if (const child::Parent* parent = parents_.upstream_parent()) {
      SendTo(parent->address, packet, &stream);
    }
    return;
  }
  if (stream.nacks.OnPacket(seq, now_)) ++stream.counters.repaired;
  if (stream.options.h264) {
    const KeyframeStart start = DetectKeyframeStart(view);
    if (start == KeyframeStart::kMalformed) {
      ++counters_.h264_malformed;
    } else {
      stream.keyframes.Add(packet, start == KeyframeStart::kYes,
                           view.timestamp);
    }
  }
  ForwardDown(stream, packet);
}

void RelayCore::ForwardDown(Stream& stream, const PacketRef& packet) {
  if (local_viewers_ != nullptr) {
    local_viewers_->OnDownPacket(stream.options, packet);
  }
  if (!active_.empty()) last_fanout_ = now_;
  for (Child* child : active_) {
    SendTo(DestinationOf(*child, stream), packet, &stream);
  }
}

const media::Endpoint& RelayCore::DestinationOf(const Child& child,
                                                const Stream& stream) const {
  return stream.options.audio && child.options.audio_address
             ? *child.options.audio_address
             : child.address;
}

// Walks a validated compound once, acting per packet for the sender it
// came from.
class RelayCore::RtcpHandler : public rtp::RtcpVisitor {
 public:
  RtcpHandler(RelayCore* core, const media::Endpoint& from, Child* child,
              bool from_parent)
      : core_(core), from_(from), child_(child), from_parent_(from_parent) {}

  void OnSenderReport(const rtp::SenderReportView& sr) override {
    // The source's SRs map RTP to wall-clock time (lip sync): pass them on.
    if (!from_parent_) return;
    auto it = core_->streams_.find(sr.sender_ssrc);
    if (it == core_->streams_.end() ||
        it->second->options.direction != Direction::kDown) {
      return;
    }
    if (core_->local_viewers_ != nullptr) {
      core_->local_viewers_->OnDownSenderReport(it->second->options, sr);
    }
    PacketRef copy = core_->pool_->Copy(sr.packet);
    if (!copy) return;
    for (Child* child : core_->active_) {
      core_->SendTo(core_->DestinationOf(*child, *it->second), copy, nullptr);
    }
  }
  void OnApp(const rtp::AppView& app) override {
    // A parent's release is for sites, which have no controller link; the
    // controller moves relays itself.
    if (from_parent_) return;
    if (rtp::IsActivation(app)) core_->HandleActivation(from_, app);
  }
  void OnNack(const rtp::NackView& nack) override {
    if (child_ != nullptr) core_->HandleNack(*child_, nack);
    if (from_parent_) core_->HandleParentNack(nack);
  }
  void OnPli(const rtp::PliView& pli) override {
    core_->HandleKeyframeRequest(pli.media_ssrc, false, child_);
  }
  void OnFir(const rtp::FirView& fir) override {
    for (size_t i = 0; i < fir.entry_count(); ++i) {
      core_->HandleKeyframeRequest(fir.entry(i).ssrc, true, child_);
    }
  }

 private:
  RelayCore* core_;
  media::Endpoint from_;
  Child* child_;
  bool from_parent_;
};

void RelayCore::OnRtcp(const media::Endpoint& from, const PacketRef& packet) {
  const bool from_parent = parents_.IsActive(from);
  Child* child = from_parent ? nullptr : FindActiveChild(from);
  // Unknown senders may only activate: validate first, then look inside.
  const rtp::RtcpError error = rtp::ParseRtcpCompound(packet.bytes(), nullptr);
  if (error != rtp::RtcpError::kOk) {
    Drop(kRtcp, rtp::ErrorName(error));
    return;
  }
  ++counters_.rtcp_in;
  // The new parent's SRs and NACKs take over from a leaving one's.
  if (parents_.IsLeaving(from)) {
    parents_.OnLeavingHeard(now_);
    return;
  }
  if (from_parent) OnParentHeard(/*media=*/false);
  if (child != nullptr) child->last_heard = now_;
  if (!from_parent && child == nullptr) {
    // Only an activation can make a stranger a child; nothing else counts.
    struct ActivationOnly : rtp::RtcpVisitor {
      explicit ActivationOnly(RelayCore* core, const media::Endpoint& from)
          : core(core), from(from) {}
      void OnApp(const rtp::AppView& app) override {
        if (!rtp::IsActivation(app)) return;
        found = true;
        core->HandleActivation(from, app);
      }
      RelayCore* core;
      media::Endpoint from;
      bool found = false;
    } visitor(this, from);
    rtp::ParseRtcpCompound(packet.bytes(), &visitor);
    if (!visitor.found) Drop(kRelay, "unknown_source");
    return;
  }
  RtcpHandler handler(this, from, child, from_parent);
  rtp::ParseRtcpCompound(packet.bytes(), &handler);
}

void RelayCore::HandleActivation(const media::Endpoint& from,
                                 const rtp::AppView& app) {
  rtp::ActivationRequest request;
  if (rtp::ParseActivation(app, &request) != rtp::ActivationResult::kOk) {
    Drop(kActivation, "malformed");
    return;
  }
  auto it = children_.find(request.node_id);
  if (it == children_.end()) {
    Drop(kActivation, "unknown_node");
    return;
  }
  Child& child = *it->second;
  if (child.options.static_push) {
    Drop(kActivation, "static_child");
    return;
  }
  const rtp::ActivationResult verified =
      rtp::VerifyActivation(app, rtp::KeyBytes(child.options.key), &request);
  if (verified != rtp::ActivationResult::kOk) {
    Drop(kActivation, rtp::ErrorName(verified));
    return;
  }
  if (child.options.address && *child.options.address != from) {
    Drop(kActivation, "address_mismatch");
    return;
  }
  const rtp::ReplayVerdict verdict = replay_guard_.Check(
      child.options.id, request.timestamp_ms, request.nonce, now_);
  if (verdict != rtp::ReplayVerdict::kAccepted) {
    Drop(kActivation, rtp::ErrorName(verdict));
    return;
  }
  if (request.kind == rtp::ActivationKind::kDeactivate) {
    Deactivate(child);
    return;
  }
  // A removed child is only kept going where it already was.
  if (child.remove_at != absl::InfiniteFuture() &&
      (!child.active || child.address != from)) {
    Drop(kActivation, "removed_node");
    return;
  }
  child.last_heard = now_;
  if (!child.active || child.address != from) Activate(child, from);
}

void RelayCore::Activate(Child& child, const media::Endpoint& at) {
  // Another child holding this address loses it: one address, one child.
  if (Child* holder = FindActiveChild(at); holder != nullptr) {
    holder->active = false;
  }
  child.active = true;
  child.address = at;
  child.released = false;
  ++counters_.activations_accepted;
  RebuildActiveList();
  LOG(INFO) << "child " << child.options.id << " active at " << at.ToString();
  // A decodable picture first: the cached keyframe of every down stream.
  for (auto& [ssrc, stream] : streams_) {
    if (stream->options.direction != Direction::kDown) continue;
    for (const PacketRef& p : stream->keyframes.packets()) {
      SendTo(at, p, stream.get());
      ++stream->counters.keyframe_cache_packets_sent;
    }
  }
}

void RelayCore::Deactivate(Child& child) {
  if (!child.active || child.options.static_push) return;
  child.active = false;
  ++counters_.deactivations;
  RebuildActiveList();
  LOG(INFO) << "child " << child.options.id << " left";
}

void RelayCore::HandleNack(Child& child, const rtp::NackView& nack) {
  auto it = streams_.find(nack.media_ssrc);
  if (it == streams_.end() ||
      it->second->options.direction != Direction::kDown) {
    Drop(kRelay, "nack_unknown_ssrc");
    return;
  }
  Stream& stream = *it->second;
  nack.ForEachSequenceNumber([&](uint16_t seq16) {
    PacketRef p = Recall(stream, seq16);
    if (!p) return;
    if (!child.retransmits.Allow(now_)) {
      Drop(kRelay, "retransmit_rate_limited");
      return;
    }
    ++stream.counters.nacks_answered;
    SendTo(DestinationOf(child, stream), p, &stream);
  });
}

void RelayCore::HandleParentNack(const rtp::NackView& nack) {
  auto it = streams_.find(nack.media_ssrc);
  if (it == streams_.end() || it->second->options.direction != Direction::kUp) {
    Drop(kRelay, "nack_unknown_ssrc");
    return;
  }
  Stream& stream = *it->second;
  const media::Endpoint* parent = active_parent();
  nack.ForEachSequenceNumber([&](uint16_t seq16) {
    ++stream.counters.nacks_received;
    PacketRef p = stream.ring.Find(stream.unwrapper.Peek(seq16), now_);
    if (!p || parent == nullptr) return;
    ++stream.counters.nacks_answered;
    SendTo(*parent, p, &stream);
  });
}

void RelayCore::HandleKeyframeRequest(uint32_t media_ssrc, bool fir,
                                      Child* child) {
  auto it = streams_.find(media_ssrc);
  if (it == streams_.end()) {
    Drop(kRelay, "keyframe_request_unknown_ssrc");
    return;
  }
  Stream& stream = *it->second;
  const bool down = stream.options.direction == Direction::kDown;
  // Down streams are asked of the parent by children; up streams of their
  // source child by the parent.
  if (down != (child != nullptr)) {
    Drop(kRelay, "wrong_direction");
    return;
  }
  const media::Endpoint* target =
      down ? active_parent() : (stream.source ? &*stream.source : nullptr);
  // The source child must still be served: never send to a stale address.
  if (!down && target != nullptr && FindActiveChild(*target) == nullptr) {
    target = nullptr;
  }
  ForwardKeyframeRequest(stream, fir, target);
}

void RelayCore::ForwardKeyframeRequest(Stream& stream, bool fir,
                                       const media::Endpoint* target) {
  ++stream.counters.keyframe_requests_received;
  if (now_ - stream.last_keyframe_request <
      options_.keyframe_request_interval) {
    ++stream.counters.keyframe_requests_coalesced;
    return;
  }
  if (target == nullptr) return;
  RequestKeyframeFromSource(stream, fir, *target);
}

PacketRef RelayCore::Resend(uint32_t ssrc, uint16_t seq) {
  now_ = clock_->Now();
  auto it = streams_.find(ssrc);
  if (it == streams_.end() ||
      it->second->options.direction != Direction::kDown) {
    return PacketRef();
  }
  PacketRef p = Recall(*it->second, seq);
  if (p) ++it->second->counters.nacks_answered;
  return p;
}

PacketRef RelayCore::Recall(Stream& stream, uint16_t seq16) {
  ++stream.counters.nacks_received;
  const int64_t seq = stream.unwrapper.Peek(seq16);
  PacketRef p = stream.ring.Find(seq, now_);
  // Not here either: ask upward, coalesced with our own requests.
  if (!p) stream.nacks.Request(seq, now_);
  return p;
}

void RelayCore::RequestKeyframe(uint32_t ssrc) {
  now_ = clock_->Now();
  auto it = streams_.find(ssrc);
  if (it == streams_.end() ||
      it->second->options.direction != Direction::kDown) {
    return;
  }
  ForwardKeyframeRequest(*it->second, /*fir=*/false, active_parent());
}

const std::vector<PacketRef>& RelayCore::CachedKeyframe(uint32_t ssrc) const {
  static const std::vector<PacketRef> kNone;
  auto it = streams_.find(ssrc);
  return it == streams_.end() ? kNone : it->second->keyframes.packets();
}

void RelayCore::RequestKeyframeFromSource(Stream& stream, bool fir,
                                          const media::Endpoint& source) {
  PacketRef p = NewPacket();
  if (!p) return;
  const size_t size =
      fir ? rtp::BuildFir(ssrc_,
                          {rtp::FirEntry{stream.options.ssrc, ++fir_sequence_}},
                          p.buffer())
          : rtp::BuildPli(ssrc_, stream.options.ssrc, p.buffer());
  if (size == 0) return;
  p.set_size(size);
  stream.last_keyframe_request = now_;
  ++stream.counters.keyframe_requests_sent;
  SendTo(source, p, nullptr);
}

void RelayCore::OnUnreachable(const media::Endpoint& to) {
  parents_.OnUnreachable(to);
}

void RelayCore::OnTick() {
  now_ = clock_->Now();
  // Time the relay itself did not run (descheduled, stopped) says nothing
  // about its parent, whose packets wait in the socket: not counted.
  const absl::Duration late = now_ - tick_due_;
  if (late > options_.parent_timeout / 6) parents_.Excuse(late);
  tick_due_ = absl::InfiniteFuture();
  for (auto& [ssrc, stream] : streams_) stream->ring.Expire(now_);
  ExpireChildren();
  const child::ParentSelector::Actions actions = parents_.OnTick(now_);
  if (actions.release.has_value()) {
    SendSigned(actions.release->address, actions.release->key,
               rtp::ActivationKind::kDeactivate);
  }
  if (actions.failed_over_from.has_value()) {
    ++counters_.parent_failovers;
    if (actions.unreachable) ++counters_.parent_unreachable_failovers;
    LOG(WARNING) << "parent " << actions.failed_over_from->id
                 << (actions.unreachable ? " unreachable (port closed)"
                                         : " silent")
                 << "; failing over to " << parents_.active()->id;
  }
  if (actions.keepalive) {
    // Renewed with every keepalive, so a restarted parent takes us back.
    const child::Parent& parent = *parents_.active();
    if (actions.activate) {
      SendSigned(parent.address, parent.key, rtp::ActivationKind::kActivate);
    } else {
      SendSigned(parent.address, "", rtp::ActivationKind::kActivate);
    }
  }
  // After the keepalive: a new parent must know us before our NACKs arrive.
  SendNacks();
  if (now_ >= ChildReportDue()) SendChildReports();
}

absl::Time RelayCore::ChildReportDue() const {
  // Media sent down tells the children we are alive as well as a report.
  return std::max(last_child_report_, last_fanout_) + options_.child_report;
}

absl::Duration RelayCore::NextTick() {
  tick_due_ = std::max(now_, NextTickDue());
  return tick_due_ - now_;
}

absl::Time RelayCore::NextTickDue() const {
  if (parents_.Watching(now_)) return now_ + options_.busy_tick;
  for (const auto& [ssrc, stream] : streams_) {
    if (stream->nacks.pending() > 0) return now_ + options_.busy_tick;
  }
  // Otherwise only at the next deadline: on a machine running hundreds of
  // relays, every wakeup costs more than the work it does.
  return std::min({now_ + options_.idle_tick, ChildReportDue(),
                   parents_.NextDeadline(now_)});
}

void RelayCore::ExpireChildren() {
  bool changed = false;
  for (auto it = children_.begin(); it != children_.end();) {
    Child& child = *it->second;
    if (child.remove_at <= now_) {
      replay_guard_.Forget(it->first);
      children_.erase(it++);
      changed = true;
      continue;
    }
    if (child.active && !child.options.static_push &&
        now_ - child.last_heard > options_.child_timeout) {
      child.active = false;
      ++counters_.child_timeouts;
      changed = true;
      LOG(INFO) << "child " << child.options.id << " timed out";
    }
    ++it;
  }
  if (changed) RebuildActiveList();
}

void RelayCore::SendNacks() {
  const media::Endpoint* parent = active_parent();
  if (!parents_.Answering(now_, options_.nack.retry_interval)) return;
  for (auto& [ssrc, stream] : streams_) {
    if (stream->options.direction != Direction::kDown) continue;
    const uint64_t gave_up_before = stream->nacks.gave_up();
    due_scratch_.clear();
    stream->nacks.TakeDue(now_, &due_scratch_, kMaxNackSeqs);
    stream->counters.nack_gave_up += stream->nacks.gave_up() - gave_up_before;
    if (due_scratch_.empty() || parent == nullptr) continue;
    seq_scratch_.clear();
    for (int64_t seq : due_scratch_) {
      seq_scratch_.push_back(static_cast<uint16_t>(seq));
    }
    PacketRef p = NewPacket();
    if (!p) return;
    const size_t size = rtp::BuildNack(ssrc_, ssrc, seq_scratch_, p.buffer());
    if (size == 0) continue;
    p.set_size(size);
    stream->counters.nacks_sent += seq_scratch_.size();
    SendTo(*parent, p, nullptr);
  }
}

void RelayCore::SendSigned(const media::Endpoint& to, const std::string& key,
                           rtp::ActivationKind kind) {
  PacketRef p = NewPacket();
  if (!p) return;
  size_t size = rtp::BuildReceiverReport(ssrc_, {}, p.buffer());
  if (!key.empty()) {
    rtp::ActivationRequest request;
    request.kind = kind;
    request.sender_ssrc = ssrc_;
    request.node_id = options_.node_id;
    request.timestamp_ms = absl::ToUnixMillis(now_);
    request.nonce = ++nonce_counter_;
    size += rtp::BuildActivation(request, rtp::KeyBytes(key),
                                 p.buffer().subspan(size));
  }
  p.set_size(size);
  SendTo(to, p, nullptr);
}

void RelayCore::SendRelease(const Child& child) {
  // Signed with the child's link key: a site, which has no controller link,
  // moves to its next parent make-before-break while we still serve it.
  if (child.options.static_push || !child.active) return;
  SendSigned(child.address, child.options.key,
             rtp::ActivationKind::kDeactivate);
}

void RelayCore::SendChildReports() {
  last_child_report_ = now_;
  // Only activated children are relays that watch for a dead parent; plain
  // push endpoints get media only.
  bool any = false;
  for (const Child* c : active_) any = any || !c->options.static_push;
  if (!any) return;
  PacketRef p = NewPacket();
  if (!p) return;
  rtp::SenderInfo info;
  // NTP format: seconds since 1900 in the high word.
  const absl::Duration since_1900 =
      now_ - absl::FromUnixSeconds(0) + absl::Seconds(2208988800LL);
  const int64_t secs = absl::ToInt64Seconds(since_1900);
  const double frac =
      absl::ToDoubleSeconds(since_1900 - absl::Seconds(secs)) * 4294967296.0;
  info.ntp_timestamp =
      (static_cast<uint64_t>(secs) << 32) | static_cast<uint32_t>(frac);
  const size_t size = rtp::BuildSenderReport(ssrc_, info, {}, p.buffer());
  if (size == 0) return;
  p.set_size(size);
  for (const Child* c : active_) {
    if (c->options.static_push) continue;
    SendTo(c->address, p, nullptr);
    // Again while it is still served: one release may be lost, or come
    // while the child's other parent is held down.
    if (c->released) SendRelease(*c);
  }
}

void RelayCore::SayGoodbye() {
  PacketRef p = NewPacket();
  if (!p) return;
  const uint32_t ssrcs[] = {ssrc_};
  const size_t size = rtp::BuildBye(ssrcs, "relay stopping", p.buffer());
  if (size == 0) return;
  p.set_size(size);
  for (const Child* c : active_) SendTo(c->address, p, nullptr);
}

void RelayCore::RenderMetrics(std::string* out) const {
  // Sorted output reads better and diffs cleanly.
  std::map<uint32_t, const Stream*> sorted;
  for (const auto& [ssrc, s] : streams_) sorted[ssrc] = s.get();
  auto per_stream = [&](absl::string_view name, absl::string_view help,
                        uint64_t StreamCounters::*field) {
    absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name,
                    " counter\n");
    for (const auto& [ssrc, s] : sorted) {
      absl::StrAppend(out, name, "{ssrc=\"", ssrc, "\",direction=\"",
                      DirectionName(s->options.direction), "\"} ",
                      s->counters.*field, "\n");
    }
  };
  per_stream("relay_stream_packets_in_total", "RTP packets accepted.",
             &StreamCounters::packets_in);
  per_stream("relay_stream_bytes_in_total", "RTP bytes accepted.",
             &StreamCounters::bytes_in);
  per_stream("relay_stream_packets_out_total",
             "RTP packets sent (every copy, retransmissions included).",
             &StreamCounters::packets_out);
  per_stream("relay_stream_bytes_out_total", "RTP bytes sent.",
             &StreamCounters::bytes_out);
  per_stream("relay_nacks_received_total",
             "Sequence numbers asked for in NACKs.",
             &StreamCounters::nacks_received);
  per_stream("relay_nacks_answered_total",
             "Asked-for packets resent from the ring (retransmissions).",
             &StreamCounters::nacks_answered);
  per_stream("relay_nacks_sent_total",
             "Sequence numbers this relay asked of its parent.",
             &StreamCounters::nacks_sent);
  per_stream("relay_nack_repaired_total",
             "Gaps filled by a packet arriving after it was missed.",
             &StreamCounters::repaired);
  per_stream("relay_nack_gave_up_total",
             "Gaps abandoned after the last NACK retry.",
             &StreamCounters::nack_gave_up);
  per_stream("relay_keyframe_requests_received_total",
             "PLI/FIR entries received.",
             &StreamCounters::keyframe_requests_received);
  per_stream("relay_keyframe_requests_sent_total", "PLI/FIR sent onward.",
             &StreamCounters::keyframe_requests_sent);
  per_stream("relay_keyframe_requests_coalesced_total",
             "PLI/FIR absorbed by the per-stream interval.",
             &StreamCounters::keyframe_requests_coalesced);
  per_stream("relay_keyframe_cache_packets_sent_total",
             "Cached keyframe packets sent to newly active children.",
             &StreamCounters::keyframe_cache_packets_sent);

  std::map<std::pair<absl::string_view, absl::string_view>, uint64_t> drops(
      drops_.begin(), drops_.end());
  absl::StrAppend(out,
                  "# HELP relay_drops_total Datagrams dropped, by kind and "
                  "reason.\n# TYPE relay_drops_total counter\n");
  for (const auto& [key, n] : drops) {
    absl::StrAppend(out, "relay_drops_total{kind=\"", key.first, "\",reason=\"",
                    key.second, "\"} ", n, "\n");
  }
  AppendCounter(out, "relay_activations_total", "Children activated.",
                counters_.activations_accepted);
  AppendCounter(out, "relay_deactivations_total",
                "Children that left with a signed "
                "deactivation.",
                counters_.deactivations);
  AppendCounter(out, "relay_child_timeouts_total",
                "Children dropped for silence.", counters_.child_timeouts);
  AppendCounter(out, "relay_rtcp_in_total", "Valid RTCP compounds received.",
                counters_.rtcp_in);
  AppendCounter(out, "relay_rtcp_out_total", "RTCP packets sent.",
                counters_.rtcp_out);
  AppendCounter(
      out, "relay_h264_malformed_total",
      "Packets the keyframe detector rejected (still forwarded): a malformed "
      "frame marking, or an unmarked malformed H.264 payload.",
      counters_.h264_malformed);
  AppendCounter(out, "relay_parent_failovers_total",
                "Moves away from a parent silent past the parent timeout, "
                "or whose host reported its port closed.",
                counters_.parent_failovers);
  AppendCounter(out, "relay_parent_unreachable_failovers_total",
                "Failovers because the parent's host answered ICMP "
                "unreachable (its process is gone) before the timeout.",
                counters_.parent_unreachable_failovers);
  AppendCounter(
      out, "relay_parent_switches_total",
      "Make-before-break moves to a new first parent from new settings.",
      counters_.parent_switches);
  AppendGauge(out, "relay_parent_index",
              "Position of the active parent in the parent list.",
              absl::StrCat(parents_.active_index()));
  AppendGauge(out, "relay_children", "Active children.",
              absl::StrCat(active_.size()));
  AppendGauge(out, "relay_parent_silence_seconds",
              "Time since the active parent was heard.",
              absl::StrFormat(
                  "%.3f", absl::ToDoubleSeconds(now_ - parents_.last_heard())));
  AppendGauge(
      out, "relay_parent_timeout_seconds",
      "Silence after which the active parent would be left now "
      "(learnt per link).",
      absl::StrFormat("%.3f", absl::ToDoubleSeconds(parents_.Timeout(now_))));
  parent_gaps_.Append(out, "relay_parent_gap_seconds",
                      "Silences of the active parent that ended with a "
                      "packet from it.");
}

}  // namespace cascade::relay
