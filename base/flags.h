// Command-line helpers shared by every Cascade binary's main.cc.
#ifndef CASCADE_BASE_FLAGS_H_
#define CASCADE_BASE_FLAGS_H_

namespace cascade {

// Rewrites "--state-dir=x" as "--state_dir=x" in place, for every argument
// up to a lone "--", so each flag can be written with dashes (as the docs
// do) or with underscores (as absl names them). Values are left untouched.
void AcceptDashedFlagNames(int argc, char** argv);

}  // namespace cascade

#endif  // CASCADE_BASE_FLAGS_H_
