// RelayCore's RTCP: activations, NACKs from children and the parent,
// keyframe requests, and the browser edge's way in (relay_core.h).
#include <glog/logging.h>

#include "media/rtp/rtcp.h"
#include "relay/relay_core.h"
#include "relay/relay_core_state.h"

namespace cascade::relay {

// Walks a validated compound once, acting per packet for the sender it
// came from.
class RelayCore::RtcpHandler : public rtp::RtcpVisitor {
 public:
  RtcpHandler(RelayCore* core, const media::Endpoint& from, Child* child,
              bool from_parent)
      : core_(core), from_(from), child_(child), from_parent_(from_parent) {}

  void OnSenderReport(const rtp::SenderReportView& sr) override {
    if (from_parent_) core_->PassSenderReportDown(sr);
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
  rtp::ActivationResult verified =
      rtp::VerifyActivation(app, rtp::KeyBytes(child.options.key), &request);
  if (verified == rtp::ActivationResult::kBadMac &&
      !child.options.previous_key.empty()) {
    verified = rtp::VerifyActivation(
        app, rtp::KeyBytes(child.options.previous_key), &request);
  }
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
  // Answered at once, media or not, rather than at the next child report (a
  // third of the child's timeout away): a child that just switched to us
  // may have spent most of its timeout asking before our settings named it,
  // and would leave us for its standby.
  if (const PacketRef report = ChildReport()) SendTo(at, report, nullptr);
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
  ForwardKeyframeRequest(stream, fir, KeyframeSource(stream));
}

const media::Endpoint* RelayCore::KeyframeSource(Stream& stream) {
  if (stream.options.direction == Direction::kDown) return active_parent();
  // The source child must still be served: never send to a stale address.
  if (!stream.source.has_value() ||
      FindActiveChild(*stream.source) == nullptr) {
    return nullptr;
  }
  return &*stream.source;
}

void RelayCore::ForwardKeyframeRequest(Stream& stream, bool fir,
                                       const media::Endpoint* target) {
  ++stream.counters.keyframe_requests_received;
  if (now_ - stream.last_keyframe_request <
      options_.keyframe_request_interval) {
    ++stream.counters.keyframe_requests_coalesced;
    return;
  }
  if (now_ < stream.published_until && local_viewers_ != nullptr) {
    stream.last_keyframe_request = now_;
    ++stream.counters.keyframe_requests_sent;
    local_viewers_->OnPublishedKeyframeRequest(stream.options);
    return;
  }
  if (target == nullptr) return;
  RequestKeyframeFromSource(stream, fir, *target);
}

PacketRef RelayCore::Resend(uint32_t ssrc, uint16_t seq) {
  now_ = clock_->Now();
  auto it = streams_.find(ssrc);
  if (it == streams_.end()) return PacketRef();
  Stream& stream = *it->second;
  // An up stream's gaps are not asked of the child that sends it (relays
  // do not NACK up streams, docs/relayd.md): only the ring answers.
  PacketRef p = stream.options.direction == Direction::kDown
                    ? Recall(stream, seq)
                    : stream.ring.Find(stream.unwrapper.Peek(seq), now_);
  if (p) ++stream.counters.nacks_answered;
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
  if (it == streams_.end()) return;
  ForwardKeyframeRequest(*it->second, /*fir=*/false,
                         KeyframeSource(*it->second));
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

void RelayCore::PassSenderReportDown(const rtp::SenderReportView& sr) {
  // The source's SRs map RTP to wall-clock time (lip sync): pass them on.
  auto it = streams_.find(sr.sender_ssrc);
  if (it == streams_.end() ||
      it->second->options.direction != Direction::kDown) {
    return;
  }
  if (local_viewers_ != nullptr) {
    local_viewers_->OnDownSenderReport(it->second->options, sr);
  }
  if (active_.empty()) return;
  PacketRef copy = pool_->Copy(sr.packet);
  if (!copy) return;
  transport_->SendToAll(FanoutOf(*it->second), copy);
  counters_.rtcp_out += active_.size();
}

void RelayCore::OnLocalSenderReport(const PacketRef& packet) {
  now_ = clock_->Now();
  struct Reports : rtp::RtcpVisitor {
    explicit Reports(RelayCore* core) : core(core) {}
    void OnSenderReport(const rtp::SenderReportView& sr) override {
      auto it = core->streams_.find(sr.sender_ssrc);
      if (it != core->streams_.end() && it->second->options.publishable) {
        core->PassSenderReportDown(sr);
      }
    }
    RelayCore* core;
  } reports(this);
  const rtp::RtcpError error = rtp::ParseRtcpCompound(packet.bytes(), &reports);
  if (error != rtp::RtcpError::kOk) Drop(kRtcp, rtp::ErrorName(error));
}

}  // namespace cascade::relay
