// WhepHandler's WHIP half (whep_handler.h): publishers, one per stream.
#include <memory>
#include <string>
#include <utility>

#include "webrtc/edge/whep_handler.h"

namespace cascade::edge {

class WhepHandler::PublisherRelay : public PublisherSession::Listener {
 public:
  PublisherRelay(std::string stream, PublisherListener* up)
      : stream_(std::move(stream)), up_(up) {}

  void OnStateChange(PublisherSession& session, SessionState state) override {
    up_->OnPublisherState(stream_, session, state);
  }
  void OnRtp(PublisherSession&, Track track,
             absl::Span<const uint8_t> packet) override {
    up_->OnPublishedRtp(stream_, track, packet);
  }
  void OnSenderReport(PublisherSession&, Track track,
                      absl::Span<const uint8_t> packet) override {
    up_->OnPublishedSenderReport(stream_, track, packet);
  }

 private:
  const std::string stream_;
  PublisherListener* const up_;
};

WhepHandler::PublisherEntry::~PublisherEntry() = default;

HttpResponse WhepHandler::PostWhip(const HttpRequest& request,
                                   absl::string_view stream_id,
                                   absl::Time now) {
  // The token first: nothing about streams or publishers to a stranger.
  if (auto refused = Authorize(request, stream_id, Protocol::kWhip, now)) {
    return *std::move(refused);
  }
  const EdgeStream* stream = FindStream(stream_id);
  if (stream == nullptr || !stream->publishable) {
    return Refuse(Protocol::kWhip, WhepRefusal::kUnknownStream);
  }
  if (auto refused = CheckBody(request, Protocol::kWhip)) {
    return *std::move(refused);
  }
  const auto existing = publishers_.find(stream->id);
  if (existing != publishers_.end()) {
    const PublisherSession& live = *existing->second->session;
    if (live.state() == SessionState::kConnected &&
        now - live.last_media() < options_.publisher_silence) {
      return Refuse(Protocol::kWhip, WhepRefusal::kConflict);
    }
  }
  Negotiated n;
  HttpResponse refusal;
  if (!Negotiate(request, *stream, Protocol::kWhip, &n, &refusal)) {
    return refusal;
  }
  auto entry = std::make_unique<PublisherEntry>();
  entry->stream = stream->id;
  entry->relay =
      std::make_unique<PublisherRelay>(stream->id, publisher_listener_);
  PublisherSession::Options session_options = options_.publisher;
  session_options.video = stream->publish_video;
  session_options.audio = stream->publish_audio;
  absl::StatusOr<std::unique_ptr<PublisherSession>> session =
      PublisherSession::Create(n.id, n.answer, n.answer_options, *certificate_,
                               sink_, entry->relay.get(), now, session_options);
  if (!session.ok()) {
    // The offer passed BuildAnswer, so this is about its fingerprint.
    return Refuse(Protocol::kWhip,
                  session.status().code() == absl::StatusCode::kInvalidArgument
                      ? WhepRefusal::kMalformedSdp
                      : WhepRefusal::kInternal,
                  session.status().message());
  }
  // Only a publisher that got its answer replaces the one before.
  if (existing != publishers_.end()) {
    existing->second->session->Close(CloseReason::kDeleted);
    ++counters_.publishers_replaced;
    RemovePublisher(stream->id);
  }
  entry->session = *std::move(session);
  by_ufrag_[entry->session->local_ufrag()] = {nullptr, entry.get()};
  publishers_[stream->id] = std::move(entry);
  ++counters_.publishers_created;
  return Created(Protocol::kWhip, stream->id, n.id, n.answer.sdp);
}

HttpResponse WhepHandler::DeleteWhip(absl::string_view stream,
                                     absl::string_view id) {
  // The session URL is the capability (128 random bits), as for WHEP.
  const auto it = publishers_.find(stream);
  if (it == publishers_.end() || it->second->session->id() != id) {
    return Refuse(Protocol::kWhip, WhepRefusal::kUnknownSession);
  }
  it->second->session->Close(CloseReason::kDeleted);
  RemovePublisher(it->first);
  return WithCors(200);
}

absl::Time WhepHandler::OnPublisherDatagram(PublisherEntry* entry,
                                            absl::Span<const uint8_t> datagram,
                                            const ice::TransportAddress& from,
                                            absl::Time now) {
  PublisherSession& session = *entry->session;
  session.OnDatagram(datagram, from, now);
  if (session.ended()) {
    RemovePublisher(entry->stream);
    return absl::InfiniteFuture();
  }
  IndexAddresses({nullptr, entry}, entry->addresses, from);
  return session.NextTimeout(now);
}

void WhepHandler::RemovePublisher(const std::string& stream_ref) {
  const std::string stream = stream_ref;  // may live in the entry erased
  const auto it = publishers_.find(stream);
  if (it == publishers_.end()) return;
  PublisherEntry* entry = it->second.get();
  ++counters_
        .publishers_ended[static_cast<size_t>(entry->session->close_reason())];
  Unindex({nullptr, entry}, entry->session->local_ufrag(), entry->addresses);
  publishers_.erase(it);
}

bool WhepHandler::RequestKeyframe(absl::string_view stream, absl::Time now) {
  const auto it = publishers_.find(stream);
  return it != publishers_.end() && it->second->session->RequestKeyframe(now);
}

const PublisherSession* WhepHandler::PublisherOf(
    absl::string_view stream) const {
  const auto it = publishers_.find(stream);
  return it == publishers_.end() ? nullptr : it->second->session.get();
}

}  // namespace cascade::edge
