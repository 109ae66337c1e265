// Lexical helpers of the SDP grammar (RFC 8866 section 9), private to this
// package.
#ifndef CASCADE_WEBRTC_SDP_TEXT_H_
#define CASCADE_WEBRTC_SDP_TEXT_H_

#include <cstdint>
#include <vector>

#include "absl/strings/string_view.h"

namespace cascade::sdp {

// RFC 8866 token: one or more token-chars.
bool IsToken(absl::string_view s);

// RFC 8839 ice-chars: ALPHA / DIGIT / "+" / "/" (any length, not empty).
bool IsIceChars(absl::string_view s);

// Digits only (no sign, no space), at most 20 of them, value <= max.
bool ParseDecimal(absl::string_view s, uint64_t max, uint64_t* out);

// Two hex digits (either case) as a byte, or -1.
int HexByte(absl::string_view pair);

// b= value: <bwtype>:<bandwidth>.
bool IsBandwidth(absl::string_view s);

// Fields separated by exactly one space; empty when `s` is empty or has
// a leading, trailing or doubled space (SDP's grammar allows none).
std::vector<absl::string_view> SplitSpaces(absl::string_view s);

}  // namespace cascade::sdp

#endif  // CASCADE_WEBRTC_SDP_TEXT_H_
