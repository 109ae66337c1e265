// The forwarders that the forwarding, latency and max_fanout benchmarks
// compare, and their cases as the report records them.
#ifndef CASCADE_TOOLS_BENCH_FORWARDER_CASES_H_
#define CASCADE_TOOLS_BENCH_FORWARDER_CASES_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/map.h"
#include "tools/bench/bench_report.pb.h"
#include "tools/bench/forwarder.h"
#include "tools/bench/forwarding_bench.h"
#include "tools/bench/report.h"

namespace cascade::bench {

// The forwarders MakeForwarders knows: "relayd" (one thread), "relayd-tN"
// (N threads, 2..64), the same with "relayd-uring" (relayd
// --send_path=io_uring), "sendmmsg", "gso", "gstreamer".
bool IsForwarderName(absl::string_view name);

// The named forwarders, binaries found beside `context.argv0`, each recorded
// with its version in `context.versions`.
absl::StatusOr<std::vector<std::unique_ptr<Forwarder>>> MakeForwarders(
    const std::vector<std::string>& names, Context& context);

// One case per repetition with a fresh process; the median run, or the
// forwarder's reason when it cannot run here.
ForwardingResult RunCase(const Forwarder& forwarder, int fanout,
                         const VideoShape& shape, double seconds, int repeat,
                         Context& context);

// Every forwarder's case of one fan-out, by name: its figures, or only why it
// did not run.
void AddForwarderRuns(
    const std::vector<ForwardingResult>& row,
    google::protobuf::Map<std::string, cascade::v1::BenchForwarderRun>* runs);

}  // namespace cascade::bench

#endif  // CASCADE_TOOLS_BENCH_FORWARDER_CASES_H_
