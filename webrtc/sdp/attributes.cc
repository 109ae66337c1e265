#include "webrtc/sdp/attributes.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_split.h"
#include "webrtc/sdp/text.h"

namespace cascade::sdp {
namespace {

absl::Status Bad(absl::string_view what) {
  return absl::InvalidArgumentError(what);
}

bool IsId(absl::string_view id) {
  return id.size() <= kMaxIdLength && IsToken(id);
}

}  // namespace

std::optional<Direction> DirectionOf(absl::string_view name) {
  if (name == "sendrecv") return Direction::kSendRecv;
  if (name == "sendonly") return Direction::kSendOnly;
  if (name == "recvonly") return Direction::kRecvOnly;
  if (name == "inactive") return Direction::kInactive;
  return std::nullopt;
}

std::optional<Setup> SetupOf(absl::string_view value) {
  if (value == "actpass") return Setup::kActpass;
  if (value == "active") return Setup::kActive;
  if (value == "passive") return Setup::kPassive;
  if (value == "holdconn") return Setup::kHoldconn;
  return std::nullopt;
}

absl::StatusOr<Extmap> ParseExtmap(absl::string_view value) {
  const std::vector<absl::string_view> f = SplitSpaces(value);
  if (f.size() < 2) return Bad("expected <id>[/<direction>] <uri>");
  const std::vector<absl::string_view> id_dir =
      absl::StrSplit(f[0], absl::MaxSplits('/', 1));
  uint64_t id;
  if (!ParseDecimal(id_dir[0], 255, &id) || id == 0) return Bad("bad id");
  if (id_dir.size() == 2 && !DirectionOf(id_dir[1])) {
    return Bad("bad direction");
  }
  return Extmap{static_cast<int>(id), std::string(f[1])};
}

absl::StatusOr<SsrcAttribute> ParseSsrcAttribute(absl::string_view value) {
  const size_t space = value.find(' ');
  uint64_t ssrc;
  if (space == absl::string_view::npos ||
      !ParseDecimal(value.substr(0, space), UINT32_MAX, &ssrc)) {
    return Bad("expected <ssrc> <attribute>[:<value>]");
  }
  const absl::string_view rest = value.substr(space + 1);
  const size_t colon = rest.find(':');
  SsrcAttribute attribute;
  attribute.ssrc = static_cast<uint32_t>(ssrc);
  attribute.name = std::string(rest.substr(0, colon));
  if (!IsToken(attribute.name)) return Bad("bad attribute name");
  if (colon != absl::string_view::npos) {
    attribute.value = std::string(rest.substr(colon + 1));
  }
  return attribute;
}

absl::StatusOr<SsrcGroup> ParseSsrcGroup(absl::string_view value) {
  const std::vector<absl::string_view> f = SplitSpaces(value);
  if (f.empty() || !IsToken(f[0])) return Bad("expected <semantics> <ssrc>*");
  if (f.size() - 1 > kMaxListLength) return Bad("too many ssrcs");
  SsrcGroup group;
  group.semantics = std::string(f[0]);
  for (size_t i = 1; i < f.size(); ++i) {
    uint64_t ssrc;
    if (!ParseDecimal(f[i], UINT32_MAX, &ssrc)) return Bad("bad ssrc");
    group.ssrcs.push_back(static_cast<uint32_t>(ssrc));
  }
  return group;
}

absl::StatusOr<Msid> ParseMsid(absl::string_view value) {
  const std::vector<absl::string_view> f = SplitSpaces(value);
  if (f.empty() || f.size() > 2) return Bad("expected <id> [<appdata>]");
  for (absl::string_view id : f) {
    if (!IsId(id)) return Bad("bad msid");
  }
  return Msid{std::string(f[0]),
              f.size() == 2 ? std::string(f[1]) : std::string()};
}

absl::StatusOr<Group> ParseGroup(absl::string_view value) {
  const std::vector<absl::string_view> f = SplitSpaces(value);
  if (f.empty() || !IsToken(f[0])) return Bad("expected <semantics> <mid>*");
  if (f.size() - 1 > kMaxListLength) return Bad("too many mids");
  Group group;
  group.semantics = std::string(f[0]);
  for (size_t i = 1; i < f.size(); ++i) {
    if (!IsId(f[i])) return Bad("bad mid");
    if (std::find(group.mids.begin(), group.mids.end(), f[i]) !=
        group.mids.end()) {
      return Bad("mid listed twice");
    }
    group.mids.push_back(std::string(f[i]));
  }
  return group;
}

}  // namespace cascade::sdp
