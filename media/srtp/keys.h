// The stream key of an encrypted program stream: AEAD_AES_128_GCM master key
// and salt (RFC 7714) with the key id that SRTP carries in every packet (the
// MKI, RFC 3711 section 3.1), and the text file that holds them.
//
// Key file: one key a line, oldest first, `KEY_ID_HEX KEY_HEX`: the id 1..4
// bytes (every key of a file the same size, no id twice), the key 28 bytes
// (the 16-byte AES key, then the 12-byte salt: 56 hex digits). Blank lines
// and lines starting with # are skipped. A sender encrypts with the last
// key; a receiver holds them all, so during a rotation (the new key appended,
// the old one kept) packets under either decrypt.
//
//   # cascade stream key
//   01 000102030405060708090a0b0c0d0e0f101112131415161718191a1b
//   02 1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a090807060504
#ifndef CASCADE_MEDIA_SRTP_KEYS_H_
#define CASCADE_MEDIA_SRTP_KEYS_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace cascade::srtp {

inline constexpr size_t kMasterKeySize = 16;
inline constexpr size_t kMasterSaltSize = 12;
inline constexpr size_t kKeyMaterialSize = kMasterKeySize + kMasterSaltSize;
inline constexpr size_t kMaxKeyIdSize = 4;
// libsrtp's SRTP_MAX_NUM_MASTER_KEYS.
inline constexpr size_t kMaxKeys = 16;

struct StreamKey {
  std::vector<uint8_t> id;  // the MKI: 1..kMaxKeyIdSize bytes
  std::array<uint8_t, kKeyMaterialSize> material{};  // key, then salt
};

// Parses a key file (above). Errors name the line and the field.
absl::StatusOr<std::vector<StreamKey>> ParseKeyFile(absl::string_view contents);

// The file text for `keys`, oldest first (what ParseKeyFile reads back).
std::string FormatKeyFile(absl::Span<const StreamKey> keys);

// Every key valid and ids of one size, distinct: what a receiver can hold.
absl::Status CheckKeys(absl::Span<const StreamKey> keys);

// A fresh key to follow `keys` (oldest first): its material from the
// kernel's random source (getrandom), its id the newest one's plus one, of
// the same size (1 byte, 01, for the first key). Fails when the ids of that
// size are used up or the kernel gives no randomness.
absl::StatusOr<StreamKey> NextKey(absl::Span<const StreamKey> keys);

}  // namespace cascade::srtp

#endif  // CASCADE_MEDIA_SRTP_KEYS_H_
