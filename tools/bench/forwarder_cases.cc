#include "tools/bench/forwarder_cases.h"

#include <cstdint>
#include <optional>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "tools/bench/process.h"

namespace cascade::bench {
namespace {

struct RelaydVariant {
  int threads;
  bool uring;
};

// "relayd": 1 thread; "relayd-tN": N (2..64); each also as "relayd-uring..."
// for --send_path=io_uring; anything else: none.
std::optional<RelaydVariant> ParseRelayd(absl::string_view name) {
  if (!absl::ConsumePrefix(&name, "relayd")) return std::nullopt;
  const bool uring = absl::ConsumePrefix(&name, "-uring");
  if (name.empty()) return RelaydVariant{1, uring};
  int threads = 0;
  if (absl::ConsumePrefix(&name, "-t") && absl::SimpleAtoi(name, &threads) &&
      threads >= 2 && threads <= 64) {
    return RelaydVariant{threads, uring};
  }
  return std::nullopt;
}

std::unique_ptr<Forwarder> MakeForwarder(absl::string_view name,
                                         const std::string& argv0) {
  if (name == "sendmmsg" || name == "gso") {
    return MakeBaselineForwarder(
        FindBuiltBinary(argv0, "tools/bench/fanout-baseline"),
        std::string(name));
  }
  if (name == "gstreamer") return MakeGStreamerForwarder();
  if (std::optional<RelaydVariant> relayd = ParseRelayd(name)) {
    return MakeRelaydForwarder(FindBuiltBinary(argv0, "relay/relayd"),
                               relayd->threads, relayd->uring);
  }
  return nullptr;
}

// The report's record of one case: its figures, or only why it did not run.
cascade::v1::BenchForwarderRun ForwarderRunProto(const ForwardingResult& r) {
  cascade::v1::BenchForwarderRun run;
  if (!r.error.empty()) {
    run.set_error(r.error);
    return run;
  }
  run.set_sent(static_cast<uint32_t>(r.sent));
  run.set_delivered(static_cast<uint32_t>(r.delivered));
  run.set_seconds(r.seconds);
  run.set_delivered_pps(r.delivered_pps);
  run.set_loss_ratio(r.loss_ratio);
  run.set_input_drops(static_cast<uint32_t>(r.input_drops));
  run.set_receiver_drops(static_cast<uint32_t>(r.receiver_drops));
  run.set_ns_per_packet(r.ns_per_packet);
  run.set_cpu_share(r.cpu_share);
  run.set_runs(r.runs);
  run.set_ns_per_packet_min(r.ns_min);
  run.set_ns_per_packet_max(r.ns_max);
  run.set_latency_samples(static_cast<uint32_t>(r.latency.samples));
  run.set_latency_p50_ns(r.latency.p50_ns);
  run.set_latency_p99_ns(r.latency.p99_ns);
  run.set_latency_max_ns(r.latency.max_ns);
  run.set_busiest_thread_share(r.busiest_thread_share);
  return run;
}

}  // namespace

bool IsForwarderName(absl::string_view name) {
  return name == "sendmmsg" || name == "gso" || name == "gstreamer" ||
         ParseRelayd(name).has_value();
}

absl::StatusOr<std::vector<std::unique_ptr<Forwarder>>> MakeForwarders(
    const std::vector<std::string>& names, Context& context) {
  std::vector<std::unique_ptr<Forwarder>> forwarders;
  for (const std::string& name : names) {
    std::unique_ptr<Forwarder> forwarder = MakeForwarder(name, context.argv0);
    if (forwarder == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown forwarder '", name, "'"));
    }
    context.versions[name] =
        forwarder->version().empty()
            ? "unavailable: " + forwarder->unavailable_reason()
            : forwarder->version();
    forwarders.push_back(std::move(forwarder));
  }
  return forwarders;
}

ForwardingResult RunCase(const Forwarder& forwarder, int fanout,
                         const VideoShape& shape, double seconds, int repeat,
                         Context& context) {
  if (!forwarder.unavailable_reason().empty()) {
    ForwardingResult result;
    result.forwarder = forwarder.name();
    result.fanout = fanout;
    result.shape = shape;
    result.error = forwarder.unavailable_reason();
    return result;
  }
  std::vector<ForwardingResult> runs;
  for (int r = 0; r < repeat; ++r) {
    runs.push_back(RunForwardingCase(forwarder, fanout, shape,
                                     absl::Seconds(seconds), context.work_dir));
  }
  ++context.cases_run;
  return MedianOf(std::move(runs));
}

void AddForwarderRuns(
    const std::vector<ForwardingResult>& row,
    google::protobuf::Map<std::string, cascade::v1::BenchForwarderRun>* runs) {
  for (const ForwardingResult& r : row) {
    (*runs)[r.forwarder] = ForwarderRunProto(r);
  }
}

}  // namespace cascade::bench
