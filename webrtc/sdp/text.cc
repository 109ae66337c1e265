#include "webrtc/sdp/text.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"

namespace cascade::sdp {
namespace {

bool IsTokenChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u == 0x21 || (u >= 0x23 && u <= 0x27) || u == 0x2a || u == 0x2b ||
         u == 0x2d || u == 0x2e || (u >= 0x30 && u <= 0x39) ||
         (u >= 0x41 && u <= 0x5a) || (u >= 0x5e && u <= 0x7e);
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool IsToken(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!IsTokenChar(c)) return false;
  }
  return true;
}

bool IsIceChars(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(c) && c != '+' && c != '/') return false;
  }
  return true;
}

bool ParseDecimal(absl::string_view s, uint64_t max, uint64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  uint64_t value = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return false;
    value = value * 10 + digit;
  }
  if (value > max) return false;
  *out = value;
  return true;
}

int HexByte(absl::string_view pair) {
  if (pair.size() != 2) return -1;
  const int high = HexDigit(pair[0]);
  const int low = HexDigit(pair[1]);
  if (high < 0 || low < 0) return -1;
  return high * 16 + low;
}

bool IsBandwidth(absl::string_view s) {
  const size_t colon = s.find(':');
  uint64_t bandwidth;
  return colon != absl::string_view::npos && IsToken(s.substr(0, colon)) &&
         ParseDecimal(s.substr(colon + 1), UINT64_MAX, &bandwidth);
}

std::vector<absl::string_view> SplitSpaces(absl::string_view s) {
  std::vector<absl::string_view> fields = absl::StrSplit(s, ' ');
  for (absl::string_view field : fields) {
    if (field.empty()) return {};
  }
  return fields;
}

}  // namespace cascade::sdp
