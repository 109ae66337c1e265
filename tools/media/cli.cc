#include "tools/media/cli.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "base/files.h"

namespace cascade {
namespace media {

absl::StatusOr<std::string> ParseHex(absl::string_view hex) {
  hex = absl::StripAsciiWhitespace(hex);
  if (hex.empty() || hex.size() % 2 != 0) {
    return absl::InvalidArgumentError(
        "hex key must have an even, non-zero length");
  }
  for (char c : hex) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError("hex key has a non-hex character");
    }
  }
  return absl::HexStringToBytes(hex);
}

absl::StatusOr<std::vector<srtp::StreamKey>> ReadSrtpKeyFile(
    const std::string& path) {
  absl::StatusOr<std::string> contents = ReadFile(path);
  if (!contents.ok()) return contents.status();
  auto keys = srtp::ParseKeyFile(*contents);
  if (!keys.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", keys.status().message()));
  }
  return keys;
}

}  // namespace media
}  // namespace cascade
