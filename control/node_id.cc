#include "control/node_id.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace cascade::control {

absl::Status ValidateNodeId(absl::string_view id) {
  if (id.empty()) return absl::InvalidArgumentError("empty node id");
  if (id.size() > kMaxNodeIdSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("node id \"", id.substr(0, 16), "...\" is ", id.size(),
                     " bytes, more than ", kMaxNodeIdSize));
  }
  for (char c : id) {
    // Printable ASCII only: '!' (0x21) to '~' (0x7e).
    if (c < '!' || c > '~') {
      return absl::InvalidArgumentError(absl::StrCat(
          "node id \"", absl::CHexEscape(id),
          "\" has a space or a character that is not printable ASCII"));
    }
  }
  return absl::OkStatus();
}

}  // namespace cascade::control
