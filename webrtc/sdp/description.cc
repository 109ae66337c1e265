// The accessors and value types of sdp.h, apart from the parser.
#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "webrtc/sdp/sdp.h"
#include "webrtc/sdp/text.h"

namespace cascade::sdp {

absl::string_view DirectionName(Direction direction) {
  switch (direction) {
    case Direction::kSendRecv:
      return "sendrecv";
    case Direction::kSendOnly:
      return "sendonly";
    case Direction::kRecvOnly:
      return "recvonly";
    case Direction::kInactive:
      return "inactive";
  }
  return "inactive";
}

std::string Fingerprint::ToString() const {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out = hash;
  out.push_back(' ');
  for (size_t i = 0; i < digest.size(); ++i) {
    if (i > 0) out.push_back(':');
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xf]);
  }
  return out;
}

absl::StatusOr<Fingerprint> ParseFingerprint(absl::string_view value) {
  const std::vector<absl::string_view> f = SplitSpaces(value);
  if (f.size() != 2 || !IsToken(f[0])) {
    return absl::InvalidArgumentError("expected <hash> <hex>:<hex>...");
  }
  Fingerprint fingerprint;
  fingerprint.hash = absl::AsciiStrToLower(f[0]);
  for (absl::string_view pair : absl::StrSplit(f[1], ':')) {
    int byte = 0;
    if (pair.size() != 2 || (byte = HexByte(pair)) < 0) {
      return absl::InvalidArgumentError("fingerprint is not hex pairs");
    }
    if (fingerprint.digest.size() >= 64) {
      return absl::InvalidArgumentError("fingerprint longer than 64 bytes");
    }
    fingerprint.digest.push_back(static_cast<uint8_t>(byte));
  }
  const std::pair<absl::string_view, size_t> kLengths[] = {
      {"sha-1", 20},   {"sha-224", 28}, {"sha-256", 32},
      {"sha-384", 48}, {"sha-512", 64}, {"md5", 16}};
  for (const auto& [hash, length] : kLengths) {
    if (fingerprint.hash == hash && fingerprint.digest.size() != length) {
      return absl::InvalidArgumentError(absl::StrCat(
          hash, " fingerprint of ", fingerprint.digest.size(), " bytes"));
    }
  }
  return fingerprint;
}

bool IsValidIceUfrag(absl::string_view ufrag) {
  return ufrag.size() >= 4 && ufrag.size() <= 256 && IsIceChars(ufrag);
}

bool IsValidIcePwd(absl::string_view pwd) {
  return pwd.size() >= 22 && pwd.size() <= 256 && IsIceChars(pwd);
}

const std::string* Codec::Fmtp(absl::string_view name) const {
  for (const FmtpParameter& p : fmtp) {
    if (p.name == name) return &p.value;
  }
  return nullptr;
}

bool Codec::HasFeedback(absl::string_view feedback) const {
  return std::find(rtcp_fb.begin(), rtcp_fb.end(), feedback) != rtcp_fb.end();
}

const Codec* MediaSection::FindCodec(int payload_type) const {
  for (const Codec& codec : codecs) {
    if (codec.payload_type == payload_type) return &codec;
  }
  return nullptr;
}

const Group* SessionDescription::Bundle() const {
  for (const Group& group : groups) {
    if (group.semantics == "BUNDLE") return &group;
  }
  return nullptr;
}

const MediaSection* SessionDescription::FindMid(absl::string_view mid) const {
  for (const MediaSection& m : media) {
    if (m.mid == mid) return &m;
  }
  return nullptr;
}

}  // namespace cascade::sdp
