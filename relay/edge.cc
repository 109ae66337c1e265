#include "relay/edge.h"

#include <glog/logging.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/prometheus_text.h"
#include "webrtc/edge/srtp_gcm_openssl.h"
#include "webrtc/ice/demux.h"
#include "webrtc/sdp/answer.h"

namespace cascade::relay {
namespace {

ice::TransportAddress ToTransport(const media::Endpoint& e) {
  return ice::TransportAddress::V4(e.ip, e.port);
}

// Only IPv4 reaches the relay's socket.
std::optional<media::Endpoint> ToEndpoint(const ice::TransportAddress& a) {
  if (a.family != ice::TransportAddress::Family::kIpv4) return std::nullopt;
  media::Endpoint e;
  e.ip = (uint32_t{a.ip[0]} << 24) | (uint32_t{a.ip[1]} << 16) |
         (uint32_t{a.ip[2]} << 8) | a.ip[3];
  e.port = a.port;
  return e;
}

// A counter family by reason: one sample per entry of `values` from `first`
// on, named by `names(i)`.
template <typename Names>
void AppendByReason(std::string* out, absl::string_view name,
                    absl::string_view help, absl::Span<const uint64_t> values,
                    Names names, size_t first = 0) {
  AppendFamily(out, name, "counter", help);
  for (size_t i = first; i < values.size(); ++i) {
    AppendSample(out, name, {{"reason", names(i)}}, values[i]);
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<RelayEdge>> RelayEdge::Create(
    const EdgeOptions& options, const RelayOptions& relay,
    const dtls::Certificate* certificate, uv_loop_t* loop, Clock* clock,
    PacketPool* pool, UdpSocket* socket, RelayCore* core,
    StreamDecryptor* decryptor) {
  edge::WhepHandler::Options handler;
  handler.relay_id = relay.node_id;
  handler.max_sessions = options.max_viewers;
  handler.candidates = options.candidates;
  if (handler.candidates.empty()) {
    if (socket->local().ip == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          relay.node_id,
          ": the browser edge needs the address browsers reach the relay's "
          "UDP socket at (--edge_candidates) when it listens on ",
          socket->local().ToString()));
    }
    handler.candidates.push_back(socket->local().ToString());
  }
  // What every answer would refuse is refused once, here.
  if (absl::Status s = sdp::CheckCandidates(handler.candidates); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(relay.node_id, ": --edge_candidates: ", s.message()));
  }
  // libsrtp2 loaded now, its AES-GCM on OpenSSL: the sessions' SRTP.
  if (absl::Status srtp = edge::UseOpenSslForSrtpGcm(); !srtp.ok()) {
    return srtp;
  }
  std::unique_ptr<RelayEdge> e(
      new RelayEdge(options, clock, pool, socket, core, decryptor));
  e->handler_ = std::make_unique<edge::WhepHandler>(
      std::move(handler), edge::StreamCatalogue(), &e->verifier_, certificate,
      e.get(), e.get(), e.get());
  e->Apply(relay);
  e->timer_ = UvHandle<uv_timer_t>::Make();
  uv_timer_init(loop, e->timer_.get());  // cannot fail
  e->timer_.get()->data = e.get();
  core->set_local_viewers(e.get());
  return e;
}

RelayEdge::RelayEdge(const EdgeOptions& options, Clock* clock, PacketPool* pool,
                     UdpSocket* socket, RelayCore* core,
                     StreamDecryptor* decryptor)
    : post_rate_(options.posts_per_second_per_address),
      post_burst_(options.post_burst_per_address),
      clock_(clock),
      pool_(pool),
      socket_(socket),
      core_(core),
      decryptor_(decryptor) {}

RelayEdge::~RelayEdge() {
  core_->set_local_viewers(nullptr);
  timer_.Reset();
  // Sessions may call back into us while they go.
  handler_.reset();
}

bool RelayEdge::Claims(absl::Span<const uint8_t> datagram,
                       const media::Endpoint& from) const {
  switch (ice::Classify(datagram)) {
    case ice::DatagramKind::kStun:
    case ice::DatagramKind::kDtls:
      return true;
    default:
      // A checked browser's SRTP and SRTCP; everything else is the relay
      // protocol's.
      return handler_->IsCheckedAddress(ToTransport(from));
  }
}

void RelayEdge::OnDatagram(absl::Span<const uint8_t> datagram,
                           const media::Endpoint& from) {
  const absl::Time due =
      handler_->OnDatagram(datagram, ToTransport(from), clock_->Now());
  socket_->Flush();
  ArmNoLaterThan(due);
}

edge::HttpResponse RelayEdge::Handle(const edge::HttpRequest& request,
                                     absl::string_view client) {
  const absl::Time now = clock_->Now();
  if (request.method == "POST" && !AllowPost(client, now)) {
    ++posts_rate_limited_;
    edge::HttpResponse response;
    response.status = 429;
    response.headers = {{"Access-Control-Allow-Origin", "*"},
                        {"Retry-After", "1"},
                        {"Content-Type", "text/plain"}};
    response.body = "too many requests from this address\n";
    return response;
  }
  edge::HttpResponse response = handler_->Handle(request, now);
  Settle();
  return response;
}

bool RelayEdge::AllowPost(absl::string_view client, absl::Time now) {
  // Bounded: addresses idle for a minute are forgotten (a full budget is
  // what a new one gets anyway) before the table grows past its limit.
  constexpr size_t kMaxAddresses = 10000;
  if (post_budgets_.size() >= kMaxAddresses &&
      !post_budgets_.contains(client)) {
    absl::erase_if(post_budgets_, [&](const auto& entry) {
      return now - entry.second.last_used > absl::Minutes(1);
    });
    if (post_budgets_.size() >= kMaxAddresses) return false;
  }
  auto [it, added] = post_budgets_.try_emplace(
      client, PostBudget{TokenBucket(post_rate_, post_burst_), now});
  it->second.last_used = now;
  return it->second.bucket.Allow(now);
}

void RelayEdge::Apply(const RelayOptions& relay) {
  SetStreams(relay);
  SetKeys(relay.edge_token_keys);
}

void RelayEdge::SetStreams(const RelayOptions& relay) {
  tracks_.clear();
  edge::StreamCatalogue catalogue;
  auto entry = [&](const std::string& id) -> edge::EdgeStream& {
    for (edge::EdgeStream& e : catalogue.streams) {
      if (e.id == id) return e;
    }
    edge::EdgeStream& e = catalogue.streams.emplace_back();
    e.id = id;
    e.watchable = false;
    e.has_audio = false;
    return e;
  };
  for (const StreamOptions& s : relay.streams) {
    if (s.stream_id.empty()) continue;
    if (!s.h264 && !s.audio) continue;  // no codec a browser knows
    const edge::Track track =
        s.audio ? edge::Track::kAudio : edge::Track::kVideo;
    // Browsers watch what comes down the tree, and at its root the sites
    // the center selected.
    if (s.watchable) {
      tracks_[s.ssrc] = {s.stream_id, track};
      edge::EdgeStream& e = entry(s.stream_id);
      e.watchable = true;
      if (s.audio) e.has_audio = true;
    }
    // And publish where a stream enters it (RelayStream.publishable).
    if (s.publishable) {
      edge::EdgeStream& e = entry(s.stream_id);
      e.publishable = true;
      (s.audio ? e.publish_audio : e.publish_video) = {s.ssrc, s.payload_type};
    }
  }
  handler_->SetCatalogue(std::move(catalogue));
}

void RelayEdge::SetKeys(const std::vector<std::string>& keys) {
  if (keys.empty()) {
    // Until an assignment brings keys no token verifies.
    verifier_ = control::EdgeTokenVerifier();
    token_keys_ = 0;
    return;
  }
  absl::StatusOr<control::EdgeTokenVerifier> verifier =
      control::EdgeTokenVerifier::FromPublicKeys(keys);
  if (!verifier.ok()) {
    LOG(ERROR) << "edge token keys refused, keeping the previous ones: "
               << verifier.status();
    return;
  }
  verifier_ = *std::move(verifier);
  token_keys_ = keys.size();
}

void RelayEdge::OnStreamPacket(const StreamOptions& stream,
                               const PacketRef& packet) {
  const auto it = tracks_.find(stream.ssrc);
  if (it == tracks_.end()) return;
  const absl::Span<edge::ViewerSession* const> sessions =
      handler_->SessionsOf(it->second.stream_id);
  if (sessions.empty()) return;
  // Shared with the plain endpoints: one decryption per packet.
  const PacketRef plain = decryptor_->Decrypt(packet);
  if (!plain) return;
  const absl::Time now = clock_->Now();
  for (edge::ViewerSession* session : sessions) {
    if (session->state() != edge::SessionState::kConnected) continue;
    if (session->SendRtp(it->second.track, plain.bytes(), now)) {
      ++packets_to_viewers_;
    }
  }
}

void RelayEdge::OnDownSenderReport(const StreamOptions& stream,
                                   const rtp::SenderReportView& sr) {
  const auto it = tracks_.find(stream.ssrc);
  if (it == tracks_.end()) return;
  const absl::Time now = clock_->Now();
  for (edge::ViewerSession* session :
       handler_->SessionsOf(it->second.stream_id)) {
    if (session->state() != edge::SessionState::kConnected) continue;
    if (session->SendSenderReport(it->second.track, sr.sender_ssrc, sr.info,
                                  now)) {
      ++reports_to_viewers_;
    }
  }
}

void RelayEdge::Send(absl::Span<const uint8_t> datagram,
                     const ice::TransportAddress& to) {
  const std::optional<media::Endpoint> endpoint = ToEndpoint(to);
  if (!endpoint) return;
  PacketRef p;
  if (lent_ && datagram.data() == lent_.data()) {
    p = std::move(lent_);
    p.set_size(datagram.size());
  } else {
    p = pool_->Copy(datagram);
  }
  if (!p) {
    ++send_pool_empty_;
    return;
  }
  socket_->Send(*endpoint, p);
}

absl::Span<uint8_t> RelayEdge::LendBuffer() {
  if (!lent_) lent_ = pool_->Acquire();
  if (!lent_) return {};
  return lent_.buffer();
}

void RelayEdge::OnStateChange(edge::ViewerSession& session,
                              edge::SessionState state) {
  VLOG(1) << "viewer " << session.id() << ": " << edge::SessionStateName(state);
  if (state == edge::SessionState::kConnected) SendCachedKeyframe(session);
}

uint32_t RelayEdge::VideoSsrcOf(const edge::ViewerSession& session) const {
  const absl::string_view stream = handler_->StreamOf(session.id());
  for (const auto& [ssrc, info] : tracks_) {
    if (info.stream_id == stream && info.track == edge::Track::kVideo) {
      return ssrc;
    }
  }
  return 0;
}

void RelayEdge::SendCachedKeyframe(edge::ViewerSession& session) {
  const uint32_t ssrc = VideoSsrcOf(session);
  if (ssrc == 0) return;
  const std::vector<PacketRef>& cached = core_->CachedKeyframe(ssrc);
  if (cached.empty()) {
    core_->RequestKeyframe(ssrc);
    return;
  }
  const absl::Time now = clock_->Now();
  for (const PacketRef& cipher : cached) {
    const PacketRef p = decryptor_->Recall(cipher);
    if (p && session.SendRtp(edge::Track::kVideo, p.bytes(), now)) {
      ++keyframe_packets_to_viewers_;
    }
  }
}

void RelayEdge::OnNack(edge::ViewerSession& session, uint32_t source_ssrc,
                       absl::Span<const uint16_t> seqs) {
  const auto it = tracks_.find(source_ssrc);
  if (it == tracks_.end()) return;
  const absl::Time now = clock_->Now();
  for (uint16_t seq : seqs) {
    PacketRef p = decryptor_->Recall(core_->Resend(source_ssrc, seq));
    if (p && session.SendRtp(it->second.track, p.bytes(), now)) {
      ++resent_to_viewers_;
    }
  }
}

void RelayEdge::OnKeyframeRequest(edge::ViewerSession& session) {
  // The first picture came from the cache at connection; later ones are
  // the source's to make.
  const uint32_t ssrc = VideoSsrcOf(session);
  if (ssrc != 0) core_->RequestKeyframe(ssrc);
}

void RelayEdge::OnPublishedRtp(absl::string_view, edge::Track,
                               absl::Span<const uint8_t> packet) {
  // Already the tree's SSRC and payload type: the core takes it as the
  // stream's source would send it.
  PacketRef p = pool_->Copy(packet);
  if (!p) {
    ++send_pool_empty_;
    return;
  }
  ++packets_from_publishers_;
  core_->OnLocalSource(p);
}

void RelayEdge::OnPublishedSenderReport(absl::string_view, edge::Track,
                                        absl::Span<const uint8_t> packet) {
  PacketRef p = pool_->Copy(packet);
  if (p) core_->OnLocalSenderReport(p);
}

void RelayEdge::OnPublisherState(absl::string_view stream,
                                 const edge::PublisherSession& session,
                                 edge::SessionState state) {
  LOG(INFO) << "publisher of " << stream << ": "
            << edge::SessionStateName(state)
            << (session.ended()
                    ? absl::StrCat(
                          " (", edge::CloseReasonName(session.close_reason()),
                          ")")
                    : "");
}

void RelayEdge::OnPublishedKeyframeRequest(const StreamOptions& stream) {
  handler_->RequestKeyframe(stream.stream_id, clock_->Now());
}

void RelayEdge::CloseAll() {
  handler_->CloseAll();
  Settle();
}

void RelayEdge::Settle() {
  socket_->Flush();
  Arm(handler_->NextTimeout(clock_->Now()));
}

void RelayEdge::ArmNoLaterThan(absl::Time due) {
  if (due < timer_due_) Arm(due);
}

void RelayEdge::Arm(absl::Time due) {
  timer_due_ = due;
  if (due == absl::InfiniteFuture()) {
    uv_timer_stop(timer_.get());
    return;
  }
  const int64_t ms =
      std::max<int64_t>(1, absl::ToInt64Milliseconds(absl::Ceil(
                               due - clock_->Now(), absl::Milliseconds(1))));
  uv_timer_start(
      timer_.get(),
      [](uv_timer_t* h) {
        if (h->data == nullptr) return;
        RelayEdge* edge = static_cast<RelayEdge*>(h->data);
        edge->timer_due_ = absl::InfiniteFuture();
        edge->handler_->OnTimer(edge->clock_->Now());
        edge->Settle();
      },
      static_cast<uint64_t>(ms), 0);
}

void RelayEdge::RenderMetrics(std::string* out) const {
  const edge::WhepCounters& c = handler_->counters();
  AppendGauge(out, "relay_edge_viewers", "WHEP sessions open.",
              absl::StrCat(handler_->session_count()));
  AppendGauge(out, "relay_edge_token_keys",
              "Edge token keys accepted (0: no token is valid yet).",
              absl::StrCat(token_keys_));
  AppendGauge(out, "relay_edge_publishers", "WHIP publishers open.",
              absl::StrCat(handler_->publisher_count()));
  AppendCounter(out, "relay_edge_publishers_created_total",
                "WHIP publishers created.", c.publishers_created);
  AppendCounter(out, "relay_edge_publishers_replaced_total",
                "WHIP publishers replaced by a newer one of the stream.",
                c.publishers_replaced);
  AppendCounter(out, "relay_edge_published_packets_total",
                "RTP packets from WHIP publishers taken into the tree.",
                packets_from_publishers_);
  AppendByReason(
      out, "relay_edge_whip_refusals_total",
      "WHIP requests refused, by reason.", c.whip_refusals, [](size_t i) {
        return edge::WhepRefusalName(static_cast<edge::WhepRefusal>(i));
      });
  AppendCounter(out, "relay_edge_sessions_created_total",
                "WHEP sessions created.", c.sessions_created);
  AppendByReason(
      out, "relay_edge_sessions_ended_total", "WHEP sessions ended, by why.",
      c.sessions_ended,
      [](size_t i) {
        return edge::CloseReasonName(static_cast<edge::CloseReason>(i));
      },
      /*first=*/1);  // kNone: no session ends for no reason
  AppendByReason(
      out, "relay_edge_refusals_total", "WHEP requests refused, by reason.",
      c.refusals, [](size_t i) {
        return edge::WhepRefusalName(static_cast<edge::WhepRefusal>(i));
      });
  AppendByReason(out, "relay_edge_drops_total",
                 "Datagrams at the edge that reached no viewer, by reason.",
                 c.drops, [](size_t i) {
                   return edge::EdgeDropName(static_cast<edge::EdgeDrop>(i));
                 });
  AppendCounter(out, "relay_edge_packets_sent_total",
                "RTP packets sent to viewers (SRTP).", packets_to_viewers_);
  AppendCounter(out, "relay_edge_sender_reports_sent_total",
                "The source's sender reports passed to viewers (lip sync).",
                reports_to_viewers_);
  AppendCounter(out, "relay_edge_keyframe_packets_sent_total",
                "Cached keyframe packets sent to viewers as they connected.",
                keyframe_packets_to_viewers_);
  AppendCounter(out, "relay_edge_resent_total",
                "Packets resent to viewers on their NACKs.",
                resent_to_viewers_);
  AppendCounter(out, "relay_edge_rate_limited_total",
                "Session requests refused with 429: too many from one "
                "address.",
                posts_rate_limited_);
  AppendCounter(out, "relay_edge_send_pool_empty_total",
                "Edge datagrams not sent: no packet slot was free.",
                send_pool_empty_);
}

}  // namespace cascade::relay
