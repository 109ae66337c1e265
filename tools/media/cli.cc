#include "tools/media/cli.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"

namespace cascade {
namespace media {

std::vector<std::string> DashedFlagsToUnderscores(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  for (size_t i = 1; i < args.size(); ++i) {
    std::string& arg = args[i];
    if (arg == "--") break;  // everything after is positional
    if (arg.size() < 3 || arg.compare(0, 2, "--") != 0) continue;
    const size_t end = std::min(arg.find('='), arg.size());
    for (size_t j = 2; j < end; ++j) {
      if (arg[j] == '-') arg[j] = '_';
    }
  }
  return args;
}

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

}  // namespace media
}  // namespace cascade
