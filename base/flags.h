// Command-line handling shared by every Cascade binary's main.cc.
#ifndef CASCADE_BASE_FLAGS_H_
#define CASCADE_BASE_FLAGS_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace cascade {

// Rewrites "--state-dir=x" as "--state_dir=x" in place, for every argument
// up to a lone "--", so each flag can be written with dashes (as the docs
// do) or with underscores (as absl names them). Values are left untouched.
void AcceptDashedFlagNames(int argc, char** argv);

// The one way a Cascade binary parses its command line: dashed names
// accepted, `usage` shown by --help followed by every flag the binary
// defines (absl's own flags left out), then absl's parser. Returns the
// positional arguments, argv[0] first.
std::vector<char*> ParseFlags(int argc, char** argv, absl::string_view usage);

// The whole file a flag names (a key, a certificate, a token) into *out.
// False, with *error a line naming the flag, the path and the reason, when
// it cannot be read.
bool ReadFlagFile(absl::string_view flag, const std::string& path,
                  std::string* out, std::string* error);

}  // namespace cascade

#endif  // CASCADE_BASE_FLAGS_H_
