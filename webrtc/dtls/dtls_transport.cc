#include "webrtc/dtls/dtls_transport.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/srtp.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace cascade::dtls {
namespace {

constexpr size_t kMinMtu = 576;
constexpr absl::Duration kMinRetransmit = absl::Milliseconds(20);
constexpr size_t kRecordHeaderSize = 13;  // RFC 6347 section 4.1
constexpr char kExporterLabel[] = "EXTRACTOR-dtls_srtp";  // RFC 5764 4.2
// ECDHE with AEAD only; ECDSA first (ours and browsers' keys), RSA for
// peers that still use RSA certificates.
constexpr char kCiphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305";

// Outgoing datagrams keep their boundaries: OpenSSL hands each one (records
// packed up to the MTU) to a single BIO_write, which a memory BIO would run
// together with the next.
BIO_METHOD* DatagramMethod(int (*write)(BIO*, const char*, int)) {
  static BIO_METHOD* const method = [write] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
                                 "cascade dtls datagrams");
    if (m == nullptr) return m;
    BIO_meth_set_write(m, write);
    BIO_meth_set_ctrl(m, [](BIO*, int cmd, long, void*) -> long {
      return cmd == BIO_CTRL_FLUSH ? 1 : 0;
    });
    BIO_meth_set_create(m, [](BIO* bio) {
      BIO_set_init(bio, 1);
      return 1;
    });
    return m;
  }();
  return method;
}

// True when `datagram` is one or more whole DTLS records of a known type.
bool WholeRecords(absl::Span<const uint8_t> datagram) {
  while (!datagram.empty()) {
    if (datagram.size() < kRecordHeaderSize) return false;
    const uint8_t type = datagram[0];
    // change_cipher_spec, alert, handshake, application_data; DTLS 1.x.
    if (type < 20 || type > 23 || datagram[1] != 0xfe) return false;
    const size_t length = size_t{datagram[11]} << 8 | datagram[12];
    if (datagram.size() - kRecordHeaderSize < length) return false;
    datagram.remove_prefix(kRecordHeaderSize + length);
  }
  return true;
}

std::optional<SrtpProfile> ProfileOf(const SRTP_PROTECTION_PROFILE* profile) {
  if (profile == nullptr) return std::nullopt;
  switch (profile->id) {
    case SRTP_AEAD_AES_128_GCM:
      return SrtpProfile::kAeadAes128Gcm;
    case SRTP_AES128_CM_SHA1_80:
      return SrtpProfile::kAes128CmSha1_80;
    default:
      return std::nullopt;
  }
}

unsigned int Microseconds(absl::Duration duration) {
  return static_cast<unsigned int>(std::clamp<int64_t>(
      absl::ToInt64Microseconds(duration), 1, int64_t{1} << 31));
}

absl::Status CheckOptions(const DtlsOptions& options) {
  if (absl::StatusOr<Fingerprint> parsed =
          ParseFingerprint(options.remote_fingerprint.algorithm,
                           options.remote_fingerprint.value);
      !parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("remote fingerprint: ", parsed.status().message()));
  }
  if (options.profiles.empty()) {
    return absl::InvalidArgumentError("no SRTP profile to offer");
  }
  for (size_t i = 0; i < options.profiles.size(); ++i) {
    if (std::count(options.profiles.begin(), options.profiles.end(),
                   options.profiles[i]) > 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "SRTP profile ", ProfileName(options.profiles[i]), " given twice"));
    }
  }
  if (options.mtu < kMinMtu || options.mtu > kMaxDatagramSize) {
    return absl::InvalidArgumentError(absl::StrCat("mtu must be ", kMinMtu,
                                                   "..", kMaxDatagramSize,
                                                   ", not ", options.mtu));
  }
  if (options.initial_retransmit < kMinRetransmit ||
      options.max_retransmit < options.initial_retransmit ||
      options.handshake_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "initial_retransmit must be at least 20 ms, max_retransmit at least "
        "that, the handshake timeout positive");
  }
  return absl::OkStatus();
}

}  // namespace

absl::string_view StateName(DtlsState state) {
  switch (state) {
    case DtlsState::kNew:
      return "new";
    case DtlsState::kHandshaking:
      return "handshaking";
    case DtlsState::kConnected:
      return "connected";
    case DtlsState::kFailed:
      return "failed";
    case DtlsState::kClosed:
      return "closed";
  }
  return "unknown";
}

DtlsTransport::DtlsTransport(const DtlsOptions& options, Listener* listener)
    : options_(options), listener_(listener) {}

DtlsTransport::~DtlsTransport() = default;

absl::StatusOr<std::unique_ptr<DtlsTransport>> DtlsTransport::Create(
    const Certificate& certificate, const DtlsOptions& options,
    Listener* listener) {
  if (listener == nullptr) return absl::InvalidArgumentError("no listener");
  if (absl::Status valid = CheckOptions(options); !valid.ok()) return valid;
  DtlsOptions normalized = options;
  normalized.remote_fingerprint = *ParseFingerprint(
      options.remote_fingerprint.algorithm, options.remote_fingerprint.value);
  std::unique_ptr<DtlsTransport> transport(
      new DtlsTransport(normalized, listener));
  if (absl::Status status = transport->Init(certificate); !status.ok()) {
    return status;
  }
  return transport;
}

// What every transport of one certificate shares (Certificate::DtlsContext);
// what differs per transport (SRTP profiles, the cookie exchange, the
// fingerprint checked) is set on its SSL.
SSL_CTX* DtlsTransport::NewContext(const Certificate& certificate) {
  OpenSslPtr<SSL_CTX, SSL_CTX_free> ctx(SSL_CTX_new(DTLS_method()));
  if (ctx == nullptr ||
      SSL_CTX_set_min_proto_version(ctx.get(), DTLS1_2_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(ctx.get(), DTLS1_2_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(ctx.get(), kCiphers) != 1 ||
      SSL_CTX_set1_groups_list(ctx.get(), "X25519:P-256:P-384") != 1 ||
      SSL_CTX_use_certificate(ctx.get(), certificate.x509()) != 1 ||
      SSL_CTX_use_PrivateKey(ctx.get(), certificate.key()) != 1 ||
      SSL_CTX_check_private_key(ctx.get()) != 1) {
    return nullptr;
  }
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_QUERY_MTU | SSL_OP_NO_TICKET |
                                     SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  SSL_CTX_set_verify(
      ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  // Each finds its transport through the SSL's app data.
  SSL_CTX_set_cert_verify_callback(ctx.get(), &DtlsTransport::VerifyPeer,
                                   nullptr);
  SSL_CTX_set_cookie_generate_cb(ctx.get(), &DtlsTransport::MakeCookie);
  SSL_CTX_set_cookie_verify_cb(ctx.get(), &DtlsTransport::CheckCookie);
  return ctx.release();
}

absl::Status DtlsTransport::Init(const Certificate& certificate) {
  ERR_clear_error();
  SSL_CTX* ctx = certificate.DtlsContext(
      [&certificate] { return NewContext(certificate); });
  if (ctx == nullptr) return OpenSslError("creating the DTLS context");
  if (options_.role == DtlsRole::kServer && options_.require_cookie &&
      RAND_bytes(cookie_.data(), cookie_.size()) != 1) {
    return OpenSslError("making the DTLS cookie");
  }

  ssl_.reset(SSL_new(ctx));
  BIO_METHOD* method = DatagramMethod(&DtlsTransport::WriteDatagram);
  read_bio_ = BIO_new(BIO_s_mem());
  BIO* write_bio = method == nullptr ? nullptr : BIO_new(method);
  if (ssl_ == nullptr || read_bio_ == nullptr || write_bio == nullptr) {
    BIO_free(read_bio_);
    BIO_free(write_bio);
    read_bio_ = nullptr;
    return OpenSslError("creating the DTLS endpoint");
  }
  BIO_set_mem_eof_return(read_bio_, -1);  // empty means "wait", not EOF
  BIO_set_data(write_bio, this);
  SSL_set_bio(ssl_.get(), read_bio_, write_bio);
  SSL_set_app_data(ssl_.get(), this);
  std::vector<absl::string_view> names;
  for (SrtpProfile profile : options_.profiles) {
    names.push_back(ProfileName(profile));
  }
  // Returns 0 on success.
  if (SSL_set_tlsext_use_srtp(ssl_.get(), absl::StrJoin(names, ":").c_str()) !=
      0) {
    return OpenSslError("setting the SRTP profiles");
  }
  if (options_.role == DtlsRole::kServer && options_.require_cookie) {
    SSL_set_options(ssl_.get(), SSL_OP_COOKIE_EXCHANGE);
  }
  DTLS_set_timer_cb(ssl_.get(), &DtlsTransport::NextRetransmit);
  // Returns the MTU set, 0 when refused.
  if (SSL_set_mtu(ssl_.get(), static_cast<long>(options_.mtu)) == 0) {
    return OpenSslError("setting the DTLS MTU");
  }
  if (options_.role == DtlsRole::kClient) {
    SSL_set_connect_state(ssl_.get());
  } else {
    SSL_set_accept_state(ssl_.get());
  }
  return absl::OkStatus();
}

int DtlsTransport::WriteDatagram(BIO* bio, const char* data, int size) {
  auto* self = static_cast<DtlsTransport*>(BIO_get_data(bio));
  if (size <= 0) return 0;
  const auto* bytes = reinterpret_cast<const uint8_t*>(data);
  self->outbox_.emplace_back(bytes, bytes + size);
  return size;
}

unsigned int DtlsTransport::NextRetransmit(SSL* ssl, unsigned int previous_us) {
  const auto* self = static_cast<const DtlsTransport*>(SSL_get_app_data(ssl));
  if (previous_us == 0) return Microseconds(self->options_.initial_retransmit);
  return std::min(Microseconds(self->options_.max_retransmit),
                  Microseconds(absl::Microseconds(previous_us) * 2));
}

int DtlsTransport::MakeCookie(SSL* ssl, unsigned char* cookie,
                              unsigned int* size) {
  const auto* self = static_cast<const DtlsTransport*>(SSL_get_app_data(ssl));
  std::memcpy(cookie, self->cookie_.data(), self->cookie_.size());
  *size = static_cast<unsigned int>(self->cookie_.size());
  return 1;
}

int DtlsTransport::CheckCookie(SSL* ssl, const unsigned char* cookie,
                               unsigned int size) {
  const auto* self = static_cast<const DtlsTransport*>(SSL_get_app_data(ssl));
  return size == self->cookie_.size() &&
         CRYPTO_memcmp(cookie, self->cookie_.data(), size) == 0;
}

int DtlsTransport::VerifyPeer(X509_STORE_CTX* store, void*) {
  const auto* ssl = static_cast<const SSL*>(
      X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* self = static_cast<DtlsTransport*>(SSL_get_app_data(ssl));
  X509* peer = X509_STORE_CTX_get0_cert(store);
  const Fingerprint& expected = self->options_.remote_fingerprint;
  absl::StatusOr<Fingerprint> actual = absl::InvalidArgumentError("none");
  if (peer != nullptr) actual = FingerprintOf(peer, expected.algorithm);
  if (actual.ok() && *actual == expected) return 1;
  self->verify_error_ = absl::PermissionDeniedError(absl::StrCat(
      "the peer's DTLS certificate does not match the fingerprint in its "
      "SDP: expected ",
      expected.algorithm, " ", expected.value, ", got ",
      actual.ok() ? actual->value : "no certificate"));
  X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
  return 0;
}

void DtlsTransport::Start(absl::Time now) {
  if (state_ != DtlsState::kNew) return;
  state_ = DtlsState::kHandshaking;
  deadline_ = now + options_.handshake_timeout;
  // A client's first call sends its ClientHello; a server's waits for one.
  Drive();
  Deliver();
}

DtlsInput DtlsTransport::Feed(absl::Span<const uint8_t> datagram,
                              absl::Time now) {
  DtlsInput result = DtlsInput::kAccepted;
  if (datagram.size() > kMaxDatagramSize) {
    result = DtlsInput::kOversize;
  } else if (datagram.empty() || datagram[0] < 20 || datagram[0] > 63) {
    result = DtlsInput::kNotDtls;
  } else if (!WholeRecords(datagram)) {
    result = DtlsInput::kMalformed;
  } else if (state_ == DtlsState::kNew && options_.role == DtlsRole::kServer) {
    Start(now);
  } else if (state_ != DtlsState::kHandshaking &&
             state_ != DtlsState::kConnected) {
    result = DtlsInput::kNotOpen;
  }
  switch (result) {
    case DtlsInput::kAccepted:
      break;
    case DtlsInput::kNotDtls:
      ++counters_.not_dtls;
      return result;
    case DtlsInput::kOversize:
      ++counters_.oversize;
      return result;
    case DtlsInput::kMalformed:
      ++counters_.malformed;
      return result;
    case DtlsInput::kNotOpen:
      ++counters_.not_open;
      return result;
  }
  ++counters_.accepted;
  BIO_write(read_bio_, datagram.data(), static_cast<int>(datagram.size()));
  Drive();
  // OpenSSL reads a whole datagram at a time; never let what a failure
  // left behind run into the next one.
  (void)BIO_reset(read_bio_);
  Deliver();
  return result;
}

void DtlsTransport::Drive() {
  ERR_clear_error();
  if (state_ == DtlsState::kHandshaking) {
    const int result = SSL_do_handshake(ssl_.get());
    if (result == 1) {
      FinishHandshake();
    } else {
      const int error = SSL_get_error(ssl_.get(), result);
      if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) {
        Fail(verify_error_.ok() ? OpenSslError("DTLS handshake failed")
                                : verify_error_);
        return;
      }
    }
  }
  if (state_ == DtlsState::kConnected) ReadApplicationData();
}

void DtlsTransport::ReadApplicationData() {
  uint8_t buffer[512];
  while (true) {
    const int result = SSL_read(ssl_.get(), buffer, sizeof(buffer));
    if (result > 0) {
      ++counters_.app_data_dropped;
      continue;
    }
    switch (SSL_get_error(ssl_.get(), result)) {
      case SSL_ERROR_WANT_READ:
      case SSL_ERROR_WANT_WRITE:
        return;
      case SSL_ERROR_ZERO_RETURN:  // close_notify: answer it and stop
        SSL_shutdown(ssl_.get());
        state_ = DtlsState::kClosed;
        return;
      default:
        Fail(OpenSslError("DTLS connection failed"));
        return;
    }
  }
}

void DtlsTransport::FinishHandshake() {
  std::optional<SrtpProfile> profile =
      ProfileOf(SSL_get_selected_srtp_profile(ssl_.get()));
  if (!profile.has_value()) {
    Fail(absl::FailedPreconditionError(
        "the DTLS handshake negotiated no SRTP profile we offered"));
    return;
  }
  const size_t key = MasterKeySize(*profile);
  const size_t salt = MasterSaltSize(*profile);
  // RFC 5764 4.2: client key, server key, client salt, server salt.
  std::vector<uint8_t> material(2 * (key + salt));
  if (SSL_export_keying_material(ssl_.get(), material.data(), material.size(),
                                 kExporterLabel, sizeof(kExporterLabel) - 1,
                                 nullptr, 0, 0) != 1) {
    Fail(OpenSslError("exporting the SRTP keys"));
    return;
  }
  const auto at = [&](size_t offset, size_t size) {
    return std::vector<uint8_t>(material.begin() + offset,
                                material.begin() + offset + size);
  };
  SrtpKeys keys;
  keys.profile = *profile;
  keys.client_write = {at(0, key), at(2 * key, salt)};
  keys.server_write = {at(key, key), at(2 * key + salt, salt)};
  OPENSSL_cleanse(material.data(), material.size());
  srtp_keys_ = std::move(keys);
  state_ = DtlsState::kConnected;
}

void DtlsTransport::OnTimer(absl::Time now) {
  if (state_ != DtlsState::kHandshaking && state_ != DtlsState::kConnected) {
    return;
  }
  ERR_clear_error();
  if (state_ == DtlsState::kHandshaking && now >= deadline_) {
    Fail(absl::DeadlineExceededError(
        absl::StrCat("the DTLS handshake did not finish within ",
                     absl::FormatDuration(options_.handshake_timeout))));
  } else if (const int result = DTLSv1_handle_timeout(ssl_.get()); result > 0) {
    ++counters_.retransmissions;
  } else if (result < 0) {
    Fail(OpenSslError("DTLS retransmission failed"));
  }
  Deliver();
}

absl::Time DtlsTransport::NextTimeout(absl::Time now) const {
  if (state_ != DtlsState::kHandshaking && state_ != DtlsState::kConnected) {
    return absl::InfiniteFuture();
  }
  absl::Time next = absl::InfiniteFuture();
  timeval left;
  if (DTLSv1_get_timeout(ssl_.get(), &left) == 1) {
    next = now + absl::DurationFromTimeval(left);
  }
  if (state_ == DtlsState::kHandshaking) next = std::min(next, deadline_);
  return next;
}

void DtlsTransport::Close() {
  if (state_ == DtlsState::kFailed || state_ == DtlsState::kClosed) return;
  ERR_clear_error();
  if (state_ == DtlsState::kConnected) SSL_shutdown(ssl_.get());
  ERR_clear_error();
  state_ = DtlsState::kClosed;
  Deliver();
}

void DtlsTransport::Fail(absl::Status error) {
  ERR_clear_error();
  state_ = DtlsState::kFailed;
  error_ = std::move(error);
}

void DtlsTransport::Deliver() {
  std::vector<std::vector<uint8_t>> outbox = std::move(outbox_);
  outbox_.clear();
  for (const std::vector<uint8_t>& datagram : outbox) {
    ++counters_.datagrams_out;
    listener_->OnDtlsSend(datagram);
  }
  if (state_ != delivered_state_) {
    delivered_state_ = state_;
    listener_->OnDtlsState(state_, error_);
  }
}

}  // namespace cascade::dtls
