// Parsers of attribute values that need nothing but the value; their errors
// are short and the caller names the line. Private to this package.
#ifndef CASCADE_WEBRTC_SDP_ATTRIBUTES_H_
#define CASCADE_WEBRTC_SDP_ATTRIBUTES_H_

#include <cstddef>
#include <optional>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "webrtc/sdp/sdp.h"

namespace cascade::sdp {

// mid, msid ids, group tags (RFC 8830: 1*64 token-char).
inline constexpr size_t kMaxIdLength = 64;
// SSRCs in one ssrc-group, mids in one group.
inline constexpr size_t kMaxListLength = 64;

std::optional<Direction> DirectionOf(absl::string_view name);
std::optional<Setup> SetupOf(absl::string_view value);

// a=extmap:<id>[/<direction>] <uri> [<attributes>], id 1-255.
absl::StatusOr<Extmap> ParseExtmap(absl::string_view value);
// a=ssrc:<ssrc> <attribute>[:<value>]
absl::StatusOr<SsrcAttribute> ParseSsrcAttribute(absl::string_view value);
// a=ssrc-group:<semantics> <ssrc>...
absl::StatusOr<SsrcGroup> ParseSsrcGroup(absl::string_view value);
// a=msid:<id> [<appdata>]
absl::StatusOr<Msid> ParseMsid(absl::string_view value);
// a=group:<semantics> <mid>... (no mid twice)
absl::StatusOr<Group> ParseGroup(absl::string_view value);

}  // namespace cascade::sdp

#endif  // CASCADE_WEBRTC_SDP_ATTRIBUTES_H_
