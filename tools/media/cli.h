#ifndef CASCADE_TOOLS_MEDIA_CLI_H_
#define CASCADE_TOOLS_MEDIA_CLI_H_

// Command-line helpers shared by relay-source and relay-probe (flag parsing
// itself is base/flags.h).

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cascade {
namespace media {

// Parses a hex string (even length, 0-9a-fA-F) into bytes.
absl::StatusOr<std::string> ParseHex(absl::string_view hex);

}  // namespace media
}  // namespace cascade

#endif  // CASCADE_TOOLS_MEDIA_CLI_H_
