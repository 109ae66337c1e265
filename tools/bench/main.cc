// relay-bench: Cascade's benchmark harness. Runs named benchmarks, prints a
// table with ratios and targets (met/missed), and writes JSON on request.
#include <stdlib.h>
#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "base/flags.h"
#include "tools/bench/controller_bench.h"
#include "tools/bench/failover_bench.h"
#include "tools/bench/forwarder.h"
#include "tools/bench/forwarding_bench.h"
#include "tools/bench/join_bench.h"
#include "tools/bench/latency.h"
#include "tools/bench/machine.h"
#include "tools/bench/report.h"

ABSL_FLAG(std::string, only, "",
          "run only this benchmark (names: see --list); default: all");
ABSL_FLAG(bool, list, false, "list the benchmarks and exit");
ABSL_FLAG(std::string, json, "", "also write the figures to this JSON file");
ABSL_FLAG(double, seconds, 4,
          "forwarding: seconds of load per (forwarder, fan-out) case");
ABSL_FLAG(int, repeat, 3,
          "forwarding: runs per case; the table shows the run with the median "
          "CPU per packet and the range over all runs");
ABSL_FLAG(std::vector<std::string>, fanouts,
          std::vector<std::string>({"1", "13", "100", "1000"}),
          "forwarding: comma-separated fan-outs (children per forwarder)");
ABSL_FLAG(double, out_pps, 50000,
          "forwarding: target delivered packets/s; the input rate is "
          "out_pps / fanout (at least --min_input_pps)");
ABSL_FLAG(double, min_input_pps, 200,
          "forwarding: the lowest input rate (one 2 Mbit/s video stream is "
          "about 200 packets/s)");
ABSL_FLAG(std::vector<std::string>, forwarders,
          std::vector<std::string>({"relayd", "sendmmsg", "gso", "gstreamer"}),
          "forwarding: which forwarders to measure");
ABSL_FLAG(double, latency_seconds, 5,
          "latency: seconds of load per (forwarder, fan-out) case");
ABSL_FLAG(double, latency_input_pps, 1000,
          "latency: input packets/s (video-shaped bursts); delivered packets/s "
          "is this times the fan-out");
ABSL_FLAG(double, max_fanout_seconds, 3, "max_fanout: seconds per size");
ABSL_FLAG(int, failover_runs, 20, "failover: runs (each about 8 s)");
ABSL_FLAG(int, joins, 10, "join: joins per case (each up to about 4 s)");
ABSL_FLAG(int, failover_sites, 20, "failover: sites below the district relay");
ABSL_FLAG(std::vector<std::string>, latency_fanouts,
          std::vector<std::string>({"10", "100"}),
          "latency: comma-separated fan-outs (default: 10k and 100k delivered "
          "packets/s from 1,000 packets/s in)");
ABSL_FLAG(int, controller_nodes, 10000,
          "controller: nodes of the synthetic topology (4 tiers, standbys), "
          "each played by one Register + Watch + Report in this process; "
          "100000 is the issue's size (about 10 minutes on 2 shared cores, "
          "most of it the 333 s lease: docs/BENCHMARKS.md)");
ABSL_FLAG(bool, controller_south19, true,
          "controller: also measure the south19 reference topology");
ABSL_FLAG(int, controller_runs, 1,
          "controller: runs per case, each with a fresh topologyd; the push "
          "targets are judged on the slowest run");
ABSL_FLAG(absl::Duration, controller_lease, absl::ZeroDuration(),
          "controller: topologyd's --lease-timeout (it ticks every tenth); "
          "0: 3s for south19, and for the synthetic topology 3s or 1s per "
          "300 nodes if longer, so that connecting every node fits in one "
          "lease on this machine");

namespace cascade::bench {
namespace {

std::unique_ptr<Forwarder> MakeForwarder(const std::string& name,
                                         const std::string& argv0) {
  if (name == "sendmmsg" || name == "gso") {
    return MakeBaselineForwarder(
        FindBuiltBinary(argv0, "tools/bench/fanout-baseline"), name);
  }
  if (name == "gstreamer") return MakeGStreamerForwarder();
  if (name == "relayd") {
    return MakeRelaydForwarder(FindBuiltBinary(argv0, "relay/relayd"));
  }
  return nullptr;
}

// ns per packet of `forwarder` at one fan-out, when that case ran.
std::optional<double> NsPerPacket(const std::vector<ForwardingResult>& row,
                                  const std::string& forwarder) {
  for (const ForwardingResult& r : row) {
    if (r.forwarder == forwarder && r.error.empty() && r.delivered > 0) {
      return r.ns_per_packet;
    }
  }
  return std::nullopt;
}

std::string Ratio(std::optional<double> a, std::optional<double> b) {
  if (!a || !b || *b <= 0) return "n/a";
  return absl::StrFormat("%.2fx", *a / *b);
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
  return run;
}

// Every forwarder's case of one fan-out, by name.
void AddForwarderRuns(
    const std::vector<ForwardingResult>& row,
    google::protobuf::Map<std::string, cascade::v1::BenchForwarderRun>* runs) {
  for (const ForwardingResult& r : row)
    (*runs)[r.forwarder] = ForwarderRunProto(r);
}

// Bars of CPU ns per delivered packet, one per (fan-out, forwarder), scaled
// to the largest: the figure docs/BENCHMARKS.md shows.
void PrintPlot(const std::vector<std::vector<ForwardingResult>>& rows) {
  constexpr int kWidth = 50;
  double largest = 0;
  for (const auto& row : rows) {
    for (const ForwardingResult& r : row) {
      if (r.error.empty()) largest = std::max(largest, r.ns_per_packet);
    }
  }
  if (largest <= 0) return;
  std::printf("\nCPU ns per delivered packet (each # = %.0f ns):\n",
              largest / kWidth);
  for (const auto& row : rows) {
    for (const ForwardingResult& r : row) {
      if (!r.error.empty()) continue;
      const int length =
          static_cast<int>(std::lround(r.ns_per_packet / largest * kWidth));
      std::printf("  %5d %-10s %-*s %.0f\n", r.fanout, r.forwarder.c_str(),
                  kWidth, std::string(std::max(1, length), '#').c_str(),
                  r.ns_per_packet);
    }
  }
}

// The named forwarders, each recorded with its version in `context`.
absl::StatusOr<std::vector<std::unique_ptr<Forwarder>>> MakeForwarders(
    const std::vector<std::string>& names, Context& context) {
  std::vector<std::unique_ptr<Forwarder>> forwarders;
  for (const std::string& name : names) {
    std::unique_ptr<Forwarder> forwarder = MakeForwarder(name, context.argv0);
    if (forwarder == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("--forwarders: unknown '", name,
                       "' (known: relayd, sendmmsg, gso, gstreamer)"));
    }
    context.versions[name] =
        forwarder->version().empty()
            ? "unavailable: " + forwarder->unavailable_reason()
            : forwarder->version();
    forwarders.push_back(std::move(forwarder));
  }
  return forwarders;
}

absl::StatusOr<std::vector<int>> ParseFanouts(
    const std::vector<std::string>& texts, const std::string& flag) {
  std::vector<int> fanouts;
  for (const std::string& text : texts) {
    int fanout = 0;
    if (!absl::SimpleAtoi(text, &fanout) || fanout < 1 || fanout > 4000) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", flag, ": '", text, "' is not a count in 1..4000"));
    }
    fanouts.push_back(fanout);
  }
  return fanouts;
}

// One case per repetition with a fresh process; the median run, or the
// forwarder's reason when it cannot run here.
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

absl::Status RunForwarding(Context& context) {
  absl::StatusOr<std::vector<std::unique_ptr<Forwarder>>> made =
      MakeForwarders(absl::GetFlag(FLAGS_forwarders), context);
  if (!made.ok()) return made.status();
  const std::vector<std::unique_ptr<Forwarder>>& forwarders = *made;
  absl::StatusOr<std::vector<int>> parsed =
      ParseFanouts(absl::GetFlag(FLAGS_fanouts), "fanouts");
  if (!parsed.ok()) return parsed.status();
  const std::vector<int>& fanouts = *parsed;
  const double seconds = absl::GetFlag(FLAGS_seconds);
  if (!(seconds > 0 && seconds <= 60)) {
    return absl::InvalidArgumentError("--seconds: in (0, 60]");
  }
  const int repeat = absl::GetFlag(FLAGS_repeat);
  if (repeat < 1 || repeat > 15) {
    return absl::InvalidArgumentError("--repeat: in 1..15");
  }
  const double out_pps = absl::GetFlag(FLAGS_out_pps);
  const double min_input_pps = absl::GetFlag(FLAGS_min_input_pps);
  if (!(out_pps > 0 && out_pps <= 2e6 && min_input_pps > 0 &&
        min_input_pps <= out_pps)) {
    return absl::InvalidArgumentError(
        "--out_pps in (0, 2e6] and --min_input_pps in (0, out_pps]");
  }

  std::printf(
      "\n== forwarding: video-shaped RTP (1200-byte packets, shorter last per "
      "frame) into one forwarder, %.0f s per run, median of %d runs\n",
      seconds, repeat);
  std::printf(
      "in pps: the load asked for; sent/s: what the blaster achieved on this "
      "machine\n");
  std::printf(
      "loss columns: total, then the kernel's drops at the forwarder's input "
      "socket (in) and at the receivers (rx: the harness fell behind)\n");
  std::printf(
      "%-7s %-10s %9s %10s %9s %13s %9s %7s %7s %6s %9s %13s %10s %7s\n",
      "fanout", "forwarder", "in pps", "frame", "sent/s", "delivered/s", "loss",
      "in", "rx", "cpu", "ns/pkt", "range", "pkt/s/core", "vs gso");
  std::vector<std::vector<ForwardingResult>> rows;
  for (int fanout : fanouts) {
    const VideoShape shape =
        VideoShape::ForRate(InputRate(fanout, out_pps, min_input_pps));
    std::vector<ForwardingResult> row;
    for (const auto& forwarder : forwarders) {
      const ForwardingResult result =
          RunCase(*forwarder, fanout, shape, seconds, repeat, context);
      row.push_back(result);
      const std::string frame = absl::StrFormat(
          "%dx%.0f/s", shape.packets_per_frame, shape.frames_per_second);
      if (!result.error.empty()) {
        std::printf("%-7d %-10s %9.0f %10s  not measured: %s\n", fanout,
                    result.forwarder.c_str(), shape.packets_per_second(),
                    frame.c_str(), result.error.c_str());
      } else {
        std::printf(
            "%-7d %-10s %9.0f %10s %9.0f %13.0f %8.4f%% %7llu %7llu %5.0f%% "
            "%9.0f %13s %10.0f %7s\n",
            fanout, result.forwarder.c_str(), shape.packets_per_second(),
            frame.c_str(), result.sent / std::max(1e-9, result.seconds),
            result.delivered_pps, result.loss_ratio * 100,
            static_cast<unsigned long long>(result.input_drops),
            static_cast<unsigned long long>(result.receiver_drops),
            result.cpu_share * 100, result.ns_per_packet,
            absl::StrFormat("%.0f-%.0f", result.ns_min, result.ns_max).c_str(),
            result.ns_per_packet > 0 ? 1e9 / result.ns_per_packet : 0,
            Ratio(result.ns_per_packet, NsPerPacket(row, "gso")).c_str());
      }
      std::fflush(stdout);
    }
    rows.push_back(std::move(row));
  }

  std::printf(
      "\nratios of CPU per delivered packet (lower is better for the "
      "first name):\n");
  for (const auto& row : rows) {
    const auto gso = NsPerPacket(row, "gso");
    const auto sendmmsg = NsPerPacket(row, "sendmmsg");
    const auto gstreamer = NsPerPacket(row, "gstreamer");
    const auto relayd = NsPerPacket(row, "relayd");
    std::printf(
        "  fanout %-5d sendmmsg/gso %-7s gstreamer/gso %-7s relayd/gso %-7s "
        "gstreamer/relayd %-7s\n",
        row.front().fanout, Ratio(sendmmsg, gso).c_str(),
        Ratio(gstreamer, gso).c_str(), Ratio(relayd, gso).c_str(),
        Ratio(gstreamer, relayd).c_str());
  }

  PrintPlot(rows);

  cascade::v1::BenchForwarding& section = *context.report.mutable_forwarding();
  section.set_seconds_per_case(seconds);
  section.set_runs_per_case(repeat);
  section.set_out_pps(out_pps);
  std::printf("\ntargets:\n");
  auto report = [&](const std::string& target, std::optional<bool> met,
                    const std::string& detail) {
    ReportTarget(target, met, detail, section.mutable_targets());
  };
  for (const auto& row : rows) {
    const int fanout = row.front().fanout;
    const auto relayd = NsPerPacket(row, "relayd");
    std::optional<double> best_bare;
    for (const char* bare : {"gso", "sendmmsg"}) {
      if (auto ns = NsPerPacket(row, bare);
          ns && (!best_bare || *ns < *best_bare)) {
        best_bare = ns;
      }
    }
    const std::string target =
        absl::StrCat("fanout ", fanout,
                     ": relayd CPU/packet within 1.5x of the best bare loop");
    if (relayd && best_bare) {
      report(target, *relayd <= 1.5 * *best_bare,
             absl::StrCat("relayd/best bare = ", Ratio(relayd, best_bare)));
    } else {
      report(target, std::nullopt, "relayd or both bare loops did not run");
    }
    if (fanout == 13 || fanout == 100) {
      const auto gstreamer = NsPerPacket(row, "gstreamer");
      const std::string vs_gst = absl::StrCat(
          "fanout ", fanout, ": relayd at least 2x better than GStreamer");
      if (relayd && gstreamer) {
        report(vs_gst, *gstreamer >= 2 * *relayd,
               absl::StrCat("gstreamer/relayd = ", Ratio(gstreamer, relayd)));
      } else {
        report(vs_gst, std::nullopt, "relayd or gstreamer did not run");
      }
    }
  }

  for (const auto& row : rows) {
    cascade::v1::BenchForwardingRow& entry = *section.add_results();
    const VideoShape& shape = row.front().shape;
    entry.set_fanout(row.front().fanout);
    entry.set_input_pps(shape.packets_per_second());
    entry.set_packets_per_frame(shape.packets_per_frame);
    entry.set_frames_per_second(shape.frames_per_second);
    for (const ForwardingResult& r : row) {
      if (r.forwarder == "relayd" && r.error.empty()) {
        entry.set_delivered_pps(r.delivered_pps);
        entry.set_loss_ratio(r.loss_ratio);
      }
    }
    if (auto ns = NsPerPacket(row, "relayd")) entry.set_ns_per_packet(*ns);
    if (auto ns = NsPerPacket(row, "sendmmsg")) {
      entry.set_sendmmsg_ns_per_packet(*ns);
    }
    if (auto ns = NsPerPacket(row, "gso")) entry.set_gso_ns_per_packet(*ns);
    if (auto ns = NsPerPacket(row, "gstreamer")) {
      entry.set_gstreamer_ns_per_packet(*ns);
    }
    AddForwarderRuns(row, entry.mutable_forwarders());
  }
  return absl::OkStatus();
}

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

// Per-hop latency: relayd and the bare GSO loop on the same load; relayd's
// added latency is the difference of their percentiles.
absl::Status RunLatency(Context& context) {
  absl::StatusOr<std::vector<std::unique_ptr<Forwarder>>> made =
      MakeForwarders({"relayd", "gso"}, context);
  if (!made.ok()) return made.status();
  absl::StatusOr<std::vector<int>> fanouts =
      ParseFanouts(absl::GetFlag(FLAGS_latency_fanouts), "latency_fanouts");
  if (!fanouts.ok()) return fanouts.status();
  const double seconds = absl::GetFlag(FLAGS_latency_seconds);
  if (!(seconds > 0 && seconds <= 30)) {
    return absl::InvalidArgumentError("--latency_seconds: in (0, 30]");
  }
  const double input_pps = absl::GetFlag(FLAGS_latency_input_pps);
  if (!(input_pps >= 10 && input_pps <= 100000)) {
    return absl::InvalidArgumentError("--latency_input_pps: in [10, 100000]");
  }
  const VideoShape shape = VideoShape::ForRate(input_pps);

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
  for (int fanout : *fanouts) {
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
  return absl::OkStatus();
}

// Max fan-out: the most 2 Mbit/s sites one relayd (one loop thread, so one
// core) feeds with no loss; doubling, then halving the interval.
absl::Status RunMaxFanout(Context& context) {
  absl::StatusOr<std::vector<std::unique_ptr<Forwarder>>> made =
      MakeForwarders({"relayd"}, context);
  if (!made.ok()) return made.status();
  const Forwarder& relayd = *made->front();
  const double seconds = absl::GetFlag(FLAGS_max_fanout_seconds);
  if (!(seconds > 0 && seconds <= 60)) {
    return absl::InvalidArgumentError("--max_fanout_seconds: in (0, 60]");
  }
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

// Failover: the provincial relay of a small tree killed mid-stream, many
// times; the sites' longest gap and lost packets per run.
absl::Status RunFailover(Context& context) {
  const int runs = absl::GetFlag(FLAGS_failover_runs);
  const int sites = absl::GetFlag(FLAGS_failover_sites);
  if (runs < 1 || runs > 200) {
    return absl::InvalidArgumentError("--failover_runs: in 1..200");
  }
  if (sites < 1 || sites > 1000) {
    return absl::InvalidArgumentError("--failover_sites: in 1..1000");
  }
  FailoverSetup setup;
  setup.sites = sites;
  absl::StatusOr<TreeBinaries> binaries = FindTreeBinaries(context.argv0);
  if (!binaries.ok()) return binaries.status();
  setup.binaries = *binaries;
  std::printf(
      "\n== failover: source -> N -> P1 (killed) / P2 (standby) -> D -> %d "
      "relay-probe sites; %.0f s of %d kbit/s video + audio, SIGKILL of P1 "
      "after %.0f s; %d runs\n",
      sites, absl::ToDoubleSeconds(setup.stream), setup.video_kbps,
      absl::ToDoubleSeconds(setup.kill_after), runs);
  std::printf("%-4s %12s %8s %12s %6s\n", "run", "longest gap", "lost",
              "packets/site", "PLIs");
  std::vector<double> gaps;
  int64_t lost = 0;
  cascade::v1::BenchFailover& section = *context.report.mutable_failover();
  for (int i = 0; i < runs; ++i) {
    setup.work_dir = absl::StrCat(context.work_dir, "/failover-", i);
    absl::StatusOr<FailoverRun> run = RunFailoverOnce(setup);
    if (!run.ok()) {
      std::printf("%-4d not measured: %s\n", i + 1,
                  std::string(run.status().message()).c_str());
      continue;
    }
    std::printf("%-4d %9.0f ms %8lld %12lld %6lld\n", i + 1,
                run->longest_gap_ms, static_cast<long long>(run->lost),
                static_cast<long long>(run->packets_per_site),
                static_cast<long long>(run->plis));
    std::fflush(stdout);
    gaps.push_back(run->longest_gap_ms);
    lost += run->lost;
    cascade::v1::BenchFailoverRun& entry = *section.add_results();
    entry.set_longest_gap_ms(run->longest_gap_ms);
    entry.set_lost(static_cast<int32_t>(run->lost));
    entry.set_packets_per_site(static_cast<int32_t>(run->packets_per_site));
    entry.set_plis(static_cast<int32_t>(run->plis));
  }
  ++context.cases_run;
  section.set_runs(runs);
  section.set_sites(sites);
  section.set_lost(static_cast<int32_t>(lost));
  std::optional<double> median, worst;
  if (!gaps.empty()) {
    std::sort(gaps.begin(), gaps.end());
    median = gaps[gaps.size() / 2];
    worst = gaps.back();
    section.set_median_gap_ms(*median);
    section.set_max_gap_ms(*worst);
    std::printf(
        "longest gap: median %.0f ms, max %.0f ms over %zu runs; %lld "
        "packets lost in all\n",
        *median, *worst, gaps.size(), static_cast<long long>(lost));
  }
  std::printf("\ntargets:\n");
  const bool measured = static_cast<int>(gaps.size()) == runs;
  const std::string why_not = "some runs did not complete (see above)";
  ReportTarget(
      "failover: max gap under 500 ms",
      measured ? std::optional<bool>(*worst < 500) : std::nullopt,
      measured ? absl::StrFormat("max %.0f ms, median %.0f ms", *worst, *median)
               : why_not,
      section.mutable_targets());
  ReportTarget(
      "failover: zero packets lost",
      measured ? std::optional<bool>(lost == 0) : std::nullopt,
      measured ? absl::StrCat(lost, " lost over ", runs, " runs") : why_not,
      section.mutable_targets());
  return absl::OkStatus();
}

// Join: a site joining a running stream, with and without the relay's
// keyframe cache; time to its first decodable picture.
absl::Status RunJoin(Context& context) {
  const int joins = absl::GetFlag(FLAGS_joins);
  if (joins < 1 || joins > 100) {
    return absl::InvalidArgumentError("--joins: in 1..100");
  }
  JoinSetup setup;
  setup.joins = joins;
  absl::StatusOr<TreeBinaries> binaries = FindTreeBinaries(context.argv0);
  if (!binaries.ok()) return binaries.status();
  setup.binaries = *binaries;
  std::printf(
      "\n== join: relay-source (GOP %.0f s) -> relayd -> a site joining at a "
      "random point of the GOP, %d joins per case, no PLI from the site; time "
      "from the site's start (activation) to its first decoded picture\n",
      absl::ToDoubleSeconds(setup.gop), joins);
  std::printf("%-16s %6s %10s %10s %10s\n", "case", "joins", "median ms",
              "max ms", "no picture");
  std::map<bool, std::vector<double>> times;
  cascade::v1::BenchJoin& section = *context.report.mutable_join();
  section.set_gop_s(absl::ToDoubleSeconds(setup.gop));
  for (const bool cache : {true, false}) {
    setup.keyframe_cache = cache;
    setup.work_dir =
        absl::StrCat(context.work_dir, cache ? "/join-cache" : "/join-none");
    absl::StatusOr<JoinResult> result = RunJoins(setup);
    const char* name = cache ? "keyframe cache" : "no cache";
    if (!result.ok()) {
      std::printf("%-16s not measured: %s\n", name,
                  std::string(result.status().message()).c_str());
      continue;
    }
    std::vector<double>& t = times[cache];
    t = result->first_frame_ms;
    std::sort(t.begin(), t.end());
    std::optional<double> median, worst;
    if (!t.empty()) {
      median = t[t.size() / 2];
      worst = t.back();
    }
    std::printf("%-16s %6zu %10s %10s %10d\n", name, t.size(),
                median ? absl::StrFormat("%.0f", *median).c_str() : "-",
                worst ? absl::StrFormat("%.0f", *worst).c_str() : "-",
                result->failed);
    std::fflush(stdout);
    cascade::v1::BenchJoinCase& entry = *section.add_results();
    entry.set_keyframe_cache(cache);
    entry.set_joins(joins);
    entry.set_no_picture(result->failed);
    if (median) entry.set_median_ms(*median);
    if (worst) entry.set_max_ms(*worst);
    entry.mutable_first_frame_ms()->Add(t.begin(), t.end());
  }
  ++context.cases_run;
  std::printf("\ntargets:\n");
  const std::vector<double>& cached = times[true];
  const bool measured = static_cast<int>(cached.size()) == joins;
  ReportTarget(
      "join: first decodable frame under 100 ms with the cache",
      measured ? std::optional<bool>(cached.back() < 100) : std::nullopt,
      measured ? absl::StrFormat(
                     "max %.0f ms over %d joins; without "
                     "the cache median %s ms",
                     cached.back(), joins,
                     times[false].empty()
                         ? "-"
                         : absl::StrFormat(
                               "%.0f", times[false][times[false].size() / 2])
                               .c_str())
               : "some joins saw no picture or did not run",
      section.mutable_targets());
  return absl::OkStatus();
}

// Controller: apply time, failover push time and memory of a real topologyd
// with every node of the topology watching.
absl::Status RunController(Context& context) {
  const int nodes = absl::GetFlag(FLAGS_controller_nodes);
  if (nodes < 100 || nodes > 200000) {
    return absl::InvalidArgumentError("--controller_nodes: in 100..200000");
  }
  const int runs = absl::GetFlag(FLAGS_controller_runs);
  if (runs < 1 || runs > 20) {
    return absl::InvalidArgumentError("--controller_runs: in 1..20");
  }
  const absl::Duration lease_flag = absl::GetFlag(FLAGS_controller_lease);
  if (lease_flag < absl::ZeroDuration() || lease_flag > absl::Seconds(600)) {
    return absl::InvalidArgumentError("--controller_lease: in [0, 600s]");
  }
  const std::string topologyd =
      FindBuiltBinary(context.argv0, "topology/topologyd");
  const std::string generator =
      FindBuiltBinary(context.argv0, "topology/reference/generate");
  if (topologyd.empty() || generator.empty()) {
    return absl::FailedPreconditionError(
        "topologyd and the reference generator must be built beside "
        "relay-bench");
  }
  std::vector<ControllerCaseSetup> cases;
  if (absl::GetFlag(FLAGS_controller_south19)) {
    absl::StatusOr<cascade::v1::Topology> south19 =
        ReferenceTopology(generator, "south19");
    if (!south19.ok()) return south19.status();
    ControllerCaseSetup setup;
    setup.name = "south19";
    setup.topology = std::move(*south19);
    setup.lease = absl::Seconds(3);
    cases.push_back(std::move(setup));
  }
  ControllerCaseSetup synthetic;
  synthetic.name = "synthetic";
  synthetic.topology = SyntheticTopology(nodes);
  synthetic.lease = std::max(absl::Seconds(3), absl::Seconds(nodes / 300));
  cases.push_back(std::move(synthetic));

  std::printf(
      "\n== controller: topologyd on 127.0.0.1, fresh state dir; ApplyTopology "
      "timed until it returns (durable); then every node Registers, Watches "
      "(acking each version) and Reports every third of the lease from this "
      "process (asynchronous API on 16 completion queues, many streams per "
      "channel); the largest province stops reporting\n");
  std::printf(
      "push: from the controller's NODE_DOWN event for it (the expiry as the "
      "controller saw it, ms resolution) to the arrival of the last changed "
      "assignment; 'from expiry': from our last report + lease instead, which "
      "adds the controller's lease tick (a tenth of the lease)\n");
  std::printf("%-10s %7s %6s %10s %9s %8s %9s %-18s %7s %8s %8s %9s %9s %8s\n",
              "case", "nodes", "lease", "apply ms", "rss MB", "watchers",
              "connect s", "victim", "changed", "received", "push ms",
              "first ms", "expiry ms", "peak MB");
  cascade::v1::BenchController& section = *context.report.mutable_controller();
  // Every run of each case that ran.
  std::map<std::string, std::vector<ControllerCaseResult>> results;
  for (ControllerCaseSetup& setup : cases) {
    if (lease_flag > absl::ZeroDuration()) setup.lease = lease_flag;
    setup.topologyd = topologyd;
    for (int run_index = 0; run_index < runs; ++run_index) {
      setup.work_dir = absl::StrCat(context.work_dir, "/controller-",
                                    setup.name, "-", run_index + 1);
      absl::StatusOr<ControllerCaseResult> run = RunControllerCase(setup);
      if (!run.ok()) {
        std::printf("%-10s not measured: %s\n", setup.name.c_str(),
                    std::string(run.status().message()).c_str());
        continue;
      }
      const ControllerCaseResult& r = *run;
      auto ms = [](std::optional<double> v) {
        return v ? absl::StrFormat("%.1f", *v) : std::string("-");
      };
      std::printf(
          "%-10s %7d %5.0fs %10s %9.1f %8d %9.1f %-18s %7lld %8lld %8s %9s %9s "
          "%8.1f\n",
          setup.name.c_str(), r.nodes, absl::ToDoubleSeconds(setup.lease),
          r.apply_ms ? ms(r.apply_ms).c_str() : "refused",
          r.rss_after_apply_kb / 1024.0, r.watchers, r.connect_s,
          r.victim.c_str(), static_cast<long long>(r.changed),
          static_cast<long long>(r.received), ms(r.push_ms).c_str(),
          ms(r.first_push_ms).c_str(), ms(r.push_from_expiry_ms).c_str(),
          r.peak_rss_kb / 1024.0);
      if (!r.apply_error.empty()) {
        std::printf(
            "  apply: %s; seeded with --topology=FILE instead: %.0f ms "
            "from spawn to serving\n",
            r.apply_error.c_str(), r.seed_ms.value_or(0));
      }
      if (!r.failover_error.empty()) {
        std::printf("  failover push not measured: %s\n",
                    r.failover_error.c_str());
      }
      std::fflush(stdout);
      cascade::v1::BenchControllerRun& entry = *section.add_results();
      entry.set_case_(setup.name);
      entry.set_nodes(r.nodes);
      entry.set_lease_ms(
          static_cast<int32_t>(absl::ToInt64Milliseconds(setup.lease)));
      if (r.apply_ms) entry.set_apply_ms(*r.apply_ms);
      entry.set_apply_error(r.apply_error);
      if (r.seed_ms) entry.set_seed_ms(*r.seed_ms);
      entry.set_rss_after_apply_kb(static_cast<int32_t>(r.rss_after_apply_kb));
      entry.set_watchers(r.watchers);
      entry.set_connect_s(r.connect_s);
      entry.set_victim(r.victim);
      entry.set_assignments_changed(static_cast<int32_t>(r.changed));
      entry.set_assignments_received(static_cast<int32_t>(r.received));
      if (r.push_ms) entry.set_push_ms(*r.push_ms);
      if (r.first_push_ms) entry.set_first_push_ms(*r.first_push_ms);
      if (r.push_from_expiry_ms) {
        entry.set_push_from_expiry_ms(*r.push_from_expiry_ms);
      }
      entry.set_failover_error(r.failover_error);
      entry.set_rss_kb(static_cast<int32_t>(r.rss_kb));
      entry.set_peak_rss_kb(static_cast<int32_t>(r.peak_rss_kb));
      entry.set_run(run_index + 1);
      results[setup.name].push_back(r);
    }
  }
  ++context.cases_run;

  std::printf("\ntargets:\n");
  // Judged on the slowest run; a run without a push time makes the target
  // not measured (its reason is shown).
  auto push_target = [&](const std::string& target, const std::string& name,
                         int min_nodes, double limit_ms) {
    auto it = results.find(name);
    if (it == results.end()) {
      ReportTarget(target, std::nullopt, "case did not run",
                   section.mutable_targets());
      return;
    }
    std::vector<double> push_ms;
    int64_t changed = 0;
    for (const ControllerCaseResult& r : it->second) {
      if (!r.push_ms) {
        ReportTarget(target, std::nullopt, r.failover_error,
                     section.mutable_targets());
        return;
      }
      push_ms.push_back(*r.push_ms);
      changed = std::max(changed, r.changed);
    }
    std::sort(push_ms.begin(), push_ms.end());
    const std::string figures =
        push_ms.size() == 1
            ? absl::StrFormat("%.1f ms", push_ms[0])
            : absl::StrFormat("median %.1f ms, max %.1f ms over %d runs",
                              (push_ms[(push_ms.size() - 1) / 2] +
                               push_ms[push_ms.size() / 2]) /
                                  2,
                              push_ms.back(), static_cast<int>(push_ms.size()));
    const int nodes_run = it->second.front().nodes;
    if (nodes_run < min_nodes) {
      ReportTarget(
          target, std::nullopt,
          absl::StrFormat("ran at %d nodes only: %s", nodes_run, figures),
          section.mutable_targets());
      return;
    }
    ReportTarget(target, push_ms.back() < limit_ms,
                 absl::StrFormat("%s for up to %lld changed assignments, %d "
                                 "watching nodes",
                                 figures, static_cast<long long>(changed),
                                 it->second.front().watchers),
                 section.mutable_targets());
  };
  push_target("controller: failover push under 100 ms at 2,594 sites",
              "south19", 2594, 100);
  push_target("controller: failover push under 1 s at 100,000 nodes",
              "synthetic", 100000, 1000);
  return absl::OkStatus();
}

struct Benchmark {
  const char* name;
  const char* what;
  std::function<absl::Status(Context&)> run;  // empty: not implemented yet
};

const std::vector<Benchmark>& Benchmarks() {
  static const auto* benchmarks = new std::vector<Benchmark>{
      {"forwarding",
       "CPU per delivered packet, delivered packets/s and loss at fan-out "
       "1/13/100/1000: relayd vs bare sendmmsg and GSO loops and GStreamer",
       RunForwarding},
      {"max_fanout",
       "largest number of 2 Mbit/s sites one relayd (one core) feeds with no "
       "loss",
       RunMaxFanout},
      {"latency",
       "per-hop added latency p50/p99/max at 10k and 100k delivered pps: "
       "relayd minus the bare GSO loop",
       RunLatency},
      {"join",
       "a site joining mid-stream: activation to first decodable frame, with "
       "and without the relay's keyframe cache",
       RunJoin},
      {"failover",
       "longest gap and packets lost at the sites below a killed provincial "
       "relay, over many runs",
       RunFailover},
      {"controller",
       "topologyd: apply time (south19, 100,000 nodes), lease expiry to the "
       "last changed assignment delivered with every node watching, memory",
       RunController},
  };
  return *benchmarks;
}

void RaiseFileLimit() {
  // 1,000 receiver sockets need more than the usual 1,024 soft limit leaves.
  rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 &&
      limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

int Main(const std::string& argv0) {
  if (absl::GetFlag(FLAGS_list)) {
    for (const Benchmark& b : Benchmarks()) {
      std::printf("%-11s %s%s\n", b.name, b.what,
                  b.run ? "" : " [not implemented yet]");
    }
    return 0;
  }
  const std::string only = absl::GetFlag(FLAGS_only);
  std::vector<const Benchmark*> selected;
  for (const Benchmark& b : Benchmarks()) {
    if (only.empty() || only == b.name) selected.push_back(&b);
  }
  if (selected.empty()) {
    std::cerr << "relay-bench: --only: no benchmark named '" << only
              << "' (see --list)\n";
    return 2;
  }
  if (!only.empty() && !selected.front()->run) {
    std::cerr << "relay-bench: benchmark '" << only
              << "' is not implemented yet\n";
    return 1;
  }

  RaiseFileLimit();
  Context context;
  context.argv0 = argv0;
  char work_dir[] = "/tmp/relay-bench.XXXXXX";
  if (mkdtemp(work_dir) == nullptr) {
    std::cerr << "relay-bench: cannot create a work directory in /tmp\n";
    return 1;
  }
  context.work_dir = work_dir;

  const MachineRecord machine = ReadMachineRecord();
  std::printf("machine: %s, %d cores, %s, load %s, %s\n",
              machine.cpu_model.c_str(), machine.cores, machine.kernel.c_str(),
              machine.load_average.c_str(), machine.started_utc.c_str());
  std::printf("built with: %s\n", machine.compiler.c_str());
  std::printf("logs and configs: %s\n", context.work_dir.c_str());

  std::vector<std::string> not_measured;
  for (const Benchmark* b : selected) {
    if (!b->run) {
      not_measured.push_back(b->name);
      continue;
    }
    if (absl::Status status = b->run(context); !status.ok()) {
      std::cerr << "relay-bench: " << b->name << ": " << status.message()
                << "\n";
      return 2;
    }
  }
  std::printf("\ncompared software:\n");
  for (const auto& [name, version] : context.versions) {
    std::printf("  %-10s %s\n", name.c_str(), version.c_str());
  }
  if (!not_measured.empty()) {
    std::printf("not implemented yet (not measured): %s\n",
                absl::StrJoin(not_measured, ", ").c_str());
  }

  const std::string json_path = absl::GetFlag(FLAGS_json);
  if (!json_path.empty()) {
    cascade::v1::BenchReport& report = context.report;
    *report.mutable_machine() = MachineProto(machine);
    for (const auto& [name, version] : context.versions) {
      (*report.mutable_versions())[name] = version;
    }
    for (const std::string& name : not_measured) report.add_not_measured(name);
    if (absl::Status written = WriteReport(report, json_path); !written.ok()) {
      std::cerr << "relay-bench: --json: " << written.message() << "\n";
      return 1;
    }
    std::printf("figures written to %s\n", json_path.c_str());
  }
  return context.cases_run > 0 || selected.size() == not_measured.size() ? 0
                                                                         : 1;
}

}  // namespace
}  // namespace cascade::bench

int main(int argc, char** argv) {
  // Debian's abseil is built without NDEBUG, so every absl::Mutex (gRPC's
  // too) is tracked for deadlock detection in one global graph whose lookups
  // slow down with the number of mutexes: the controller benchmark holds
  // hundreds of thousands of calls, each with its own.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  cascade::ParseFlags(
      argc, argv,
      "relay-bench [--only=NAME] [--json=FILE] [--list]\n"
      "Runs Cascade's benchmarks and prints figures, ratios and targets "
      "(met/missed). Benchmarks are never tests: a missed target is reported, "
      "not failed.");
  return cascade::bench::Main(argv[0]);
}
