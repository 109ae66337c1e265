#include "tools/bench/max_fanout_section.h"

#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/bench/forwarder_cases.h"
#include "tools/bench/forwarding_bench.h"

namespace cascade::bench {

absl::Status RunMaxFanout(const MaxFanoutOptions& options, Context& context) {
  absl::StatusOr<std::vector<std::unique_ptr<Forwarder>>> made =
      MakeForwarders({"relayd"}, context);
  if (!made.ok()) return made.status();
  const Forwarder& relayd = *made->front();
  const double seconds = options.seconds;
  // 2 Mbit/s of 1,200-byte packets: 7 per frame at 30 fps.
  const VideoShape shape = VideoShape::ForRate(2e6 / 8 / 1200);
  constexpr int kLimit = 4000;  // receiver sockets the harness opens
  std::printf(
      "\n== max_fanout: one %.2f Mbit/s stream (%dx%.0f/s packets) into relayd "
      "with N static children; the largest N with no loss, %.0f s per case\n",
      shape.packets_per_second() * shape.packet_bytes * 8 / 1e6,
      shape.packets_per_frame, shape.frames_per_second, seconds);
  std::printf("%-7s %13s %13s %9s %7s %7s %6s\n", "sites", "out pps asked",
              "delivered/s", "loss", "in", "rx", "cpu");
  cascade::v1::BenchMaxFanout& section = *context.report.mutable_max_fanout();
  // What limited the first failing size: the relay or the harness.
  std::string limit = "not reached";
  auto run = [&](int fanout) {
    const ForwardingResult r = RunForwardingCase(
        relayd, fanout, shape, absl::Seconds(seconds), context.work_dir);
    if (!r.error.empty()) {
      std::printf("%-7d not measured: %s\n", fanout, r.error.c_str());
      return false;
    }
    std::printf(
        "%-7d %13.0f %13.0f %8.4f%% %7llu %7llu %5.0f%%\n", fanout,
        shape.packets_per_second() * fanout, r.delivered_pps,
        r.loss_ratio * 100, static_cast<unsigned long long>(r.input_drops),
        static_cast<unsigned long long>(r.receiver_drops), r.cpu_share * 100);
    std::fflush(stdout);
    cascade::v1::BenchMaxFanoutStep& step = *section.add_results();
    step.set_sites(fanout);
    step.set_delivered_pps(r.delivered_pps);
    step.set_loss_ratio(r.loss_ratio);
    step.set_input_drops(static_cast<uint32_t>(r.input_drops));
    step.set_receiver_drops(static_cast<uint32_t>(r.receiver_drops));
    step.set_cpu_share(r.cpu_share);
    const bool ok = r.delivered > 0 && r.loss_ratio == 0;
    if (!ok) {
      limit = r.input_drops > 0 ? "the relay fell behind (drops at its input)"
              : r.receiver_drops > 0
                  ? "the harness's receivers dropped (not the relay)"
                  : absl::StrFormat(
                        "lost between relay and receivers with no socket "
                        "drop counted (send path or kernel; delivered "
                        "plateaued at %.0f/s, relay CPU %.0f%%)",
                        r.delivered_pps, r.cpu_share * 100);
    }
    return ok;
  };
  int good = 0, bad = 0;
  for (int fanout = 125; fanout <= kLimit; fanout *= 2) {
    if (!run(fanout)) {
      bad = fanout;
      break;
    }
    good = fanout;
  }
  // Narrow to within 10%.
  while (bad > 0 && bad - good > good / 10 + 1) {
    const int mid = (good + bad) / 2;
    (run(mid) ? good : bad) = mid;
  }
  ++context.cases_run;
  std::printf(
      "largest fan-out with no loss: %d sites (%.0f packets/s out); "
      "limit: %s\n",
      good, shape.packets_per_second() * good,
      bad > 0 ? limit.c_str() : "the harness's 4000 sockets");
  section.set_site_mbps(shape.packets_per_second() * shape.packet_bytes * 8 /
                        1e6);
  section.set_max_sites(good);
  section.set_limit(limit);
  std::printf("\ntargets:\n");
  ReportTarget(
      "one relay core feeds at least 1,000 sites at 2 Mbit/s with "
      "no loss",
      good > 0 ? std::optional<bool>(good >= 1000) : std::nullopt,
      absl::StrCat(good, " sites; first failure: ",
                   bad > 0 ? absl::StrCat(bad, " sites, ", limit) : "none"),
      section.mutable_targets());
  return absl::OkStatus();
}

}  // namespace cascade::bench
