#include "webrtc/dtls/srtp_session.h"

#include <srtp2/srtp.h>

#include <climits>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "media/srtp/library.h"

namespace cascade::dtls {
namespace {

constexpr size_t kRtpHeaderSize = 12;
constexpr size_t kRtcpHeaderSize = 8;
constexpr size_t kSrtcpIndexSize = 4;

size_t TagSize(SrtpProfile profile) {
  return profile == SrtpProfile::kAeadAes128Gcm ? 16 : 10;
}

bool VersionTwo(absl::Span<const uint8_t> packet, size_t header) {
  return packet.size() >= header && (packet[0] >> 6) == 2;
}

SrtpSessionError FromLibsrtp(srtp_err_status_t status) {
  switch (status) {
    case srtp_err_status_ok:
      return SrtpSessionError::kOk;
    case srtp_err_status_auth_fail:
      return SrtpSessionError::kAuthFailed;
    case srtp_err_status_replay_fail:
      return SrtpSessionError::kReplayed;
    case srtp_err_status_replay_old:
    case srtp_err_status_pkt_idx_old:
      return SrtpSessionError::kTooOld;
    case srtp_err_status_bad_param:
    case srtp_err_status_parse_err:
    case srtp_err_status_cipher_fail:  // fewer bytes than a tag
    case srtp_err_status_no_ctx:
      return SrtpSessionError::kMalformed;
    default:
      return SrtpSessionError::kFailed;
  }
}

}  // namespace

absl::string_view SrtpSessionErrorName(SrtpSessionError error) {
  switch (error) {
    case SrtpSessionError::kOk:
      return "ok";
    case SrtpSessionError::kNoRoom:
      return "no_room";
    case SrtpSessionError::kMalformed:
      return "malformed";
    case SrtpSessionError::kAuthFailed:
      return "auth_failed";
    case SrtpSessionError::kReplayed:
      return "replayed";
    case SrtpSessionError::kTooOld:
      return "too_old";
    case SrtpSessionError::kFailed:
      return "failed";
  }
  return "unknown";
}

class SrtpSession::Context {
 public:
  // One direction: `type` is ssrc_any_outbound or ssrc_any_inbound.
  static absl::StatusOr<std::unique_ptr<Context>> Open(
      SrtpProfile profile, const SrtpMasterKey& master, srtp_ssrc_type_t type,
      size_t window) {
    // libsrtp reads the key and the salt as one run.
    std::vector<uint8_t> material = master.key;
    material.insert(material.end(), master.salt.begin(), master.salt.end());
    srtp_policy_t policy;
    std::memset(&policy, 0, sizeof(policy));
    if (profile == SrtpProfile::kAeadAes128Gcm) {
      srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtp);
      srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtcp);
    } else {
      srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtp);
      srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtcp);
    }
    policy.ssrc.type = type;
    policy.key = material.data();
    policy.window_size = window;
    // A NACKed packet goes out again under its own sequence number.
    policy.allow_repeat_tx = type == ssrc_any_outbound ? 1 : 0;
    srtp_t ctx = nullptr;
    const srtp_err_status_t status = srtp_create(&ctx, &policy);
    std::memset(material.data(), 0, material.size());
    if (status != srtp_err_status_ok) {
      return absl::InternalError(
          absl::StrCat("libsrtp2 refused the session (error ", status, ")"));
    }
    return std::unique_ptr<Context>(new Context(ctx));
  }
  ~Context() { srtp_dealloc(ctx_); }
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  srtp_t get() const { return ctx_; }

 private:
  explicit Context(srtp_t ctx) : ctx_(ctx) {}

  srtp_t ctx_;
};

SrtpSession::SrtpSession(SrtpProfile profile) : profile_(profile) {}

SrtpSession::~SrtpSession() = default;

absl::Status SrtpSession::Prepare() { return srtp::EnsureSrtpInit(); }

absl::StatusOr<std::unique_ptr<SrtpSession>> SrtpSession::Create(
    const SrtpKeys& keys, DtlsRole local_role, size_t replay_window) {
  if (replay_window < 64 || replay_window > 0x7fff) {
    return absl::InvalidArgumentError("the replay window must be 64..32767");
  }
  for (const SrtpMasterKey* master : {&keys.client_write, &keys.server_write}) {
    if (master->key.size() != MasterKeySize(keys.profile) ||
        master->salt.size() != MasterSaltSize(keys.profile)) {
      return absl::InvalidArgumentError(absl::StrCat(
          ProfileName(keys.profile), " takes a ", MasterKeySize(keys.profile),
          "-byte key and a ", MasterSaltSize(keys.profile), "-byte salt"));
    }
  }
  if (absl::Status ready = srtp::EnsureSrtpInit(); !ready.ok()) return ready;
  std::unique_ptr<SrtpSession> session(new SrtpSession(keys.profile));
  auto outbound = Context::Open(keys.profile, keys.local(local_role),
                                ssrc_any_outbound, replay_window);
  if (!outbound.ok()) return outbound.status();
  auto inbound = Context::Open(keys.profile, keys.remote(local_role),
                               ssrc_any_inbound, replay_window);
  if (!inbound.ok()) return inbound.status();
  session->outbound_ = *std::move(outbound);
  session->inbound_ = *std::move(inbound);
  return session;
}

size_t SrtpSession::rtp_overhead() const { return TagSize(profile_); }

size_t SrtpSession::rtcp_overhead() const {
  return kSrtcpIndexSize + TagSize(profile_);
}

namespace {

using SrtpCall = srtp_err_status_t (*)(srtp_t, void*, int*);

// Protects the packet of *size bytes at the start of `buffer`, which holds
// `overhead` more, with `protect`.
SrtpSessionError ProtectWith(SrtpCall protect, srtp_t ctx, size_t header,
                             size_t overhead, absl::Span<uint8_t> buffer,
                             size_t* size) {
  if (*size > buffer.size() || buffer.size() - *size < overhead ||
      buffer.size() > INT_MAX) {
    return SrtpSessionError::kNoRoom;
  }
  if (!VersionTwo(buffer.subspan(0, *size), header)) {
    return SrtpSessionError::kMalformed;
  }
  int length = static_cast<int>(*size);
  const SrtpSessionError error =
      FromLibsrtp(protect(ctx, buffer.data(), &length));
  if (error == SrtpSessionError::kOk) *size = static_cast<size_t>(length);
  return error;
}

// Unprotects `packet`, at least `header` and `overhead` bytes, in place.
SrtpSessionError UnprotectWith(SrtpCall unprotect, srtp_t ctx, size_t header,
                               size_t overhead, absl::Span<uint8_t> packet,
                               size_t* size) {
  if (packet.size() > INT_MAX || !VersionTwo(packet, header + overhead)) {
    return SrtpSessionError::kMalformed;
  }
  int length = static_cast<int>(packet.size());
  const SrtpSessionError error =
      FromLibsrtp(unprotect(ctx, packet.data(), &length));
  if (error == SrtpSessionError::kOk) *size = static_cast<size_t>(length);
  return error;
}

}  // namespace

SrtpSessionError SrtpSession::ProtectRtp(absl::Span<uint8_t> buffer,
                                         size_t* size) {
  return ProtectWith(srtp_protect, outbound_->get(), kRtpHeaderSize,
                     rtp_overhead(), buffer, size);
}

SrtpSessionError SrtpSession::ProtectRtcp(absl::Span<uint8_t> buffer,
                                          size_t* size) {
  return ProtectWith(srtp_protect_rtcp, outbound_->get(), kRtcpHeaderSize,
                     rtcp_overhead(), buffer, size);
}

SrtpSessionError SrtpSession::UnprotectRtp(absl::Span<uint8_t> packet,
                                           size_t* size) {
  return UnprotectWith(srtp_unprotect, inbound_->get(), kRtpHeaderSize,
                       rtp_overhead(), packet, size);
}

SrtpSessionError SrtpSession::UnprotectRtcp(absl::Span<uint8_t> packet,
                                            size_t* size) {
  return UnprotectWith(srtp_unprotect_rtcp, inbound_->get(), kRtcpHeaderSize,
                       rtcp_overhead(), packet, size);
}

}  // namespace cascade::dtls
