// The data path of RelayCore: settings, media in and out, timers. RTCP
// feedback is in relay_core_feedback.cc, counters in relay_core_metrics.cc.
#include "relay/relay_core.h"

#include <glog/logging.h>

#include <algorithm>

#include "media/rtp/demux.h"
#include "media/rtp/rtp.h"
#include "relay/keyframe_start.h"
#include "relay/relay_core_state.h"

namespace cascade::relay {
namespace {

// Sequence numbers per NACK packet toward the parent.
constexpr size_t kMaxNackSeqs = 256;
// A stream's keyframe requests go to its local publisher until it has been
// silent this long.
constexpr absl::Duration kPublishedHold = absl::Seconds(2);

// A stable SSRC for the relay's own RTCP, derived from its node id (FNV-1a).
uint32_t SsrcFor(absl::string_view node_id) {
  uint32_t h = 2166136261u;
  for (char c : node_id) {
    h = (h ^ static_cast<uint8_t>(c)) * 16777619u;
  }
  return h == 0 ? 1 : h;
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
                       (it->second->options.key == c.key ||
                        (!c.previous_key.empty() &&
                         it->second->options.key == c.previous_key)) &&
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
  auto video = std::make_shared<FanoutList>();
  bool audio_apart = false;
  for (const Child* child : active_) {
    video->push_back(child->address);
    audio_apart = audio_apart || child->options.audio_address.has_value();
  }
  video_fanout_ = std::move(video);
  // Usually every child takes audio where it takes video: one list, so a
  // transport sees a batch's audio and video as one fan-out.
  if (!audio_apart) {
    audio_fanout_ = video_fanout_;
    return;
  }
  auto audio = std::make_shared<FanoutList>();
  for (const Child* child : active_) {
    audio->push_back(child->options.audio_address.value_or(child->address));
  }
  audio_fanout_ = std::move(audio);
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
    parent_gaps_.Observe(absl::ToDoubleSeconds(heard.gap));
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
  Accept(stream, view, packet, from);
}

void RelayCore::OnLocalSource(const PacketRef& packet) {
  now_ = clock_->Now();
  rtp::RtpView view;
  const rtp::RtpError error = rtp::ParseRtp(packet.bytes(), &view);
  if (error != rtp::RtpError::kOk) {
    Drop(kRtp, rtp::ErrorName(error));
    return;
  }
  auto it = streams_.find(view.ssrc);
  if (it == streams_.end() || !it->second->options.publishable) {
    Drop(kRelay, "unknown_ssrc");
    return;
  }
  Stream& stream = *it->second;
  // Keyframe requests go to the publisher while it sends.
  stream.published_until = now_ + kPublishedHold;
  Accept(stream, view, packet, std::nullopt);
}

void RelayCore::Accept(Stream& stream, const rtp::RtpView& view,
                       const PacketRef& packet,
                       std::optional<media::Endpoint> from) {
  const bool down = stream.options.direction == Direction::kDown;
  if (!down && !stream.options.selected && now_ >= stream.deselected_until) {
    Drop(kRelay, "not_selected");
    return;
  }
  int64_t seq = stream.unwrapper.Unwrap(view.sequence_number);
  if (!stream.ring.Insert(seq, packet, now_)) {
    const bool duplicate = stream.ring.Contains(seq);
    if (!Renumbered(stream, view, seq, packet, duplicate)) {
      Drop(kRelay, duplicate ? "duplicate" : "too_old");
      return;
    }
    seq = stream.unwrapper.Unwrap(view.sequence_number);
    stream.ring.Insert(seq, packet, now_);
  } else {
    stream.renumbered_run = 0;
  }
  if (seq == stream.ring.newest()) stream.newest_timestamp = view.timestamp;
  ++stream.counters.packets_in;
  stream.counters.bytes_in += packet.size();
  if (!down) {
    stream.source = from;
    if (const child::Parent* parent = parents_.upstream_parent()) {
      SendTo(parent->address, packet, &stream);
    }
  } else if (from.has_value() && stream.nacks.OnPacket(seq, now_)) {
    // (A gap in a local publisher's stream has no parent to ask.)
    ++stream.counters.repaired;
  }
  if (stream.options.h264) {
    const KeyframeStart start = DetectKeyframeStart(view);
    if (start == KeyframeStart::kMalformed) {
      ++counters_.h264_malformed;
    } else {
      stream.keyframes.Add(packet, start == KeyframeStart::kYes,
                           view.timestamp);
    }
  }
  if (down) {
    ForwardDown(stream, packet);
  } else if (local_viewers_ != nullptr) {
    // The center watches a selected site at the root (the browser edge).
    local_viewers_->OnStreamPacket(stream.options, packet);
  }
}

bool RelayCore::Renumbered(Stream& stream, const rtp::RtpView& view,
                           int64_t seq, const PacketRef& packet,
                           bool duplicate) {
  // Within 2^22 ticks (46 s of video, 87 s of audio) of the newest: the
  // same clock, so an old packet of this numbering. Another session's
  // random offset lands that near once in 500.
  constexpr uint32_t kSameClock = 1u << 22;
  const uint32_t ahead = view.timestamp - stream.newest_timestamp;
  if (ahead <= kSameClock || -ahead <= kSameClock) {
    stream.renumbered_run = 0;
    return false;
  }
  const uint16_t seq16 = view.sequence_number;
  if (duplicate) {
    const PacketRef held = stream.ring.Find(seq, now_);
    // A copy (a retransmission, both roots fed the same packets) is no
    // sign of anything.
    if (!held || std::equal(held.bytes().begin(), held.bytes().end(),
                            packet.bytes().begin(), packet.bytes().end())) {
      return false;
    }
  }
  stream.renumbered_run =
      stream.renumbered_run > 0 &&
              seq16 == static_cast<uint16_t>(stream.renumbered_last + 1)
          ? stream.renumbered_run + 1
          : 1;
  stream.renumbered_last = seq16;
  if (stream.renumbered_run < kRenumberedRun) return false;
  LOG(WARNING) << "stream " << stream.options.ssrc << ": " << kRenumberedRun
               << " packets in a row behind or unlike what this relay holds "
                  "under their numbers: the source's numbering started "
                  "afresh (a new publisher session?); following it";
  stream.unwrapper = rtp::SeqUnwrapper();
  stream.ring.Clear();
  stream.keyframes.Clear();
  stream.nacks.Restart();
  stream.renumbered_run = 0;
  ++stream.counters.renumbered;
  // The new numbering's pictures refer to frames this relay never had.
  ForwardKeyframeRequest(stream, /*fir=*/false, KeyframeSource(stream));
  return true;
}

void RelayCore::ForwardDown(Stream& stream, const PacketRef& packet) {
  if (local_viewers_ != nullptr) {
    local_viewers_->OnStreamPacket(stream.options, packet);
  }
  if (active_.empty()) return;
  last_fanout_ = now_;
  transport_->SendToAll(FanoutOf(stream), packet);
  stream.counters.packets_out += active_.size();
  stream.counters.bytes_out += active_.size() * packet.size();
}

const std::shared_ptr<const FanoutList>& RelayCore::FanoutOf(
    const Stream& stream) const {
  return stream.options.audio ? audio_fanout_ : video_fanout_;
}

const media::Endpoint& RelayCore::DestinationOf(const Child& child,
                                                const Stream& stream) const {
  return stream.options.audio && child.options.audio_address
             ? *child.options.audio_address
             : child.address;
}

void RelayCore::OnUnreachable(const media::Endpoint& to) {
  parents_.OnUnreachable(to);
}

void RelayCore::OnTick() {
  now_ = clock_->Now();
  ExcuseOwnDelay();
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
  if (actions.retried_first) {
    ++counters_.parent_switches;
    LOG(INFO) << "parent " << parents_.leaving()->id << " replaced by "
              << parents_.active()->id
              << " again, which had not answered when it was left";
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

void RelayCore::ExcuseOwnDelay() {
  // Time the relay itself did not run (descheduled, stopped) says nothing
  // about its parent, whose packets wait in the socket: not counted.
  if (now_ > tick_due_) parents_.Excuse(now_ - tick_due_, now_);
  tick_due_ = absl::InfiniteFuture();
}

absl::Duration RelayCore::NextTick() {
  // A relay that did not run wakes for its socket as often as for its
  // timer: the tick it missed is excused before a new one replaces it, or
  // the next OnTick would take the whole stall for its parent's silence.
  now_ = clock_->Now();
  ExcuseOwnDelay();
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

PacketRef RelayCore::ChildReport() {
  PacketRef p = NewPacket();
  if (!p) return p;
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
  if (size == 0) return PacketRef();
  p.set_size(size);
  return p;
}

void RelayCore::SendChildReports() {
  last_child_report_ = now_;
  // Only activated children are relays that watch for a dead parent; plain
  // push endpoints get media only.
  bool any = false;
  for (const Child* c : active_) any = any || !c->options.static_push;
  if (!any) return;
  const PacketRef p = ChildReport();
  if (!p) return;
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

}  // namespace cascade::relay
