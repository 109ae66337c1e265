#include "tools/bench/latency_section.h"

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
#include "tools/bench/latency.h"

namespace cascade::bench {
namespace {

// Latency of the case `forwarder` in `row`, when it ran and timed packets.
std::optional<LatencySummary> LatencyOf(
    const std::vector<ForwardingResult>& row, const std::string& forwarder) {
  for (const ForwardingResult& r : row) {
    if (r.forwarder == forwarder && r.error.empty() && r.latency.samples > 0) {
      return r.latency;
    }
  }
  return std::nullopt;
}

std::string Micros(double nanos) {
  return absl::StrFormat("%.1f", nanos / 1000);
}

}  // namespace

absl::Status RunLatency(const LatencyOptions& options, Context& context) {
  std::vector<std::string> names;
  for (int threads : options.relayd_threads) {
    names.push_back(RelaydForwarderName(threads));
  }
  names.push_back("gso");
  absl::StatusOr<std::vector<std::unique_ptr<Forwarder>>> made =
      MakeForwarders(names, context);
  if (!made.ok()) return made.status();
  const double seconds = options.seconds;
  const VideoShape shape = VideoShape::ForRate(options.input_pps);

  std::printf(
      "\n== latency: one-way delay blaster -> forwarder -> receiver (send time "
      "in each packet, CLOCK_MONOTONIC, one machine), %.0f pps in as %dx%.0f/s "
      "bursts, %.0f s per case\n",
      shape.packets_per_second(), shape.packets_per_frame,
      shape.frames_per_second, seconds);
  std::printf(
      "gso is the bare fan-out loop: relayd's added latency is relayd minus "
      "gso\n");
  std::printf("%-7s %-10s %13s %9s %9s %10s %10s %10s\n", "fanout", "forwarder",
              "delivered/s", "loss", "samples", "p50 us", "p99 us", "max us");
  std::vector<std::vector<ForwardingResult>> rows;
  for (int fanout : options.fanouts) {
    std::vector<ForwardingResult> row;
    for (const auto& forwarder : *made) {
      const ForwardingResult r =
          RunCase(*forwarder, fanout, shape, seconds, 1, context);
      if (!r.error.empty()) {
        std::printf("%-7d %-10s  not measured: %s\n", fanout,
                    r.forwarder.c_str(), r.error.c_str());
      } else {
        std::printf("%-7d %-10s %13.0f %8.4f%% %9llu %10s %10s %10s\n", fanout,
                    r.forwarder.c_str(), r.delivered_pps, r.loss_ratio * 100,
                    static_cast<unsigned long long>(r.latency.samples),
                    Micros(r.latency.p50_ns).c_str(),
                    Micros(r.latency.p99_ns).c_str(),
                    Micros(r.latency.max_ns).c_str());
      }
      std::fflush(stdout);
      row.push_back(r);
    }
    rows.push_back(std::move(row));
  }

  cascade::v1::BenchLatency& section = *context.report.mutable_latency();
  section.set_seconds_per_case(seconds);
  section.set_input_pps(shape.packets_per_second());
  section.set_packets_per_frame(shape.packets_per_frame);
  std::printf("\nrelayd added latency (relayd - gso):\n");
  for (const auto& row : rows) {
    const int fanout = row.front().fanout;
    const auto relayd = LatencyOf(row, "relayd");
    const auto gso = LatencyOf(row, "gso");
    cascade::v1::BenchLatencyRow& entry = *section.add_results();
    entry.set_fanout(fanout);
    entry.set_delivered_pps_asked(shape.packets_per_second() * fanout);
    if (relayd) {
      entry.set_p50_ns(relayd->p50_ns);
      entry.set_p99_ns(relayd->p99_ns);
      entry.set_max_ns(relayd->max_ns);
    }
    if (gso) {
      entry.set_gso_p50_ns(gso->p50_ns);
      entry.set_gso_p99_ns(gso->p99_ns);
      entry.set_gso_max_ns(gso->max_ns);
    }
    if (relayd && gso) {
      entry.set_added_p50_ns(relayd->p50_ns - gso->p50_ns);
      entry.set_added_p99_ns(relayd->p99_ns - gso->p99_ns);
      entry.set_added_max_ns(relayd->max_ns - gso->max_ns);
      std::printf("  fanout %-5d p50 %s us   p99 %s us   max %s us\n", fanout,
                  Micros(entry.added_p50_ns()).c_str(),
                  Micros(entry.added_p99_ns()).c_str(),
                  Micros(entry.added_max_ns()).c_str());
    } else {
      std::printf("  fanout %-5d n/a (relayd or gso did not run)\n", fanout);
    }
    AddForwarderRuns(row, entry.mutable_forwarders());
  }

  std::printf("\ntargets:\n");
  for (const auto& row : rows) {
    const int fanout = row.front().fanout;
    const auto relayd = LatencyOf(row, "relayd");
    const auto gso = LatencyOf(row, "gso");
    const std::string target = absl::StrFormat(
        "fanout %d (%.0f packets/s out): relayd added p99 under 1 ms", fanout,
        shape.packets_per_second() * fanout);
    if (relayd && gso) {
      const int64_t added = relayd->p99_ns - gso->p99_ns;
      ReportTarget(
          target, added < 1000000,
          absl::StrCat("relayd p99 ", Micros(relayd->p99_ns), " us - gso p99 ",
                       Micros(gso->p99_ns), " us = ", Micros(added), " us"),
          section.mutable_targets());
    } else {
      ReportTarget(target, std::nullopt, "relayd or gso did not run",
                   section.mutable_targets());
    }
  }
  // The last child: every child's packet counts, so at a large fan-out the
  // p99 is how long the last ones wait for theirs.
  for (const auto& row : rows) {
    const int fanout = row.front().fanout;
    if (fanout < 1000) continue;
    for (const std::string& name : names) {
      if (name == "gso") continue;
      const auto latency = LatencyOf(row, name);
      ReportTarget(
          absl::StrFormat("fanout %d: %s per-hop p99 under 3 ms (the last "
                          "child is not late)",
                          fanout, name),
          latency ? std::optional<bool>(latency->p99_ns < 3000000)
                  : std::nullopt,
          latency ? absl::StrCat("p99 ", Micros(latency->p99_ns), " us")
                  : name + " did not run",
          section.mutable_targets());
    }
  }
  return absl::OkStatus();
}

}  // namespace cascade::bench
