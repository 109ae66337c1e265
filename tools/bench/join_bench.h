// The join benchmark (issue 8): how long a site that joins a running stream
// waits for its first decodable picture, with the relay's keyframe cache and
// without it (the video stream not marked H.264, so the relay keeps no
// cache). Sites send no PLI here, so without the cache a site waits for the
// source's next keyframe, as a receiver that cannot ask for one would.
//
//   relay-source (GOP 2 s) -> R -> one relay-probe site per join
#ifndef CASCADE_TOOLS_BENCH_JOIN_BENCH_H_
#define CASCADE_TOOLS_BENCH_JOIN_BENCH_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tools/bench/relay_tree.h"

namespace cascade::bench {

struct JoinSetup {
  TreeBinaries binaries;
  std::string work_dir;
  bool keyframe_cache = true;
  int joins = 10;
  absl::Duration gop = absl::Seconds(2);
  uint64_t seed = 1;  // where in the GOP each join lands
};

// First-picture times, one per join that saw a picture, in ms; joins that
// saw none within a GOP and a half count in `failed`.
struct JoinResult {
  std::vector<double> first_frame_ms;
  int failed = 0;
};

absl::StatusOr<JoinResult> RunJoins(const JoinSetup& setup);

}  // namespace cascade::bench

#endif  // CASCADE_TOOLS_BENCH_JOIN_BENCH_H_
