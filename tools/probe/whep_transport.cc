#include "tools/probe/whep_transport.h"

#include <openssl/rand.h>

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "media/rtp/demux.h"
#include "webrtc/ice/demux.h"

namespace cascade {
namespace probe {
namespace {

// The largest datagram a site reads (media::Receiver::kMaxDatagram).
constexpr size_t kBufferSize = 2048;
// Checks whose answers are still awaited; older ones are forgotten.
constexpr size_t kMaxPending = 16;
// RFC 8445 5.1.2: a peer-reflexive candidate's priority, component 1 (what
// the relay learns our address as).
constexpr uint32_t kPeerReflexivePriority = (110u << 24) | (65535u << 8) | 255u;

}  // namespace

absl::string_view WhepStateName(WhepState state) {
  switch (state) {
    case WhepState::kChecking:
      return "checking";
    case WhepState::kHandshaking:
      return "handshaking";
    case WhepState::kConnected:
      return "connected";
    case WhepState::kFailed:
      return "failed";
    case WhepState::kClosed:
      return "closed";
  }
  return "unknown";
}

absl::StatusOr<std::unique_ptr<WhepTransport>> WhepTransport::Create(
    const ice::IceCredentials& local, const WhepAnswer& answer,
    const dtls::Certificate& certificate, WhepTransportOptions options) {
  if (answer.candidates.empty()) {
    return absl::InvalidArgumentError("no candidate to check");
  }
  std::unique_ptr<WhepTransport> t(new WhepTransport(local, answer, options));
  if (RAND_bytes(reinterpret_cast<uint8_t*>(&t->tie_breaker_),
                 sizeof(t->tie_breaker_)) != 1) {
    return absl::InternalError("RAND_bytes failed");
  }
  dtls::DtlsOptions dtls;
  dtls.role = dtls::DtlsRole::kClient;
  dtls.remote_fingerprint = answer.fingerprint;
  auto transport = dtls::DtlsTransport::Create(certificate, dtls, t.get());
  if (!transport.ok()) return transport.status();
  t->dtls_ = *std::move(transport);
  return t;
}

WhepTransport::WhepTransport(const ice::IceCredentials& local,
                             const WhepAnswer& answer,
                             WhepTransportOptions options)
    : options_(options),
      local_(local),
      answer_(answer),
      rng_(std::random_device{}()),
      plain_(kBufferSize),
      out_(kBufferSize) {}

WhepTransport::~WhepTransport() = default;

std::optional<absl::Duration> WhepTransport::connected_after() const {
  if (!connected_at_.has_value()) return std::nullopt;
  return *connected_at_ - *started_;
}

absl::Span<const uint8_t> WhepTransport::Receive(
    const media::Endpoint& from, absl::Span<const uint8_t> datagram,
    absl::Time now) {
  if (state_ == WhepState::kFailed) return {};
  const ice::DatagramKind kind = ice::Classify(datagram);
  if (kind == ice::DatagramKind::kStun) {
    OnStun(from, datagram, now);
    return {};
  }
  if (!selected_.has_value() || from != *selected_) {
    ++counters_.strangers;
    return {};
  }
  if (kind == ice::DatagramKind::kDtls) {
    ++counters_.dtls_in;
    dtls_->Feed(datagram, now);
    AfterDtls(now);
    return {};
  }
  if (kind != ice::DatagramKind::kRtp || srtp_ == nullptr ||
      datagram.size() > plain_.size()) {
    ++counters_.srtp_dropped;
    return {};
  }
  std::copy(datagram.begin(), datagram.end(), plain_.begin());
  size_t size = datagram.size();
  const absl::Span<uint8_t> packet = absl::MakeSpan(plain_.data(), size);
  const dtls::SrtpSessionError error =
      rtp::Classify(datagram) == rtp::PacketKind::kRtcp
          ? srtp_->UnprotectRtcp(packet, &size)
          : srtp_->UnprotectRtp(packet, &size);
  if (error != dtls::SrtpSessionError::kOk) {
    ++counters_.srtp_dropped;
    return {};
  }
  ++counters_.srtp_in;
  return absl::MakeConstSpan(plain_.data(), size);
}

void WhepTransport::OnStun(const media::Endpoint& from,
                           absl::Span<const uint8_t> datagram, absl::Time now) {
  ice::StunMessage message;
  if (ice::ParseStun(datagram, &message) != ice::StunError::kOk ||
      message.method != ice::kBindingMethod ||
      (message.cls != ice::StunClass::kSuccess &&
       message.cls != ice::StunClass::kError)) {
    ++counters_.stun_dropped;
    return;
  }
  // An answer to a check of ours, from where it went (RFC 8445 7.2.5.2.1),
  // signed with the relay's pwd.
  const auto it =
      std::find_if(pending_.begin(), pending_.end(), [&](const Pending& p) {
        return p.id == message.transaction_id && p.to == from;
      });
  if (it == pending_.end() || !ice::FingerprintValid(message) ||
      !ice::IntegrityValid(message, answer_.ice_pwd)) {
    ++counters_.stun_dropped;
    return;
  }
  const absl::Time sent = it->sent;
  pending_.erase(it);
  if (message.cls == ice::StunClass::kError) {
    ++counters_.check_errors;
    return;
  }
  ++counters_.check_answers;
  counters_.last_rtt = now - sent;
  if (!selected_.has_value()) {
    selected_ = from;
    state_ = WhepState::kHandshaking;
    next_check_ = now + ConsentDelay();
    dtls_->Start(now);
    AfterDtls(now);
  }
  if (from == *selected_) last_answer_ = now;
}

void WhepTransport::SendCheck(const media::Endpoint& to, absl::Time now) {
  Pending pending{{}, to, now};
  if (RAND_bytes(pending.id.data(), static_cast<int>(pending.id.size())) != 1) {
    return;  // tried again at the next tick
  }
  uint8_t buffer[256];
  ice::StunBuilder b(absl::MakeSpan(buffer), ice::kBindingMethod,
                     ice::StunClass::kRequest, pending.id);
  b.AddUsername(absl::StrCat(answer_.ice_ufrag, ":", local_.ufrag));
  b.AddPriority(kPeerReflexivePriority);
  b.AddIceControlling(tie_breaker_);
  b.AddUseCandidate();
  b.AddMessageIntegrity(answer_.ice_pwd);
  b.AddFingerprint();
  const size_t size = b.Finish();
  if (size == 0) return;
  if (pending_.size() >= kMaxPending) pending_.erase(pending_.begin());
  pending_.push_back(pending);
  Send(to, absl::MakeConstSpan(buffer, size));
  ++counters_.checks_sent;
}

void WhepTransport::OnTick(absl::Time now) {
  if (state_ == WhepState::kFailed || state_ == WhepState::kClosed) return;
  if (!started_.has_value()) started_ = now;
  if (state_ != WhepState::kConnected &&
      now - *started_ >= options_.setup_timeout) {
    if (!selected_.has_value()) {
      std::vector<std::string> candidates;
      for (const media::Endpoint& c : answer_.candidates) {
        candidates.push_back(c.ToString());
      }
      Fail(absl::DeadlineExceededError(absl::StrCat(
          "ICE: no answer to checks to ", absl::StrJoin(candidates, ", "),
          " within ", absl::FormatDuration(options_.setup_timeout))));
    } else {
      Fail(absl::DeadlineExceededError(
          absl::StrCat("DTLS: no handshake with ", selected_->ToString(),
                       " within ", absl::FormatDuration(options_.setup_timeout),
                       " (", dtls::StateName(dtls_->state()), ")")));
    }
    return;
  }
  if (!selected_.has_value()) {
    if (now >= next_check_) {
      for (const media::Endpoint& c : answer_.candidates) SendCheck(c, now);
      next_check_ = now + options_.check_interval;
    }
    return;
  }
  if (now - last_answer_ >= options_.consent_lifetime) {
    Fail(absl::UnavailableError(absl::StrCat(
        "consent lost: ", selected_->ToString(), " answered no check for ",
        absl::FormatDuration(options_.consent_lifetime))));
    return;
  }
  if (now >= next_check_) {
    SendCheck(*selected_, now);
    next_check_ = now + ConsentDelay();
  }
  if (now >= dtls_->NextTimeout(now)) {
    dtls_->OnTimer(now);
    AfterDtls(now);
  }
}

void WhepTransport::AfterDtls(absl::Time now) {
  switch (dtls_->state()) {
    case dtls::DtlsState::kConnected:
      if (srtp_ == nullptr) {
        auto srtp = dtls::SrtpSession::Create(*dtls_->srtp_keys(),
                                              dtls::DtlsRole::kClient);
        if (!srtp.ok()) {
          Fail(absl::Status(srtp.status().code(),
                            absl::StrCat("SRTP: ", srtp.status().message())));
          return;
        }
        srtp_ = *std::move(srtp);
        state_ = WhepState::kConnected;
        connected_at_ = now;
      }
      break;
    case dtls::DtlsState::kFailed:
      Fail(absl::Status(dtls_->error().code(),
                        absl::StrCat("DTLS: ", dtls_->error().message())));
      break;
    case dtls::DtlsState::kClosed:
      if (state_ != WhepState::kClosed) {
        state_ = WhepState::kClosed;
        error_ = absl::CancelledError("the relay closed the session");
      }
      break;
    default:
      break;
  }
}

bool WhepTransport::SendRtcp(absl::Span<const uint8_t> packet) {
  if (state_ != WhepState::kConnected ||
      packet.size() + srtp_->rtcp_overhead() > out_.size()) {
    return false;
  }
  std::copy(packet.begin(), packet.end(), out_.begin());
  size_t size = packet.size();
  if (srtp_->ProtectRtcp(absl::MakeSpan(out_), &size) !=
      dtls::SrtpSessionError::kOk) {
    return false;
  }
  Send(*selected_, absl::MakeConstSpan(out_.data(), size));
  ++counters_.rtcp_sent;
  return true;
}

void WhepTransport::Close() {
  if (state_ != WhepState::kFailed) state_ = WhepState::kClosed;
}

void WhepTransport::Fail(absl::Status error) {
  state_ = WhepState::kFailed;
  error_ = std::move(error);
}

absl::Duration WhepTransport::ConsentDelay() {
  // RFC 7675 5.1: uniformly within 0.8..1.2 of the interval.
  std::uniform_real_distribution<double> factor(0.8, 1.2);
  return options_.consent_interval * factor(rng_);
}

void WhepTransport::Send(const media::Endpoint& to,
                         absl::Span<const uint8_t> datagram) {
  if (sink_ != nullptr) sink_->SendDatagram(to, datagram);
}

void WhepTransport::OnDtlsSend(absl::Span<const uint8_t> datagram) {
  if (selected_.has_value()) Send(*selected_, datagram);
}

}  // namespace probe
}  // namespace cascade
