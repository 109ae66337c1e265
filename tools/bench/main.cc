// relay-bench: Cascade's benchmark harness. Runs named benchmarks, prints a
// table with ratios and targets (met/missed), and writes JSON on request.
// This file reads and checks the flags; each benchmark's driver is its
// *_section.cc, and the report is tools/bench/report.h.
#include <stdlib.h>
#include <sys/resource.h>

#include <cstdio>
#include <functional>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "base/flags.h"
#include "tools/bench/controller_section.h"
#include "tools/bench/failover_section.h"
#include "tools/bench/forwarder_cases.h"
#include "tools/bench/forwarding_section.h"
#include "tools/bench/join_section.h"
#include "tools/bench/latency_section.h"
#include "tools/bench/machine.h"
#include "tools/bench/max_fanout_section.h"
#include "tools/bench/report.h"
#include "tools/bench/whep_section.h"

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
          "forwarding: which forwarders to measure: relayd (at each "
          "--relayd_threads), relayd-tN (only relayd --threads=N), "
          "relayd-uring and relayd-uring-tN (the same with "
          "--send_path=io_uring), sendmmsg, gso, gstreamer");
ABSL_FLAG(std::vector<std::string>, relayd_threads, {},
          "forwarding, latency, max_fanout: the relayd --threads values to "
          "compare, e.g. 1,2,4 (1 is the single loop of every older figure); "
          "empty: 1 and this machine's cores");
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
          "most of it the 333 s lease: docs/BENCHMARKS.md); 0: not run");
ABSL_FLAG(int, controller_plan_nodes, 0,
          "controller: also seed topologyd with a synthetic topology of this "
          "many nodes and no watchers, then fail its largest province through "
          "the Admin API: memory and planning time at a size this machine "
          "cannot play (1000000 is the issue's size); 0: off");
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
ABSL_FLAG(int, whep_max_viewers, 1600,
          "whep: the viewer search doubles from 50 up to this many");
ABSL_FLAG(int, whep_viewers_per_probe, 200,
          "whep: viewers in one relay-probe process");
ABSL_FLAG(double, whep_window_seconds, 5,
          "whep: seconds of relayd CPU measured per viewer count");
ABSL_FLAG(absl::Duration, whep_search_budget, absl::Minutes(2),
          "whep: no new viewer count is tried after this long");
ABSL_FLAG(int, whep_join_viewers, 500,
          "whep: viewers joining at once (four relay-probe processes)");

namespace cascade::bench {
namespace {

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

// --relayd_threads, or 1 and the cores when it is empty.
absl::StatusOr<std::vector<int>> RelaydThreads() {
  std::vector<int> threads;
  for (const std::string& text : absl::GetFlag(FLAGS_relayd_threads)) {
    int n = 0;
    if (!absl::SimpleAtoi(text, &n) || n < 1 || n > 64) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--relayd_threads: '", text, "' is not a thread count in 1..64"));
    }
    if (!absl::c_linear_search(threads, n)) threads.push_back(n);
  }
  if (threads.empty()) {
    threads.push_back(1);
    const int cores = std::min(64, ReadMachineRecord().cores);
    if (cores > 1) threads.push_back(cores);
  }
  return threads;
}

absl::StatusOr<ForwardingOptions> ForwardingFlags() {
  ForwardingOptions options;
  absl::StatusOr<std::vector<int>> threads = RelaydThreads();
  if (!threads.ok()) return threads.status();
  // "relayd" and "relayd-uring" stand for relayd at each thread count.
  for (const std::string& name : absl::GetFlag(FLAGS_forwarders)) {
    if (name != "relayd" && name != "relayd-uring") {
      options.forwarders.push_back(name);
      continue;
    }
    for (int n : *threads) {
      options.forwarders.push_back(RelaydForwarderName(n, name != "relayd"));
    }
  }
  for (const std::string& name : options.forwarders) {
    if (!IsForwarderName(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--forwarders: unknown '", name,
                       "' (known: relayd, relayd-tN for N send threads, "
                       "relayd-uring, relayd-uring-tN, sendmmsg, gso, "
                       "gstreamer)"));
    }
  }
  absl::StatusOr<std::vector<int>> fanouts =
      ParseFanouts(absl::GetFlag(FLAGS_fanouts), "fanouts");
  if (!fanouts.ok()) return fanouts.status();
  options.fanouts = *std::move(fanouts);
  options.seconds = absl::GetFlag(FLAGS_seconds);
  if (!(options.seconds > 0 && options.seconds <= 60)) {
    return absl::InvalidArgumentError("--seconds: in (0, 60]");
  }
  options.repeat = absl::GetFlag(FLAGS_repeat);
  if (options.repeat < 1 || options.repeat > 15) {
    return absl::InvalidArgumentError("--repeat: in 1..15");
  }
  options.out_pps = absl::GetFlag(FLAGS_out_pps);
  options.min_input_pps = absl::GetFlag(FLAGS_min_input_pps);
  if (!(options.out_pps > 0 && options.out_pps <= 2e6 &&
        options.min_input_pps > 0 &&
        options.min_input_pps <= options.out_pps)) {
    return absl::InvalidArgumentError(
        "--out_pps in (0, 2e6] and --min_input_pps in (0, out_pps]");
  }
  return options;
}

absl::StatusOr<LatencyOptions> LatencyFlags() {
  LatencyOptions options;
  absl::StatusOr<std::vector<int>> threads = RelaydThreads();
  if (!threads.ok()) return threads.status();
  options.relayd_threads = *std::move(threads);
  absl::StatusOr<std::vector<int>> fanouts =
      ParseFanouts(absl::GetFlag(FLAGS_latency_fanouts), "latency_fanouts");
  if (!fanouts.ok()) return fanouts.status();
  options.fanouts = *std::move(fanouts);
  options.seconds = absl::GetFlag(FLAGS_latency_seconds);
  if (!(options.seconds > 0 && options.seconds <= 30)) {
    return absl::InvalidArgumentError("--latency_seconds: in (0, 30]");
  }
  options.input_pps = absl::GetFlag(FLAGS_latency_input_pps);
  if (!(options.input_pps >= 10 && options.input_pps <= 100000)) {
    return absl::InvalidArgumentError("--latency_input_pps: in [10, 100000]");
  }
  return options;
}

absl::StatusOr<MaxFanoutOptions> MaxFanoutFlags() {
  MaxFanoutOptions options;
  absl::StatusOr<std::vector<int>> threads = RelaydThreads();
  if (!threads.ok()) return threads.status();
  options.relayd_threads = *std::move(threads);
  options.seconds = absl::GetFlag(FLAGS_max_fanout_seconds);
  if (!(options.seconds > 0 && options.seconds <= 60)) {
    return absl::InvalidArgumentError("--max_fanout_seconds: in (0, 60]");
  }
  return options;
}

absl::StatusOr<FailoverOptions> FailoverFlags() {
  FailoverOptions options;
  options.runs = absl::GetFlag(FLAGS_failover_runs);
  if (options.runs < 1 || options.runs > 200) {
    return absl::InvalidArgumentError("--failover_runs: in 1..200");
  }
  options.sites = absl::GetFlag(FLAGS_failover_sites);
  if (options.sites < 1 || options.sites > 1000) {
    return absl::InvalidArgumentError("--failover_sites: in 1..1000");
  }
  return options;
}

absl::StatusOr<JoinOptions> JoinFlags() {
  JoinOptions options;
  options.joins = absl::GetFlag(FLAGS_joins);
  if (options.joins < 1 || options.joins > 100) {
    return absl::InvalidArgumentError("--joins: in 1..100");
  }
  return options;
}

absl::StatusOr<ControllerOptions> ControllerFlags() {
  ControllerOptions options;
  options.nodes = absl::GetFlag(FLAGS_controller_nodes);
  if (options.nodes != 0 && (options.nodes < 100 || options.nodes > 200000)) {
    return absl::InvalidArgumentError(
        "--controller_nodes: 0 (not run) or in 100..200000");
  }
  options.plan_nodes = absl::GetFlag(FLAGS_controller_plan_nodes);
  if (options.plan_nodes != 0 &&
      (options.plan_nodes < 100 || options.plan_nodes > 2000000)) {
    return absl::InvalidArgumentError(
        "--controller_plan_nodes: 0 (off) or in 100..2000000");
  }
  options.runs = absl::GetFlag(FLAGS_controller_runs);
  if (options.runs < 1 || options.runs > 20) {
    return absl::InvalidArgumentError("--controller_runs: in 1..20");
  }
  options.lease = absl::GetFlag(FLAGS_controller_lease);
  if (options.lease < absl::ZeroDuration() ||
      options.lease > absl::Seconds(600)) {
    return absl::InvalidArgumentError("--controller_lease: in [0, 600s]");
  }
  options.south19 = absl::GetFlag(FLAGS_controller_south19);
  return options;
}

absl::StatusOr<WhepOptions> WhepFlags() {
  WhepOptions options;
  options.max_viewers = absl::GetFlag(FLAGS_whep_max_viewers);
  if (options.max_viewers < options.first_viewers ||
      options.max_viewers > 10000) {
    return absl::InvalidArgumentError("--whep_max_viewers: in 50..10000");
  }
  options.viewers_per_probe = absl::GetFlag(FLAGS_whep_viewers_per_probe);
  if (options.viewers_per_probe < 1 || options.viewers_per_probe > 10000) {
    return absl::InvalidArgumentError("--whep_viewers_per_probe: in 1..10000");
  }
  options.window_seconds = absl::GetFlag(FLAGS_whep_window_seconds);
  if (!(options.window_seconds >= 1 && options.window_seconds <= 60)) {
    return absl::InvalidArgumentError("--whep_window_seconds: in [1, 60]");
  }
  options.search_budget = absl::GetFlag(FLAGS_whep_search_budget);
  if (options.search_budget <= absl::ZeroDuration() ||
      options.search_budget > absl::Minutes(30)) {
    return absl::InvalidArgumentError("--whep_search_budget: in (0, 30m]");
  }
  options.join_viewers = absl::GetFlag(FLAGS_whep_join_viewers);
  if (options.join_viewers < 1 || options.join_viewers > 4000) {
    return absl::InvalidArgumentError("--whep_join_viewers: in 1..4000");
  }
  return options;
}

// Runs one benchmark, its options already read from the flags.
using Runner = std::function<absl::Status(Context&)>;

struct Benchmark {
  const char* name;
  const char* what;
  // Reads and checks the benchmark's flags; empty: not implemented yet.
  std::function<absl::StatusOr<Runner>()> from_flags;
};

// A benchmark's flag reader paired with its driver.
template <typename Options>
std::function<absl::StatusOr<Runner>()> FromFlags(
    absl::StatusOr<Options> (*read)(),
    absl::Status (*run)(const Options&, Context&)) {
  return [read, run]() -> absl::StatusOr<Runner> {
    absl::StatusOr<Options> options = read();
    if (!options.ok()) return options.status();
    return Runner([run, options = *std::move(options)](Context& context) {
      return run(options, context);
    });
  };
}

const std::vector<Benchmark>& Benchmarks() {
  static const auto* benchmarks = new std::vector<Benchmark>{
      {"forwarding",
       "CPU per delivered packet, delivered packets/s and loss at fan-out "
       "1/13/100/1000: relayd vs bare sendmmsg and GSO loops and GStreamer",
       FromFlags(ForwardingFlags, RunForwarding)},
      {"max_fanout",
       "largest number of 2 Mbit/s sites one relayd (one core) feeds with no "
       "loss",
       FromFlags(MaxFanoutFlags, RunMaxFanout)},
      {"latency",
       "per-hop added latency p50/p99/max at 10k and 100k delivered pps: "
       "relayd minus the bare GSO loop",
       FromFlags(LatencyFlags, RunLatency)},
      {"join",
       "a site joining mid-stream: activation to first decodable frame, with "
       "and without the relay's keyframe cache",
       FromFlags(JoinFlags, RunJoin)},
      {"failover",
       "longest gap and packets lost at the sites below a killed provincial "
       "relay, over many runs",
       FromFlags(FailoverFlags, RunFailover)},
      {"controller",
       "topologyd: apply time (south19, 100,000 nodes), lease expiry to the "
       "last changed assignment delivered with every node watching, memory",
       FromFlags(ControllerFlags, RunController)},
      {"whep",
       "relayd's browser edge: WHEP viewers of one 2 Mbit/s stream served with "
       "no loss under one core, CPU per packet against plain forwarding, "
       "viewers joining at once",
       FromFlags(WhepFlags, RunWhep)},
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
                  b.from_flags ? "" : " [not implemented yet]");
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
  if (!only.empty() && !selected.front()->from_flags) {
    std::cerr << "relay-bench: benchmark '" << only
              << "' is not implemented yet\n";
    return 1;
  }
  // Every selected benchmark's flags are checked before any of them runs.
  std::vector<std::pair<const char*, Runner>> runners;
  std::vector<std::string> not_measured;
  for (const Benchmark* b : selected) {
    if (!b->from_flags) {
      not_measured.push_back(b->name);
      continue;
    }
    absl::StatusOr<Runner> runner = b->from_flags();
    if (!runner.ok()) {
      std::cerr << "relay-bench: " << b->name << ": "
                << runner.status().message() << "\n";
      return 2;
    }
    runners.emplace_back(b->name, *std::move(runner));
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

  for (const auto& [name, run] : runners) {
    if (absl::Status status = run(context); !status.ok()) {
      std::cerr << "relay-bench: " << name << ": " << status.message() << "\n";
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
