#include "webrtc/edge/whep_handler.h"

#include <openssl/rand.h>

#include <algorithm>
#include <tuple>
#include <utility>

#include "absl/hash/hash.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "webrtc/ice/demux.h"
#include "webrtc/ice/ice_lite.h"
#include "webrtc/sdp/answer.h"

namespace cascade::edge {
namespace {

constexpr size_t kSessionIdBytes = 16;

struct RefusalInfo {
  int status;
  absl::string_view name;
  absl::string_view line;
};

constexpr RefusalInfo kRefusals[] = {
    {401, "unauthorized", "missing or invalid token"},
    {403, "forbidden", "token not valid for this relay, stream or action"},
    {404, "unknown_stream", "unknown stream"},
    {404, "unknown_session", "unknown session"},
    {404, "bad_path", "not found"},
    {400, "malformed_sdp", "malformed offer"},
    {415, "unsupported_media", "unsupported media"},
    {413, "too_large", "offer too large"},
    {405, "method_not_allowed", "method not allowed"},
    {503, "session_limit", "too many sessions"},
    {500, "internal", "internal error"},
    {409, "conflict", "the stream has a live publisher"},
};
static_assert(std::size(kRefusals) == static_cast<size_t>(WhepRefusal::kCount));

void AddHeader(HttpResponse* response, absl::string_view name,
               absl::string_view value) {
  response->headers.push_back({std::string(name), std::string(value)});
}

// The token of "Bearer TOKEN" (scheme in any case), or "".
absl::string_view BearerToken(const std::string* authorization) {
  if (authorization == nullptr) return "";
  absl::string_view value = absl::StripAsciiWhitespace(*authorization);
  constexpr absl::string_view kScheme = "bearer ";
  if (value.size() <= kScheme.size() ||
      !absl::EqualsIgnoreCase(value.substr(0, kScheme.size()), kScheme)) {
    return "";
  }
  return absl::StripLeadingAsciiWhitespace(value.substr(kScheme.size()));
}

// "application/sdp", parameters allowed.
bool IsSdpContentType(const std::string* content_type) {
  if (content_type == nullptr) return false;
  const absl::string_view type = absl::StripAsciiWhitespace(
      absl::string_view(*content_type).substr(0, content_type->find(';')));
  return absl::EqualsIgnoreCase(type, "application/sdp");
}

bool RandomBytes(uint8_t* out, size_t size) {
  return RAND_bytes(out, static_cast<int>(size)) == 1;
}

}  // namespace

absl::string_view WhepRefusalName(WhepRefusal refusal) {
  const size_t i = static_cast<size_t>(refusal);
  return i < std::size(kRefusals) ? kRefusals[i].name : "unknown";
}

absl::string_view EdgeDropName(EdgeDrop drop) {
  switch (drop) {
    case EdgeDrop::kStunUnparsable:
      return "stun_unparsable";
    case EdgeDrop::kUnknownUfrag:
      return "unknown_ufrag";
    case EdgeDrop::kUnknownAddress:
      return "unknown_address";
    case EdgeDrop::kCount:
      break;
  }
  return "unknown";
}

HttpResponse WhepHandler::WithCors(int status) {
  HttpResponse response;
  response.status = status;
  AddHeader(&response, "Access-Control-Allow-Origin", "*");
  return response;
}

const std::string* FindHeader(const std::vector<HttpHeader>& headers,
                              absl::string_view name) {
  for (const HttpHeader& h : headers) {
    if (absl::EqualsIgnoreCase(h.name, name)) return &h.value;
  }
  return nullptr;
}

size_t WhepHandler::AddressHash::operator()(
    const ice::TransportAddress& a) const {
  return absl::Hash<std::tuple<uint8_t, std::array<uint8_t, 16>, uint16_t>>()(
      std::make_tuple(static_cast<uint8_t>(a.family), a.ip, a.port));
}

WhepHandler::WhepHandler(Options options, StreamCatalogue catalogue,
                         const control::EdgeTokenVerifier* verifier,
                         const dtls::Certificate* certificate,
                         DatagramSink* sink, ViewerSession::Listener* listener,
                         PublisherListener* publishers)
    : options_(std::move(options)),
      catalogue_(std::move(catalogue)),
      verifier_(verifier),
      certificate_(certificate),
      sink_(sink),
      listener_(listener),
      publisher_listener_(publishers) {}

WhepHandler::~WhepHandler() = default;

void WhepHandler::SetCatalogue(StreamCatalogue catalogue) {
  catalogue_ = std::move(catalogue);
}

const EdgeStream* WhepHandler::FindStream(absl::string_view id) const {
  for (const EdgeStream& s : catalogue_.streams) {
    if (s.id == id) return &s;
  }
  return nullptr;
}

HttpResponse WhepHandler::Refuse(Protocol protocol, WhepRefusal refusal,
                                 absl::string_view detail) {
  ++(protocol == Protocol::kWhip
         ? counters_.whip_refusals
         : counters_.refusals)[static_cast<size_t>(refusal)];
  const RefusalInfo& info = kRefusals[static_cast<size_t>(refusal)];
  HttpResponse response = WithCors(info.status);
  AddHeader(&response, "Content-Type", "text/plain");
  std::string body(info.line);
  if (!detail.empty()) absl::StrAppend(&body, ": ", detail);
  // One line, bounded: the detail may quote the client's bytes.
  std::replace(body.begin(), body.end(), '\n', ' ');
  std::replace(body.begin(), body.end(), '\r', ' ');
  body.resize(std::min(body.size(), kMaxErrorBody - 1));
  response.body = body + "\n";
  if (refusal == WhepRefusal::kUnauthorized) {
    AddHeader(&response, "WWW-Authenticate", "Bearer");
  }
  if (refusal == WhepRefusal::kSessionLimit) {
    AddHeader(&response, "Retry-After",
              absl::StrCat(absl::ToInt64Seconds(options_.retry_after)));
  }
  return response;
}

HttpResponse WhepHandler::Handle(const HttpRequest& request, absl::Time now) {
  absl::string_view path = request.path;
  path = path.substr(0, path.find('?'));
  Protocol protocol = Protocol::kWhep;
  if (absl::ConsumePrefix(&path, kWhipPrefix) &&
      publisher_listener_ != nullptr) {
    protocol = Protocol::kWhip;
  } else if (!absl::ConsumePrefix(&path, kWhepPrefix)) {
    return Refuse(Protocol::kWhep, WhepRefusal::kBadPath);
  }
  const std::vector<absl::string_view> parts = absl::StrSplit(path, '/');
  const bool collection = parts.size() == 1 && !parts[0].empty();
  const bool resource =
      parts.size() == 2 && !parts[0].empty() && !parts[1].empty();
  if (!collection && !resource) return Refuse(protocol, WhepRefusal::kBadPath);

  if (request.method == "OPTIONS") {
    HttpResponse response = WithCors(204);
    AddHeader(&response, "Access-Control-Allow-Methods",
              "POST, DELETE, OPTIONS");
    AddHeader(&response, "Access-Control-Allow-Headers",
              "Authorization, Content-Type");
    AddHeader(&response, "Access-Control-Expose-Headers", "Location");
    if (collection) AddHeader(&response, "Accept-Post", "application/sdp");
    return response;
  }
  const bool whip = protocol == Protocol::kWhip;
  if (collection && request.method == "POST") {
    return whip ? PostWhip(request, parts[0], now)
                : Post(request, parts[0], now);
  }
  if (resource && request.method == "DELETE") {
    return whip ? DeleteWhip(parts[0], parts[1]) : Delete(parts[0], parts[1]);
  }
  HttpResponse response = Refuse(protocol, WhepRefusal::kMethodNotAllowed);
  AddHeader(&response, "Allow",
            collection ? "POST, OPTIONS" : "DELETE, OPTIONS");
  return response;
}

std::optional<HttpResponse> WhepHandler::Authorize(const HttpRequest& request,
                                                   absl::string_view stream_id,
                                                   Protocol protocol,
                                                   absl::Time now) {
  const absl::string_view token =
      BearerToken(FindHeader(request.headers, "Authorization"));
  if (token.empty()) return Refuse(protocol, WhepRefusal::kUnauthorized);
  const absl::StatusOr<control::EdgeToken> claims = verifier_->Verify(
      token, options_.relay_id, stream_id,
      protocol == Protocol::kWhip ? control::EdgeAction::kPublish
                                  : control::EdgeAction::kWatch,
      now);
  if (!claims.ok()) {
    return Refuse(protocol,
                  claims.status().code() == absl::StatusCode::kPermissionDenied
                      ? WhepRefusal::kForbidden
                      : WhepRefusal::kUnauthorized);
  }
  return std::nullopt;
}

std::optional<HttpResponse> WhepHandler::CheckBody(const HttpRequest& request,
                                                   Protocol protocol) {
  if (!IsSdpContentType(FindHeader(request.headers, "Content-Type"))) {
    return Refuse(protocol, WhepRefusal::kUnsupportedMedia,
                  "expected application/sdp");
  }
  if (request.body.size() > options_.max_body_bytes) {
    return Refuse(protocol, WhepRefusal::kTooLarge);
  }
  return std::nullopt;
}

bool WhepHandler::Negotiate(const HttpRequest& request,
                            const EdgeStream& stream, Protocol protocol,
                            Negotiated* out, HttpResponse* refusal) {
  const absl::StatusOr<sdp::SessionDescription> offer =
      sdp::ParseSdp(request.body);
  if (!offer.ok()) {
    *refusal =
        Refuse(protocol, WhepRefusal::kMalformedSdp, offer.status().message());
    return false;
  }
  absl::StatusOr<ice::IceCredentials> credentials = ice::RandomIceCredentials();
  uint8_t id_bytes[kSessionIdBytes];
  uint64_t origin_id = 0;
  if (!credentials.ok() || !RandomBytes(id_bytes, sizeof(id_bytes)) ||
      !RandomBytes(reinterpret_cast<uint8_t*>(&origin_id), sizeof(origin_id))) {
    *refusal = Refuse(protocol, WhepRefusal::kInternal);
    return false;
  }
  out->id = absl::BytesToHexString(absl::string_view(
      reinterpret_cast<const char*>(id_bytes), sizeof(id_bytes)));

  sdp::AnswerOptions& o = out->answer_options;
  if (protocol == Protocol::kWhip) {
    o.role = sdp::RelayRole::kReceive;
    o.has_video = stream.publish_video.ssrc != 0;
    o.has_audio = stream.publish_audio.ssrc != 0;
  } else {
    o.role = sdp::RelayRole::kSend;
    o.has_video = true;
    o.has_audio = stream.has_audio;
    o.msid_stream_id = "cascade";
    o.cname = "cascade";
    o.video = {options_.video_ssrc, "video"};
    o.audio = {options_.audio_ssrc, "audio"};
  }
  o.h264_profile_level_id = stream.h264_profile_level_id;
  o.ice_ufrag = credentials->ufrag;
  o.ice_pwd = credentials->pwd;
  const dtls::Fingerprint& fingerprint = certificate_->fingerprint();
  o.fingerprint = absl::StrCat(fingerprint.algorithm, " ", fingerprint.value);
  o.candidates = options_.candidates;
  o.session_id = origin_id >> 2;  // o= wants a positive number
  absl::StatusOr<sdp::Answer> answer = sdp::BuildAnswer(*offer, o);
  if (!answer.ok()) {
    switch (answer.status().code()) {
      case absl::StatusCode::kInvalidArgument:
        *refusal = Refuse(protocol, WhepRefusal::kMalformedSdp,
                          answer.status().message());
        break;
      case absl::StatusCode::kFailedPrecondition:
        *refusal = Refuse(protocol, WhepRefusal::kUnsupportedMedia,
                          answer.status().message());
        break;
      default:
        *refusal = Refuse(protocol, WhepRefusal::kInternal);
        break;
    }
    return false;
  }
  out->answer = *std::move(answer);
  return true;
}

HttpResponse WhepHandler::Created(Protocol protocol, absl::string_view stream,
                                  absl::string_view id,
                                  const std::string& answer) const {
  HttpResponse response = WithCors(201);
  AddHeader(
      &response, "Location",
      absl::StrCat(protocol == Protocol::kWhip ? kWhipPrefix : kWhepPrefix,
                   stream, "/", id));
  AddHeader(&response, "Content-Type", "application/sdp");
  response.body = answer;
  return response;
}

HttpResponse WhepHandler::Post(const HttpRequest& request,
                               absl::string_view stream_id, absl::Time now) {
  // The token first: nothing about streams or limits to a stranger.
  if (auto refused = Authorize(request, stream_id, Protocol::kWhep, now)) {
    return *std::move(refused);
  }
  const EdgeStream* stream = FindStream(stream_id);
  if (stream == nullptr || !stream->watchable) {
    return Refuse(Protocol::kWhep, WhepRefusal::kUnknownStream);
  }
  if (auto refused = CheckBody(request, Protocol::kWhep)) {
    return *std::move(refused);
  }
  if (sessions_.size() >= options_.max_sessions) {
    return Refuse(Protocol::kWhep, WhepRefusal::kSessionLimit);
  }
  Negotiated n;
  HttpResponse refusal;
  if (!Negotiate(request, *stream, Protocol::kWhep, &n, &refusal)) {
    return refusal;
  }
  absl::StatusOr<std::unique_ptr<ViewerSession>> session =
      ViewerSession::Create(n.id, n.answer, n.answer_options, *certificate_,
                            sink_, listener_, now, options_.session);
  if (!session.ok()) {
    // The offer passed BuildAnswer, so this is about its fingerprint.
    return Refuse(Protocol::kWhep,
                  session.status().code() == absl::StatusCode::kInvalidArgument
                      ? WhepRefusal::kMalformedSdp
                      : WhepRefusal::kInternal,
                  session.status().message());
  }
  ViewerSession* raw = session->get();
  by_ufrag_[raw->local_ufrag()] = {raw, nullptr};
  by_stream_[stream->id].push_back(raw);
  sessions_[n.id] = Entry{stream->id, *std::move(session), {}};
  ++counters_.sessions_created;
  return Created(Protocol::kWhep, stream->id, n.id, n.answer.sdp);
}

HttpResponse WhepHandler::Delete(absl::string_view stream,
                                 absl::string_view id) {
  // The session URL is the capability (128 random bits), as RFC 9725's
  // clients use it: no token needed to end one's own session.
  const auto it = sessions_.find(id);
  if (it == sessions_.end() || it->second.stream != stream) {
    return Refuse(Protocol::kWhep, WhepRefusal::kUnknownSession);
  }
  it->second.session->Close(CloseReason::kDeleted);
  Remove(it->first);
  return WithCors(200);
}

absl::Time WhepHandler::OnDatagram(absl::Span<const uint8_t> datagram,
                                   const ice::TransportAddress& from,
                                   absl::Time now) {
  Route route;
  if (ice::Classify(datagram) == ice::DatagramKind::kStun) {
    ice::StunMessage message;
    if (ice::ParseStun(datagram, &message) != ice::StunError::kOk ||
        !message.username.has_value()) {
      ++counters_.drops[static_cast<size_t>(EdgeDrop::kStunUnparsable)];
      return absl::InfiniteFuture();
    }
    const absl::string_view username = *message.username;
    const auto it = by_ufrag_.find(username.substr(0, username.find(':')));
    if (it == by_ufrag_.end()) {
      ++counters_.drops[static_cast<size_t>(EdgeDrop::kUnknownUfrag)];
      return absl::InfiniteFuture();
    }
    route = it->second;
  } else {
    const auto it = by_address_.find(from);
    if (it == by_address_.end()) {
      ++counters_.drops[static_cast<size_t>(EdgeDrop::kUnknownAddress)];
      return absl::InfiniteFuture();
    }
    route = it->second;
  }
  if (route.publisher != nullptr) {
    return OnPublisherDatagram(route.publisher, datagram, from, now);
  }
  ViewerSession* session = route.viewer;
  session->OnDatagram(datagram, from, now);
  if (session->ended()) {
    Remove(session->id());
    return absl::InfiniteFuture();
  }
  IndexAddresses(route, sessions_.find(session->id())->second.addresses, from);
  return session->NextTimeout(now);
}

void WhepHandler::IndexAddresses(Route route,
                                 std::vector<ice::TransportAddress>& list,
                                 const ice::TransportAddress& from) {
  auto validated = [&](const ice::TransportAddress& a) {
    return route.viewer != nullptr ? route.viewer->IsValidated(a)
                                   : route.publisher->session->IsValidated(a);
  };
  // IceLite validates the source of every valid check, and DTLS and SRTP
  // may come from any of them. Forget what it no longer knows (it keeps a
  // few), add the source of this datagram once it passed.
  auto forget = [&](const ice::TransportAddress& a) {
    const auto it = by_address_.find(a);
    if (it != by_address_.end() && it->second == route) by_address_.erase(it);
  };
  list.erase(std::remove_if(list.begin(), list.end(),
                            [&](const ice::TransportAddress& a) {
                              if (validated(a)) return false;
                              forget(a);
                              return true;
                            }),
             list.end());
  if (validated(from) &&
      std::find(list.begin(), list.end(), from) == list.end()) {
    list.push_back(from);
  }
  for (const ice::TransportAddress& a : list) by_address_[a] = route;
}

void WhepHandler::Unindex(Route route, const std::string& ufrag,
                          const std::vector<ice::TransportAddress>& addresses) {
  const auto it = by_ufrag_.find(ufrag);
  if (it != by_ufrag_.end() && it->second == route) by_ufrag_.erase(it);
  for (const ice::TransportAddress& a : addresses) {
    const auto found = by_address_.find(a);
    if (found != by_address_.end() && found->second == route) {
      by_address_.erase(found);
    }
  }
}

void WhepHandler::CloseAll() {
  std::vector<std::string> ids;
  ids.reserve(sessions_.size());
  for (auto& [id, entry] : sessions_) {
    entry.session->Close(CloseReason::kDeleted);
    ids.push_back(id);
  }
  for (const std::string& id : ids) Remove(id);
  std::vector<std::string> streams;
  for (auto& [stream, entry] : publishers_) {
    entry->session->Close(CloseReason::kDeleted);
    streams.push_back(stream);
  }
  for (const std::string& stream : streams) RemovePublisher(stream);
}

void WhepHandler::OnTimer(absl::Time now) {
  std::vector<std::string> ended;
  for (auto& [id, entry] : sessions_) {
    ViewerSession& session = *entry.session;
    if (session.NextTimeout(now) <= now) session.OnTimer(now);
    if (session.ended()) ended.push_back(id);
  }
  for (const std::string& id : ended) Remove(id);
  ended.clear();
  for (auto& [stream, entry] : publishers_) {
    PublisherSession& session = *entry->session;
    if (session.NextTimeout(now) <= now) session.OnTimer(now);
    if (session.ended()) ended.push_back(stream);
  }
  for (const std::string& stream : ended) RemovePublisher(stream);
}

absl::Time WhepHandler::NextTimeout(absl::Time now) const {
  absl::Time next = absl::InfiniteFuture();
  for (const auto& [id, entry] : sessions_) {
    next = std::min(next, entry.session->NextTimeout(now));
  }
  for (const auto& [stream, entry] : publishers_) {
    next = std::min(next, entry->session->NextTimeout(now));
  }
  return next;
}

void WhepHandler::Remove(const std::string& id_ref) {
  const std::string id = id_ref;  // id_ref may live in the entry erased
  const auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  ViewerSession* session = it->second.session.get();
  ++counters_.sessions_ended[static_cast<size_t>(session->close_reason())];
  Unindex({session, nullptr}, session->local_ufrag(), it->second.addresses);
  const auto stream = by_stream_.find(it->second.stream);
  if (stream != by_stream_.end()) {
    std::vector<ViewerSession*>& list = stream->second;
    list.erase(std::remove(list.begin(), list.end(), session), list.end());
    if (list.empty()) by_stream_.erase(stream);
  }
  sessions_.erase(it);
}

ViewerSession* WhepHandler::FindById(absl::string_view id) const {
  const auto it = sessions_.find(id);
  return it == sessions_.end() ? nullptr : it->second.session.get();
}

ViewerSession* WhepHandler::FindByUfrag(absl::string_view local_ufrag) const {
  const auto it = by_ufrag_.find(local_ufrag);
  return it == by_ufrag_.end() ? nullptr : it->second.viewer;
}

ViewerSession* WhepHandler::FindByAddress(
    const ice::TransportAddress& address) const {
  const auto it = by_address_.find(address);
  return it == by_address_.end() ? nullptr : it->second.viewer;
}

absl::string_view WhepHandler::StreamOf(absl::string_view id) const {
  const auto it = sessions_.find(id);
  return it == sessions_.end() ? absl::string_view() : it->second.stream;
}

absl::Span<ViewerSession* const> WhepHandler::SessionsOf(
    absl::string_view stream) const {
  const auto it = by_stream_.find(stream);
  if (it == by_stream_.end()) return {};
  return it->second;
}

}  // namespace cascade::edge
