#ifndef CASCADE_TOOLS_MEDIA_CLI_H_
#define CASCADE_TOOLS_MEDIA_CLI_H_

// Command-line helpers shared by relay-source and relay-probe (flag parsing
// itself is base/flags.h).

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "media/srtp/keys.h"

namespace cascade {
namespace media {

// Parses a hex string (even length, 0-9a-fA-F) into bytes.
absl::StatusOr<std::string> ParseHex(absl::string_view hex);

// The stream keys in a key file (media/srtp/keys.h has the format). Errors
// begin with the path.
absl::StatusOr<std::vector<srtp::StreamKey>> ReadSrtpKeyFile(
    const std::string& path);

}  // namespace media
}  // namespace cascade

#endif  // CASCADE_TOOLS_MEDIA_CLI_H_
