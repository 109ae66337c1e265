#include "webrtc/ice/stun.h"

#include <arpa/inet.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <zlib.h>

#include <cstring>
#include <initializer_list>

#include "absl/strings/str_cat.h"

namespace cascade::ice {
namespace {

uint16_t ReadU16(const uint8_t* p) {
  return static_cast<uint16_t>((p[0] << 8) | p[1]);
}
uint32_t ReadU32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) |
         (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}
uint64_t ReadU64(const uint8_t* p) {
  return (uint64_t{ReadU32(p)} << 32) | ReadU32(p + 4);
}
void WriteU16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void WriteU32(uint8_t* p, uint32_t v) {
  WriteU16(p, static_cast<uint16_t>(v >> 16));
  WriteU16(p + 2, static_cast<uint16_t>(v));
}
void WriteU64(uint8_t* p, uint64_t v) {
  WriteU32(p, static_cast<uint32_t>(v >> 32));
  WriteU32(p + 4, static_cast<uint32_t>(v));
}

size_t Padded(size_t length) { return (length + 3) & ~size_t{3}; }

// The XOR mask of an address: the magic cookie, then the transaction id
// (IPv6 uses all 16 bytes, IPv4 the first 4; the port the first 2).
std::array<uint8_t, 16> AddressMask(const TransactionId& transaction_id) {
  std::array<uint8_t, 16> mask;
  WriteU32(mask.data(), kMagicCookie);
  std::memcpy(mask.data() + 4, transaction_id.data(), transaction_id.size());
  return mask;
}

// HMAC-SHA1 of the concatenated `parts` under `key`, through OpenSSL's EVP_MAC
// (the incremental HMAC_CTX functions are deprecated in OpenSSL 3).
bool HmacSha1(absl::string_view key,
              std::initializer_list<absl::Span<const uint8_t>> parts,
              uint8_t out[kHmacSha1Size]) {
  if (key.empty()) return false;
  static EVP_MAC* const hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (hmac == nullptr) return false;
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(hmac);
  if (ctx == nullptr) return false;
  char digest[] = "SHA1";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end()};
  bool ok = EVP_MAC_init(ctx, reinterpret_cast<const uint8_t*>(key.data()),
                         key.size(), params) == 1;
  for (absl::Span<const uint8_t> part : parts) {
    ok = ok && EVP_MAC_update(ctx, part.data(), part.size()) == 1;
  }
  size_t written = 0;
  ok = ok && EVP_MAC_final(ctx, out, &written, kHmacSha1Size) == 1 &&
       written == kHmacSha1Size;
  EVP_MAC_CTX_free(ctx);
  return ok;
}

uint32_t Crc32(absl::Span<const uint8_t> bytes) {
  return static_cast<uint32_t>(crc32(crc32(0, Z_NULL, 0), bytes.data(),
                                     static_cast<uInt>(bytes.size())));
}

// Checks and stores one attribute that precedes MESSAGE-INTEGRITY.
StunError ParseAttribute(uint16_t type, absl::Span<const uint8_t> value,
                         size_t offset, StunMessage* out) {
  const uint8_t* v = value.data();
  const size_t n = value.size();
  switch (type) {
    case kAttrUsername:
      if (n > kMaxUsernameSize) return StunError::kBadAttributeValue;
      if (!out->username) {
        out->username = absl::string_view(reinterpret_cast<const char*>(v), n);
      }
      return StunError::kOk;
    case kAttrMessageIntegrity:
      if (n != kHmacSha1Size) return StunError::kBadAttributeValue;
      out->integrity_offset = offset;
      return StunError::kOk;
    case kAttrErrorCode: {
      if (n < 4 || n - 4 > kMaxReasonSize) return StunError::kBadAttributeValue;
      const int cls = v[2] & 0x07;
      const int number = v[3];
      if (cls < 3 || cls > 6 || number > 99) {
        return StunError::kBadAttributeValue;
      }
      if (!out->error_code) {
        out->error_code = StunErrorCode{
            static_cast<uint16_t>(cls * 100 + number),
            absl::string_view(reinterpret_cast<const char*>(v + 4), n - 4)};
      }
      return StunError::kOk;
    }
    case kAttrUnknownAttributes:
      return n % 2 == 0 ? StunError::kOk : StunError::kBadAttributeValue;
    case kAttrXorMappedAddress: {
      if (n < 4) return StunError::kBadAttributeValue;
      TransportAddress address;
      if (v[1] == 1 && n == 8) {
        address.family = TransportAddress::Family::kIpv4;
      } else if (v[1] == 2 && n == 20) {
        address.family = TransportAddress::Family::kIpv6;
      } else {
        return StunError::kBadAttributeValue;
      }
      const std::array<uint8_t, 16> mask = AddressMask(out->transaction_id);
      address.port = ReadU16(v + 2) ^ static_cast<uint16_t>(kMagicCookie >> 16);
      for (size_t i = 0; i < address.ip_size(); ++i) {
        address.ip[i] = v[4 + i] ^ mask[i];
      }
      if (!out->xor_mapped_address) out->xor_mapped_address = address;
      return StunError::kOk;
    }
    case kAttrPriority:
      if (n != 4) return StunError::kBadAttributeValue;
      if (!out->priority) out->priority = ReadU32(v);
      return StunError::kOk;
    case kAttrUseCandidate:
      if (n != 0) return StunError::kBadAttributeValue;
      out->use_candidate = true;
      return StunError::kOk;
    case kAttrIceControlling:
    case kAttrIceControlled: {
      if (n != 8) return StunError::kBadAttributeValue;
      std::optional<uint64_t>& field = type == kAttrIceControlling
                                           ? out->ice_controlling
                                           : out->ice_controlled;
      if (!field) field = ReadU64(v);
      return StunError::kOk;
    }
    default:
      if (IsComprehensionRequired(type)) {
        if (out->unknown_count < out->unknown.size()) {
          out->unknown[out->unknown_count] = type;
        }
        ++out->unknown_count;
      }
      return StunError::kOk;
  }
}

}  // namespace

uint16_t MessageType(uint16_t method, StunClass cls) {
  const uint16_t c = static_cast<uint16_t>(cls);
  return static_cast<uint16_t>((method & 0x000F) | ((method & 0x0070) << 1) |
                               ((method & 0x0F80) << 2) | ((c & 1) << 4) |
                               ((c & 2) << 7));
}

TransportAddress TransportAddress::V4(uint32_t ip, uint16_t port) {
  TransportAddress address;
  address.family = Family::kIpv4;
  WriteU32(address.ip.data(), ip);
  address.port = port;
  return address;
}

TransportAddress TransportAddress::V6(const std::array<uint8_t, 16>& ip,
                                      uint16_t port) {
  TransportAddress address;
  address.family = Family::kIpv6;
  address.ip = ip;
  address.port = port;
  return address;
}

std::string TransportAddress::ToString() const {
  char text[INET6_ADDRSTRLEN] = {};
  if (family == Family::kIpv4) {
    inet_ntop(AF_INET, ip.data(), text, sizeof(text));
    return absl::StrCat(text, ":", port);
  }
  inet_ntop(AF_INET6, ip.data(), text, sizeof(text));
  return absl::StrCat("[", text, "]:", port);
}

absl::string_view ErrorName(StunError error) {
  switch (error) {
    case StunError::kOk:
      return "ok";
    case StunError::kTooShort:
      return "too_short";
    case StunError::kNotStun:
      return "not_stun";
    case StunError::kBadMagicCookie:
      return "bad_magic_cookie";
    case StunError::kBadLength:
      return "bad_length";
    case StunError::kAttributeOverrun:
      return "attribute_overrun";
    case StunError::kBadAttributeValue:
      return "bad_attribute_value";
    case StunError::kAfterFingerprint:
      return "after_fingerprint";
    case StunError::kCount:
      break;
  }
  return "unknown";
}

StunError ParseStun(absl::Span<const uint8_t> datagram, StunMessage* out) {
  const uint8_t* b = datagram.data();
  const size_t size = datagram.size();
  if (size < kStunHeaderSize) return StunError::kTooShort;
  if ((b[0] & 0xC0) != 0) return StunError::kNotStun;
  if (ReadU32(b + 4) != kMagicCookie) return StunError::kBadMagicCookie;
  const size_t length = ReadU16(b + 2);
  if (length % 4 != 0 || length != size - kStunHeaderSize) {
    return StunError::kBadLength;
  }
  *out = StunMessage();
  out->bytes = datagram;
  const uint16_t type = ReadU16(b);
  out->method = static_cast<uint16_t>((type & 0x000F) | ((type & 0x00E0) >> 1) |
                                      ((type & 0x3E00) >> 2));
  out->cls = static_cast<StunClass>(((type >> 4) & 1) | ((type >> 7) & 2));
  std::memcpy(out->transaction_id.data(), b + 8, out->transaction_id.size());

  size_t pos = kStunHeaderSize;
  while (pos < size) {
    if (out->has_fingerprint()) return StunError::kAfterFingerprint;
    if (size - pos < 4) return StunError::kAttributeOverrun;
    const uint16_t attr_type = ReadU16(b + pos);
    const size_t attr_length = ReadU16(b + pos + 2);
    if (Padded(attr_length) > size - pos - 4) {
      return StunError::kAttributeOverrun;
    }
    const absl::Span<const uint8_t> value(b + pos + 4, attr_length);
    if (attr_type == kAttrFingerprint) {
      if (attr_length != 4) return StunError::kBadAttributeValue;
      out->fingerprint_offset = pos;
    } else if (!out->has_integrity()) {
      const StunError error = ParseAttribute(attr_type, value, pos, out);
      if (error != StunError::kOk) return error;
    }
    pos += 4 + Padded(attr_length);
  }
  return StunError::kOk;
}

bool FingerprintValid(const StunMessage& message) {
  if (!message.has_fingerprint()) return false;
  const size_t offset = message.fingerprint_offset;
  const uint32_t expected =
      Crc32(message.bytes.subspan(0, offset)) ^ kFingerprintXor;
  return ReadU32(message.bytes.data() + offset + 4) == expected;
}

bool IntegrityValid(const StunMessage& message, absl::string_view key) {
  if (!message.has_integrity()) return false;
  const size_t offset = message.integrity_offset;
  // The header as it was when the sender computed the HMAC: its length ends
  // with MESSAGE-INTEGRITY, whatever follows (FINGERPRINT) not yet counted.
  uint8_t header[4];
  std::memcpy(header, message.bytes.data(), 2);
  WriteU16(header + 2,
           static_cast<uint16_t>(offset + 4 + kHmacSha1Size - kStunHeaderSize));
  uint8_t mac[kHmacSha1Size];
  if (!HmacSha1(
          key,
          {absl::MakeConstSpan(header), message.bytes.subspan(4, offset - 4)},
          mac)) {
    return false;
  }
  return CRYPTO_memcmp(mac, message.bytes.data() + offset + 4, kHmacSha1Size) ==
         0;
}

StunBuilder::StunBuilder(absl::Span<uint8_t> out, uint16_t method,
                         StunClass cls, const TransactionId& transaction_id)
    : out_(out), transaction_id_(transaction_id) {
  if (out_.size() < kStunHeaderSize) {
    ok_ = false;
    return;
  }
  WriteU16(out_.data(), MessageType(method, cls));
  WriteU16(out_.data() + 2, 0);
  WriteU32(out_.data() + 4, kMagicCookie);
  std::memcpy(out_.data() + 8, transaction_id.data(), transaction_id.size());
  size_ = kStunHeaderSize;
}

void StunBuilder::SetLength(size_t message_size) {
  WriteU16(out_.data() + 2,
           static_cast<uint16_t>(message_size - kStunHeaderSize));
}

uint8_t* StunBuilder::Attribute(uint16_t type, size_t length) {
  const size_t total = 4 + Padded(length);
  if (!ok_ || total > out_.size() - size_ ||
      size_ + total - kStunHeaderSize > 0xFFFF) {
    ok_ = false;
    return nullptr;
  }
  uint8_t* p = out_.data() + size_;
  WriteU16(p, type);
  WriteU16(p + 2, static_cast<uint16_t>(length));
  std::memset(p + 4 + length, 0, Padded(length) - length);
  size_ += total;
  SetLength(size_);
  return p + 4;
}

void StunBuilder::AddRaw(uint16_t type, absl::Span<const uint8_t> value) {
  if (uint8_t* p = Attribute(type, value.size()); p && !value.empty()) {
    std::memcpy(p, value.data(), value.size());
  }
}

void StunBuilder::AddUsername(absl::string_view username) {
  AddRaw(kAttrUsername, absl::Span<const uint8_t>(
                            reinterpret_cast<const uint8_t*>(username.data()),
                            username.size()));
}

void StunBuilder::AddXorMappedAddress(const TransportAddress& address) {
  uint8_t* p = Attribute(kAttrXorMappedAddress, 4 + address.ip_size());
  if (p == nullptr) return;
  const std::array<uint8_t, 16> mask = AddressMask(transaction_id_);
  p[0] = 0;
  p[1] = static_cast<uint8_t>(address.family);
  WriteU16(p + 2, address.port ^ static_cast<uint16_t>(kMagicCookie >> 16));
  for (size_t i = 0; i < address.ip_size(); ++i) {
    p[4 + i] = address.ip[i] ^ mask[i];
  }
}

void StunBuilder::AddPriority(uint32_t priority) {
  if (uint8_t* p = Attribute(kAttrPriority, 4)) WriteU32(p, priority);
}

void StunBuilder::AddUseCandidate() { Attribute(kAttrUseCandidate, 0); }

void StunBuilder::AddIceControlling(uint64_t tie_breaker) {
  if (uint8_t* p = Attribute(kAttrIceControlling, 8)) WriteU64(p, tie_breaker);
}

void StunBuilder::AddIceControlled(uint64_t tie_breaker) {
  if (uint8_t* p = Attribute(kAttrIceControlled, 8)) WriteU64(p, tie_breaker);
}

void StunBuilder::AddErrorCode(uint16_t code, absl::string_view reason) {
  reason = reason.substr(0, kMaxReasonSize);
  uint8_t* p = Attribute(kAttrErrorCode, 4 + reason.size());
  if (p == nullptr) return;
  p[0] = 0;
  p[1] = 0;
  p[2] = static_cast<uint8_t>((code / 100) & 0x07);
  p[3] = static_cast<uint8_t>(code % 100);
  std::memcpy(p + 4, reason.data(), reason.size());
}

void StunBuilder::AddUnknownAttributes(absl::Span<const uint16_t> types) {
  uint8_t* p = Attribute(kAttrUnknownAttributes, 2 * types.size());
  if (p == nullptr) return;
  for (size_t i = 0; i < types.size(); ++i) WriteU16(p + 2 * i, types[i]);
}

void StunBuilder::AddMessageIntegrity(absl::string_view key) {
  const size_t offset = size_;
  uint8_t* p = Attribute(kAttrMessageIntegrity, kHmacSha1Size);
  if (p == nullptr) return;
  // The header's length already counts this attribute, as the HMAC wants.
  if (!HmacSha1(key, {absl::MakeConstSpan(out_.data(), offset)}, p)) {
    ok_ = false;
  }
}

void StunBuilder::AddFingerprint() {
  const size_t offset = size_;
  uint8_t* p = Attribute(kAttrFingerprint, 4);
  if (p == nullptr) return;
  WriteU32(p,
           Crc32(absl::MakeConstSpan(out_.data(), offset)) ^ kFingerprintXor);
}

size_t BuildBindingSuccess(const TransactionId& transaction_id,
                           const TransportAddress& mapped,
                           absl::string_view key, absl::Span<uint8_t> out) {
  StunBuilder builder(out, kBindingMethod, StunClass::kSuccess, transaction_id);
  builder.AddXorMappedAddress(mapped);
  builder.AddMessageIntegrity(key);
  builder.AddFingerprint();
  return builder.Finish();
}

size_t BuildBindingError(const TransactionId& transaction_id, uint16_t code,
                         absl::string_view reason,
                         absl::Span<const uint16_t> unknown,
                         absl::string_view key, absl::Span<uint8_t> out) {
  StunBuilder builder(out, kBindingMethod, StunClass::kError, transaction_id);
  builder.AddErrorCode(code, reason);
  if (!unknown.empty()) builder.AddUnknownAttributes(unknown);
  if (!key.empty()) builder.AddMessageIntegrity(key);
  builder.AddFingerprint();
  return builder.Finish();
}

}  // namespace cascade::ice
