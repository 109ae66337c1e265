// The join benchmark's driver: a site joining a running stream, with and
// without the relay's keyframe cache (tools/bench/join_bench.h); time to its
// first decodable picture, and the target (under 100 ms with the cache).
#ifndef CASCADE_TOOLS_BENCH_JOIN_SECTION_H_
#define CASCADE_TOOLS_BENCH_JOIN_SECTION_H_

#include "absl/status/status.h"
#include "tools/bench/report.h"

namespace cascade::bench {

struct JoinOptions {
  int joins = 10;  // per case
};

absl::Status RunJoin(const JoinOptions& options, Context& context);

}  // namespace cascade::bench

#endif  // CASCADE_TOOLS_BENCH_JOIN_SECTION_H_
