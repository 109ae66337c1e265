#include "webrtc/ice/ice_lite.h"

#include <openssl/rand.h>

#include <utility>

#include "absl/strings/str_cat.h"

namespace cascade::ice {
namespace {

constexpr absl::string_view kIceChars =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

bool IsIceChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '+' || c == '/';
}

absl::Status ValidateIceChars(absl::string_view what, absl::string_view value,
                              size_t min, size_t max) {
  if (value.size() < min || value.size() > max) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " must be ", min, " to ", max, " characters, not ",
                     value.size()));
  }
  for (char c : value) {
    if (!IsIceChar(c)) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " may hold only letters, digits, '+' and '/'"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> RandomIceString(size_t size) {
  std::string random(size, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(random.data()),
                 static_cast<int>(size)) != 1) {
    return absl::InternalError("RAND_bytes failed");
  }
  // 64 ice-chars: the low 6 bits of a uniform byte pick one uniformly.
  for (char& c : random) c = kIceChars[static_cast<uint8_t>(c) & 63];
  return random;
}

}  // namespace

absl::StatusOr<IceCredentials> RandomIceCredentials() {
  IceCredentials credentials;
  absl::StatusOr<std::string> ufrag = RandomIceString(kLocalUfragSize);
  if (!ufrag.ok()) return ufrag.status();
  absl::StatusOr<std::string> pwd = RandomIceString(kLocalPwdSize);
  if (!pwd.ok()) return pwd.status();
  credentials.ufrag = *std::move(ufrag);
  credentials.pwd = *std::move(pwd);
  return credentials;
}

absl::Status ValidateUfrag(absl::string_view ufrag) {
  return ValidateIceChars("ice-ufrag", ufrag, 4, 256);
}

absl::Status ValidatePwd(absl::string_view pwd) {
  return ValidateIceChars("ice-pwd", pwd, 22, 256);
}

std::optional<absl::string_view> RecipientUfrag(
    absl::Span<const uint8_t> datagram) {
  StunMessage message;
  if (ParseStun(datagram, &message) != StunError::kOk ||
      message.method != kBindingMethod || message.cls != StunClass::kRequest ||
      !message.username) {
    return std::nullopt;
  }
  const size_t colon = message.username->find(':');
  if (colon == absl::string_view::npos) return std::nullopt;
  return message.username->substr(0, colon);
}

absl::string_view OutcomeName(IceOutcome outcome) {
  switch (outcome) {
    case IceOutcome::kAnswered:
      return "answered";
    case IceOutcome::kNotStun:
      return "not_stun";
    case IceOutcome::kNotBinding:
      return "not_binding";
    case IceOutcome::kIndication:
      return "indication";
    case IceOutcome::kUnexpectedClass:
      return "unexpected_class";
    case IceOutcome::kNoFingerprint:
      return "no_fingerprint";
    case IceOutcome::kBadFingerprint:
      return "bad_fingerprint";
    case IceOutcome::kMissingCredentials:
      return "missing_credentials";
    case IceOutcome::kWrongUsername:
      return "wrong_username";
    case IceOutcome::kBadIntegrity:
      return "bad_integrity";
    case IceOutcome::kUnknownAttributes:
      return "unknown_attributes";
    case IceOutcome::kRoleConflict:
      return "role_conflict";
    case IceOutcome::kCount:
      break;
  }
  return "unknown";
}

absl::StatusOr<IceLite> IceLite::Create(Options options) {
  if (absl::Status s = ValidateUfrag(options.local.ufrag); !s.ok()) return s;
  if (absl::Status s = ValidatePwd(options.local.pwd); !s.ok()) return s;
  if (absl::Status s = ValidateUfrag(options.remote_ufrag); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("remote ", s.message()));
  }
  if (options.consent_lifetime <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("consent_lifetime must be positive");
  }
  return IceLite(std::move(options));
}

IceLite::IceLite(Options options)
    : options_(std::move(options)),
      expected_username_(
          absl::StrCat(options_.local.ufrag, ":", options_.remote_ufrag)) {
  peers_.reserve(kMaxAddresses);
}

IceLite::Reply IceLite::OnStun(absl::Span<const uint8_t> datagram,
                               const TransportAddress& from, absl::Time now,
                               absl::Span<uint8_t> out) {
  auto drop = [this](IceOutcome outcome) {
    ++counters_.outcomes[static_cast<size_t>(outcome)];
    return Reply{outcome, 0};
  };
  StunMessage request;
  if (const StunError error = ParseStun(datagram, &request);
      error != StunError::kOk) {
    ++counters_.parse_errors[static_cast<size_t>(error)];
    return drop(IceOutcome::kNotStun);
  }
  if (request.method != kBindingMethod) return drop(IceOutcome::kNotBinding);
  if (request.cls == StunClass::kIndication) {
    return drop(IceOutcome::kIndication);
  }
  if (request.cls != StunClass::kRequest) {
    return drop(IceOutcome::kUnexpectedClass);
  }
  // A failed fingerprint means the datagram may not be STUN at all: it is
  // discarded without an answer (RFC 8489 section 6.3).
  if (!request.has_fingerprint()) return drop(IceOutcome::kNoFingerprint);
  if (!FingerprintValid(request)) return drop(IceOutcome::kBadFingerprint);

  // Short-term credentials, RFC 8489 section 9.1.3 (RFC 8445 section 7.3
  // defers to it): a request without USERNAME or MESSAGE-INTEGRITY MUST get
  // a 400, one whose username is not valid here or whose integrity fails a
  // 401. So wrong credentials are answered, not ignored: the browser learns
  // at once that this pair is dead. The answer carries no MESSAGE-INTEGRITY
  // (there is no shared key to sign with), no address and nothing the peer
  // did not send, and Error() sends it only when it is no larger than the
  // request, so a spoofed source gains no amplification from it.
  if (!request.username || !request.has_integrity()) {
    return Error(IceOutcome::kMissingCredentials, request, 400, "Bad Request",
                 false, out);
  }
  if (*request.username != expected_username_) {
    return Error(IceOutcome::kWrongUsername, request, 401, "Unauthenticated",
                 false, out);
  }
  if (!IntegrityValid(request, options_.local.pwd)) {
    return Error(IceOutcome::kBadIntegrity, request, 401, "Unauthenticated",
                 false, out);
  }
  // Authenticated from here on: errors are signed with the local password.
  if (request.unknown_count > 0) {
    return Error(IceOutcome::kUnknownAttributes, request, 420,
                 "Unknown Attribute", true, out);
  }
  // A full agent facing a lite one MUST be controlling (RFC 8445 6.1.1); a
  // lite agent cannot take that role, so a peer claiming the controlled
  // role gets the 487 that makes it switch (RFC 8445 7.3.1.1).
  if (request.ice_controlled) {
    return Error(IceOutcome::kRoleConflict, request, 487, "Role Conflict", true,
                 out);
  }

  const size_t size = BuildBindingSuccess(request.transaction_id, from,
                                          options_.local.pwd, out);
  if (size == 0) {
    // Only an `out` smaller than kMaxReplySize gets here: nothing changes
    // when no answer can be sent.
    ++counters_.replies_suppressed;
    return Reply{IceOutcome::kAnswered, 0};
  }
  const size_t index = Validate(from, now);
  if (request.use_candidate) {
    ++counters_.nominations;
    if (selected_ != index) ++counters_.selection_changes;
    selected_ = index;
  }
  ++counters_.outcomes[static_cast<size_t>(IceOutcome::kAnswered)];
  return Reply{IceOutcome::kAnswered, size};
}

IceLite::Reply IceLite::Error(IceOutcome outcome, const StunMessage& request,
                              uint16_t code, absl::string_view reason,
                              bool authenticated, absl::Span<uint8_t> out) {
  ++counters_.outcomes[static_cast<size_t>(outcome)];
  const size_t size = BuildBindingError(
      request.transaction_id, code, reason,
      code == 420 ? request.unknown_listed() : absl::Span<const uint16_t>(),
      authenticated ? absl::string_view(options_.local.pwd)
                    : absl::string_view(),
      out);
  if (size == 0 || size > request.bytes.size()) {
    ++counters_.replies_suppressed;
    return Reply{outcome, 0};
  }
  ++counters_.error_responses;
  return Reply{outcome, size};
}

size_t IceLite::Validate(const TransportAddress& from, absl::Time now) {
  for (size_t i = 0; i < peers_.size(); ++i) {
    if (peers_[i].address == from) {
      peers_[i].last_check = now;
      return i;
    }
  }
  ++counters_.addresses_validated;
  size_t index = peers_.size();
  if (peers_.size() < kMaxAddresses) {
    peers_.push_back(Peer{from, now});
  } else {
    // Full: forget the least recently checked address that is not selected.
    std::optional<size_t> oldest;
    for (size_t i = 0; i < peers_.size(); ++i) {
      if (i == selected_) continue;
      if (!oldest || peers_[i].last_check < peers_[*oldest].last_check) {
        oldest = i;
      }
    }
    index = *oldest;  // kMaxAddresses > 1, so one is not selected
    peers_[index] = Peer{from, now};
    ++counters_.addresses_evicted;
  }
  if (!selected_) {
    selected_ = index;
    ++counters_.selection_changes;
  }
  return index;
}

std::optional<TransportAddress> IceLite::selected() const {
  if (!selected_) return std::nullopt;
  return peers_[*selected_].address;
}

bool IceLite::IsValidated(const TransportAddress& address) const {
  for (const Peer& peer : peers_) {
    if (peer.address == address) return true;
  }
  return false;
}

std::optional<absl::Time> IceLite::last_consent() const {
  if (!selected_) return std::nullopt;
  return peers_[*selected_].last_check;
}

bool IceLite::ConsentExpired(absl::Time now) const {
  if (!selected_) return true;
  return now - peers_[*selected_].last_check >= options_.consent_lifetime;
}

}  // namespace cascade::ice
