#include "media/rtp/activation.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cstring>

#include "media/rtp/bytes.h"

namespace cascade::rtp {

using internal::ReadU32;
using internal::ReadU64;
using internal::WriteU32;
using internal::WriteU64;

namespace {

// Offsets within the APP data (after SSRC and name).
constexpr size_t kFieldsSize = 24;  // version .. requested SSRC
constexpr size_t kAppHeaderSize = 12;
constexpr uint8_t kFlagRequestedSsrc = 0x01;

constexpr size_t RoundUp4(size_t n) { return (n + 3) & ~size_t{3}; }

// HMAC-SHA256 of `message` under `key` into mac; false on an empty key or a
// library failure.
bool ComputeMac(absl::Span<const uint8_t> key,
                absl::Span<const uint8_t> message,
                uint8_t mac[kActivationMacSize]) {
  if (key.empty()) return false;
  unsigned int mac_size = 0;
  return HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
              message.data(), message.size(), mac, &mac_size) != nullptr &&
         mac_size == kActivationMacSize;
}

}  // namespace

absl::string_view ErrorName(ActivationResult result) {
  switch (result) {
    case ActivationResult::kOk:
      return "ok";
    case ActivationResult::kBadMac:
      return "bad_mac";
    case ActivationResult::kMalformed:
      return "malformed";
  }
  return "unknown";
}

absl::string_view ErrorName(ReplayVerdict verdict) {
  switch (verdict) {
    case ReplayVerdict::kAccepted:
      return "accepted";
    case ReplayVerdict::kOutsideWindow:
      return "outside_window";
    case ReplayVerdict::kReplayed:
      return "replayed";
    case ReplayVerdict::kStale:
      return "stale";
  }
  return "unknown";
}

bool IsActivation(const AppView& app) { return app.name == kActivationAppName; }

size_t BuildActivation(const ActivationRequest& request,
                       absl::Span<const uint8_t> key, absl::Span<uint8_t> out) {
  const size_t id_size = request.node_id.size();
  if (id_size == 0 || id_size > kMaxNodeIdSize || key.empty()) return 0;
  if (request.kind != ActivationKind::kActivate &&
      request.kind != ActivationKind::kDeactivate) {
    return 0;
  }
  const size_t signed_size = kAppHeaderSize + kFieldsSize + RoundUp4(id_size);
  const size_t size = signed_size + kActivationMacSize;
  if (size > out.size()) return 0;
  uint8_t* p = out.data();
  std::memset(p, 0, size);
  p[0] = static_cast<uint8_t>(0x80 | static_cast<uint8_t>(request.kind));
  p[1] = kRtcpApp;
  internal::WriteU16(p + 2, static_cast<uint16_t>(size / 4 - 1));
  WriteU32(p + 4, request.sender_ssrc);
  std::memcpy(p + 8, kActivationAppName.data(), 4);
  uint8_t* fields = p + kAppHeaderSize;
  fields[0] = kActivationVersion;
  fields[1] = static_cast<uint8_t>(id_size);
  fields[2] = request.requested_ssrc.has_value() ? kFlagRequestedSsrc : 0;
  WriteU64(fields + 4, static_cast<uint64_t>(request.timestamp_ms));
  WriteU64(fields + 12, request.nonce);
  WriteU32(fields + 20, request.requested_ssrc.value_or(0));
  std::memcpy(fields + kFieldsSize, request.node_id.data(), id_size);
  if (!ComputeMac(key, out.subspan(0, signed_size), p + signed_size)) return 0;
  return size;
}

ActivationResult ParseActivation(const AppView& app,
                                 ActivationRequest* request) {
  if (!IsActivation(app)) return ActivationResult::kMalformed;
  // The MAC sits at the very end of the packet, so no RTCP padding.
  if (app.packet.empty() || (app.packet[0] & 0x20) != 0) {
    return ActivationResult::kMalformed;
  }
  if (app.subtype != static_cast<uint8_t>(ActivationKind::kActivate) &&
      app.subtype != static_cast<uint8_t>(ActivationKind::kDeactivate)) {
    return ActivationResult::kMalformed;
  }
  const absl::Span<const uint8_t> data = app.data;
  if (data.size() < kFieldsSize) return ActivationResult::kMalformed;
  const uint8_t* f = data.data();
  const size_t id_size = f[1];
  const uint8_t flags = f[2];
  if (f[0] != kActivationVersion || id_size == 0 || id_size > kMaxNodeIdSize ||
      (flags & ~kFlagRequestedSsrc) != 0 || f[3] != 0) {
    return ActivationResult::kMalformed;
  }
  if (data.size() != kFieldsSize + RoundUp4(id_size) + kActivationMacSize) {
    return ActivationResult::kMalformed;
  }
  for (size_t i = kFieldsSize + id_size; i < kFieldsSize + RoundUp4(id_size);
       ++i) {
    if (f[i] != 0) return ActivationResult::kMalformed;
  }
  const uint32_t requested = ReadU32(f + 20);
  if (!(flags & kFlagRequestedSsrc) && requested != 0) {
    return ActivationResult::kMalformed;
  }
  ActivationRequest parsed;
  parsed.kind = static_cast<ActivationKind>(app.subtype);
  parsed.sender_ssrc = app.ssrc;
  parsed.node_id = absl::string_view(
      reinterpret_cast<const char*>(f + kFieldsSize), id_size);
  parsed.timestamp_ms = static_cast<int64_t>(ReadU64(f + 4));
  parsed.nonce = ReadU64(f + 12);
  if (flags & kFlagRequestedSsrc) parsed.requested_ssrc = requested;
  *request = parsed;
  return ActivationResult::kOk;
}

ActivationResult VerifyActivation(const AppView& app,
                                  absl::Span<const uint8_t> key,
                                  ActivationRequest* request) {
  const ActivationResult parsed = ParseActivation(app, request);
  if (parsed != ActivationResult::kOk) return parsed;
  // The data ends the packet (no padding), so the MAC is its last 32 bytes.
  const size_t signed_size = app.packet.size() - kActivationMacSize;
  uint8_t expected[kActivationMacSize];
  if (!ComputeMac(key, app.packet.subspan(0, signed_size), expected) ||
      CRYPTO_memcmp(expected, app.packet.data() + signed_size,
                    kActivationMacSize) != 0) {
    return ActivationResult::kBadMac;
  }
  return ActivationResult::kOk;
}

ReplayGuard::ReplayGuard(ReplayGuardOptions options) : options_(options) {}

ReplayVerdict ReplayGuard::Check(absl::string_view node_id,
                                 int64_t timestamp_ms, uint64_t nonce,
                                 absl::Time now) {
  if (absl::AbsDuration(absl::FromUnixMillis(timestamp_ms) - now) >
      options_.window) {
    return ReplayVerdict::kOutsideWindow;
  }
  NodeState& state = nodes_[node_id];
  // Pairs older than the window cannot pass the check above again; forget
  // them, raising the floor in case the clock steps back.
  const int64_t window_start_ms = absl::ToUnixMillis(now - options_.window);
  auto& recent = state.recent;
  while (!recent.empty() && recent.front().timestamp_ms < window_start_ms) {
    state.floor_ms = std::max(state.floor_ms, recent.front().timestamp_ms);
    recent.erase(recent.begin());
  }
  if (timestamp_ms <= state.floor_ms) return ReplayVerdict::kStale;
  for (const Seen& seen : recent) {
    if (seen.timestamp_ms == timestamp_ms && seen.nonce == nonce) {
      return ReplayVerdict::kReplayed;
    }
  }
  const auto position = std::upper_bound(
      recent.begin(), recent.end(), timestamp_ms,
      [](int64_t ts, const Seen& seen) { return ts < seen.timestamp_ms; });
  recent.insert(position, Seen{timestamp_ms, nonce});
  if (recent.size() > options_.nonces_per_node) {
    state.floor_ms = std::max(state.floor_ms, recent.front().timestamp_ms);
    recent.erase(recent.begin());
  }
  return ReplayVerdict::kAccepted;
}

void ReplayGuard::Forget(absl::string_view node_id) { nodes_.erase(node_id); }

}  // namespace cascade::rtp
