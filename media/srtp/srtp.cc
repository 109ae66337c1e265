#include "media/srtp/srtp.h"

#include <srtp2/srtp.h>

#include <climits>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "media/rtp/rtp.h"
#include "media/srtp/library.h"

namespace cascade::srtp {
namespace {

// libsrtp's ROC is 32 bits and its packet index 48: a start below 2^31
// leaves room for 2^47 packets.
constexpr uint32_t kMaxInitialRoc = 0x7fffffff;

uint32_t ReadU32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 |
         p[3];
}

// The header of an RTP packet at the start of `bytes`, read as if it had no
// padding: an SRTP packet's last byte is its tag's, not a padding count.
bool ParseHeader(absl::Span<uint8_t> bytes, rtp::RtpView* view) {
  if (bytes.empty()) return false;
  const uint8_t first = bytes[0];
  bytes[0] &= ~0x20;
  const bool ok = rtp::ParseRtp(bytes, view) == rtp::RtpError::kOk;
  bytes[0] = first;
  return ok;
}

// The ROC element's data within the packet, if it has one of the right size.
std::optional<absl::Span<const uint8_t>> RocElement(const rtp::RtpView& view) {
  absl::Span<const uint8_t> data;
  if (!rtp::FindExtension(view, kRocExtensionId, &data) ||
      data.size() != kRocExtensionSize) {
    return std::nullopt;
  }
  return data;
}

SrtpError FromLibsrtp(srtp_err_status_t status) {
  switch (status) {
    case srtp_err_status_ok:
      return SrtpError::kOk;
    case srtp_err_status_auth_fail:
      return SrtpError::kAuthFailed;
    case srtp_err_status_replay_fail:
      return SrtpError::kReplayed;
    case srtp_err_status_replay_old:
    case srtp_err_status_pkt_idx_old:
      return SrtpError::kTooOld;
    case srtp_err_status_bad_mki:
      return SrtpError::kUnknownKeyId;
    case srtp_err_status_bad_param:
    case srtp_err_status_parse_err:
    case srtp_err_status_cipher_fail:  // fewer bytes than a tag
    case srtp_err_status_no_ctx:
      return SrtpError::kMalformed;
    default:
      return SrtpError::kFailed;
  }
}

}  // namespace

absl::string_view ErrorName(SrtpError error) {
  switch (error) {
    case SrtpError::kOk:
      return "ok";
    case SrtpError::kMalformed:
      return "malformed";
    case SrtpError::kWrongSsrc:
      return "wrong_ssrc";
    case SrtpError::kUnknownKeyId:
      return "unknown_key_id";
    case SrtpError::kAuthFailed:
      return "auth_failed";
    case SrtpError::kReplayed:
      return "replayed";
    case SrtpError::kTooOld:
      return "too_old";
    case SrtpError::kFailed:
      return "failed";
  }
  return "unknown";
}

class Session {
 public:
  // `window`: the replay window (libsrtp: 64..32767).
  static absl::StatusOr<std::unique_ptr<Session>> Open(
      uint32_t ssrc, absl::Span<const StreamKey> keys, size_t window) {
    if (absl::Status ready = EnsureSrtpInit(); !ready.ok()) return ready;
    srtp_t ctx = nullptr;
    absl::Status status =
        WithPolicy(ssrc, keys, window, [&](const srtp_policy_t& policy) {
          return srtp_create(&ctx, &policy);
        });
    if (!status.ok()) return status;
    return std::unique_ptr<Session>(new Session(ctx, ssrc, window));
  }
  ~Session() { srtp_dealloc(ctx_); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // The stream holds `keys` from now on; libsrtp keeps its packet index.
  absl::Status SetKeys(absl::Span<const StreamKey> keys) {
    return WithPolicy(ssrc_, keys, window_, [&](const srtp_policy_t& policy) {
      return srtp_update_stream(ctx_, &policy);
    });
  }

  // The counter the next packet is placed in when libsrtp's own guess fails
  // it (0: none; libsrtp's convention).
  void SetPendingRoc(uint32_t roc) { srtp_set_stream_roc(ctx_, ssrc_, roc); }
  // The counter of the newest packet accepted.
  uint32_t roc() const {
    uint32_t roc = 0;
    srtp_get_stream_roc(ctx_, ssrc_, &roc);
    return roc;
  }
  srtp_err_status_t Protect(uint8_t* packet, int* length) {
    return srtp_protect_mki(ctx_, packet, length, /*use_mki=*/1,
                            /*mki_index=*/0);
  }
  srtp_err_status_t Unprotect(uint8_t* packet, int* length) {
    return srtp_unprotect_mki(ctx_, packet, length, /*use_mki=*/1);
  }

 private:
  Session(srtp_t ctx, uint32_t ssrc, size_t window)
      : ctx_(ctx), ssrc_(ssrc), window_(window) {}

  // Calls `apply` (srtp_create or srtp_update_stream) with the policy of
  // one stream holding `keys`.
  template <typename Apply>
  static absl::Status WithPolicy(uint32_t ssrc,
                                 absl::Span<const StreamKey> keys,
                                 size_t window, Apply apply) {
    if (absl::Status valid = CheckKeys(keys); !valid.ok()) return valid;
    // libsrtp copies what it needs; these live through `apply`.
    std::vector<std::vector<uint8_t>> material;
    std::vector<std::vector<uint8_t>> ids;
    for (const StreamKey& key : keys) {
      material.emplace_back(key.material.begin(), key.material.end());
      ids.push_back(key.id);
    }
    std::vector<srtp_master_key_t> masters(keys.size());
    std::vector<srtp_master_key_t*> pointers;
    for (size_t i = 0; i < keys.size(); ++i) {
      masters[i].key = material[i].data();
      masters[i].mki_id = ids[i].data();
      masters[i].mki_size = static_cast<unsigned int>(ids[i].size());
      pointers.push_back(&masters[i]);
    }
    srtp_policy_t policy;
    std::memset(&policy, 0, sizeof(policy));
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtp);
    // Required by libsrtp; RTCP itself stays plain (see srtp.h).
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtcp);
    policy.ssrc.type = ssrc_specific;
    policy.ssrc.value = ssrc;
    policy.keys = pointers.data();
    policy.num_master_keys = keys.size();
    policy.window_size = window;
    const srtp_err_status_t status = apply(policy);
    if (status != srtp_err_status_ok) {
      return absl::InternalError(
          absl::StrCat("libsrtp2 refused the keys (error ", status, ")"));
    }
    return absl::OkStatus();
  }

  srtp_t ctx_;
  const uint32_t ssrc_;
  const size_t window_;
};

// ---- Sender ----

SrtpSender::SrtpSender(uint32_t ssrc, uint32_t initial_roc)
    : ssrc_(ssrc), initial_roc_(initial_roc) {}

SrtpSender::~SrtpSender() = default;

absl::StatusOr<std::unique_ptr<SrtpSender>> SrtpSender::Create(
    uint32_t ssrc, const StreamKey& key, uint32_t initial_roc) {
  if (initial_roc > kMaxInitialRoc) {
    return absl::InvalidArgumentError(
        "the initial rollover counter must be "
        "below 2^31");
  }
  std::unique_ptr<SrtpSender> sender(new SrtpSender(ssrc, initial_roc));
  if (absl::Status status = sender->SetKey(key); !status.ok()) return status;
  return sender;
}

absl::Status SrtpSender::SetKey(const StreamKey& key) {
  auto session =
      Session::Open(ssrc_, absl::MakeConstSpan(&key, 1), kDefaultReplayWindow);
  if (!session.ok()) return session.status();
  session_ = *std::move(session);
  key_id_ = key.id;
  fresh_session_ = true;
  return absl::OkStatus();
}

absl::StatusOr<size_t> SrtpSender::Protect(absl::Span<uint8_t> buffer,
                                           size_t size) {
  if (size > buffer.size() || buffer.size() - size < overhead() ||
      buffer.size() > INT_MAX) {
    return absl::InvalidArgumentError(absl::StrCat(
        "no room for the key id and tag: ", size, " bytes in ", buffer.size()));
  }
  rtp::RtpView view;
  if (!ParseHeader(buffer.subspan(0, size), &view) || view.ssrc != ssrc_) {
    return absl::InvalidArgumentError("not an RTP packet of this stream");
  }
  if (unwrapper_.started() &&
      !rtp::SeqNewer(view.sequence_number,
                     static_cast<uint16_t>(unwrapper_.newest()))) {
    return absl::FailedPreconditionError(
        absl::StrCat("sequence number ", view.sequence_number,
                     " is not after the last one protected"));
  }
  const int64_t index = unwrapper_.Peek(view.sequence_number);
  const uint32_t roc = initial_roc_ + static_cast<uint32_t>(index >> 16);
  if (auto element = RocElement(view)) {
    uint8_t* at = buffer.data() + (element->data() - buffer.data());
    at[0] = static_cast<uint8_t>(roc >> 24);
    at[1] = static_cast<uint8_t>(roc >> 16);
    at[2] = static_cast<uint8_t>(roc >> 8);
    at[3] = static_cast<uint8_t>(roc);
  }
  // A new session counts from zero: tell it where the stream is.
  if (fresh_session_) session_->SetPendingRoc(roc);
  int length = static_cast<int>(size);
  const srtp_err_status_t status = session_->Protect(buffer.data(), &length);
  if (status != srtp_err_status_ok) {
    return absl::InternalError(absl::StrCat(
        "libsrtp2 could not protect the packet (error ", status, ")"));
  }
  if (const uint32_t used = session_->roc(); used != roc) {
    return absl::InternalError(absl::StrCat("libsrtp2 used rollover counter ",
                                            used, ", the packet says ", roc));
  }
  fresh_session_ = false;
  unwrapper_.Unwrap(view.sequence_number);
  return static_cast<size_t>(length);
}

// ---- Receiver ----

SrtpReceiver::SrtpReceiver(uint32_t ssrc) : ssrc_(ssrc) {}

SrtpReceiver::~SrtpReceiver() = default;

absl::StatusOr<std::unique_ptr<SrtpReceiver>> SrtpReceiver::Create(
    uint32_t ssrc, absl::Span<const StreamKey> keys, size_t window) {
  if (window < 64 || window > 0x7fff) {
    return absl::InvalidArgumentError("the replay window must be 64..32767");
  }
  auto session = Session::Open(ssrc, keys, window);
  if (!session.ok()) return session.status();
  std::unique_ptr<SrtpReceiver> receiver(new SrtpReceiver(ssrc));
  receiver->session_ = *std::move(session);
  return receiver;
}

absl::Status SrtpReceiver::SetKeys(absl::Span<const StreamKey> keys) {
  return session_->SetKeys(keys);
}

SrtpError SrtpReceiver::Unprotect(absl::Span<const uint8_t> packet,
                                  absl::Span<uint8_t> out, size_t* size) {
  if (packet.empty() || out.size() < packet.size() || packet.size() > INT_MAX) {
    return SrtpError::kMalformed;
  }
  std::memcpy(out.data(), packet.data(), packet.size());
  rtp::RtpView view;
  if (!ParseHeader(out.subspan(0, packet.size()), &view)) {
    return SrtpError::kMalformed;
  }
  if (view.ssrc != ssrc_) return SrtpError::kWrongSsrc;
  std::optional<uint32_t> roc;
  if (auto element = RocElement(view)) roc = ReadU32(element->data());
  // The first packet of a stream (a site joining late) says where the
  // counter stands; after that libsrtp follows it.
  if (!established_ && roc.has_value()) session_->SetPendingRoc(*roc);
  int length = static_cast<int>(packet.size());
  SrtpError error = FromLibsrtp(session_->Unprotect(out.data(), &length));
  // A packet libsrtp placed in the wrong cycle (more than half a cycle of
  // packets missed) gets one more try in the cycle it names; decryption
  // changed `out`, so from a fresh copy. A forged counter fails there too:
  // the tag covers it.
  if (established_ &&
      (error == SrtpError::kAuthFailed || error == SrtpError::kTooOld) &&
      roc.has_value() && *roc != session_->roc()) {
    session_->SetPendingRoc(*roc);
    std::memcpy(out.data(), packet.data(), packet.size());
    length = static_cast<int>(packet.size());
    error = FromLibsrtp(session_->Unprotect(out.data(), &length));
  }
  if (error != SrtpError::kOk) {
    session_->SetPendingRoc(0);  // nothing pending for the next packet
    return error;
  }
  established_ = true;
  *size = static_cast<size_t>(length);
  return SrtpError::kOk;
}

}  // namespace cascade::srtp
