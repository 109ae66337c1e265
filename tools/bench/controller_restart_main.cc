// controller-restart-bench: topologyd's kill -9 and restart under a whole
// national topology, without the simulation's media (issue 18). topologyd is
// seeded from --topology (the sim's way), every node played by this process
// (controller_fleet.h: Register, Watch and Ack, Report with the parent it
// receives from), then topologyd is killed, started again on its state and
// port, and a fresh fleet reports what it received from until the
// restarted controller has learned and pushed. Prints how long that took,
// how many nodes the first push moved, and where topologyd's time went
// (its /metrics: tick lateness, run-queue waits, the lock's holders) and
// its late-tick lines. --busy_threads spin beside it, as a loaded machine.
#include <httplib.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "base/files.h"
#include "base/flags.h"
#include "google/protobuf/text_format.h"
#include "proto/controller.grpc.pb.h"
#include "tools/bench/controller_bench.h"
#include "tools/bench/controller_fleet.h"
#include "tools/bench/process.h"

ABSL_FLAG(std::string, topologyd, "",
          "topologyd binary (default: beside this one)");
ABSL_FLAG(std::string, topology, "",
          "topology text proto (default: topology/reference/national.textproto "
          "beside this binary)");
ABSL_FLAG(std::string, work_dir, "/tmp/controller-restart",
          "state dir, port files and topologyd's logs");
ABSL_FLAG(absl::Duration, lease, absl::Seconds(3), "topologyd --lease-timeout");
ABSL_FLAG(
    absl::Duration, down_for, absl::Seconds(3),
    "from the kill to the restart (the sim's restart_controller_after_s)");
ABSL_FLAG(int, busy_threads, 0,
          "threads spinning beside the run (a loaded machine)");
ABSL_FLAG(std::vector<std::string>, topologyd_flags, {},
          "more topologyd flags, comma-separated");

namespace cascade::bench {
namespace {

constexpr int kExitUsage = 2;
constexpr int kExitFailed = 1;

struct Scrape {
  std::map<std::string, double> samples;  // "name{labels}" -> value
  double Get(const std::string& key) const {
    auto it = samples.find(key);
    return it == samples.end() ? 0 : it->second;
  }
};

Scrape ScrapeMetrics(const std::string& port_file) {
  Scrape scrape;
  absl::StatusOr<std::string> ports = ReadFile(port_file);
  if (!ports.ok()) return scrape;
  int port = 0;
  for (absl::string_view line : absl::StrSplit(*ports, '\n')) {
    if (absl::ConsumePrefix(&line, "metrics=")) absl::SimpleAtoi(line, &port);
  }
  if (port == 0) return scrape;
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(30, 0);
  httplib::Result result = client.Get("/metrics");
  if (!result || result->status != 200) return scrape;
  for (absl::string_view line : absl::StrSplit(result->body, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    double value = 0;
    if (space == absl::string_view::npos ||
        !absl::SimpleAtod(line.substr(space + 1), &value)) {
      continue;
    }
    scrape.samples[std::string(line.substr(0, space))] = value;
  }
  return scrape;
}

void PrintTiming(const Scrape& s) {
  std::string nodes;
  for (const auto& [key, value] : s.samples) {
    if (absl::StartsWith(key, "topology_nodes{") && value > 0) {
      absl::StrAppend(&nodes, " ", key.substr(15, key.size() - 16), "=", value);
    }
  }
  std::printf("  lease expiries %.0f; nodes:%s\n",
              s.Get("topology_lease_expiries_total"), nodes.c_str());
  std::printf(
      "  ticks %.0f, late %.3f s in all; run-queue wait %.3f s in all\n",
      s.Get("topology_tick_late_seconds_count"),
      s.Get("topology_tick_late_seconds_sum"),
      s.Get("topology_tick_run_queue_wait_seconds_sum"));
  for (const char* op : {"tick", "excuse", "report", "register", "ack", "apply",
                         "recompute", "recompute_all", "push_slice", "offer"}) {
    const std::string l = absl::StrCat("{op=\"", op, "\"}");
    std::printf(
        "  %-13s held %7.0f times, %8.3f s in all; over 1 s: %.0f; waited "
        "%8.3f s in all\n",
        op, s.Get("topology_lock_held_seconds_count" + l),
        s.Get("topology_lock_held_seconds_sum" + l),
        s.Get("topology_lock_held_seconds_count" + l) -
            s.Get(absl::StrCat("topology_lock_held_seconds_bucket{op=\"", op,
                               "\",le=\"1\"}")),
        s.Get("topology_lock_wait_seconds_sum" + l));
  }
}

// topologyd's late-tick lines ("tick X late: ...") and its settle line.
void PrintLogLines(const std::string& log) {
  std::ifstream file(log);
  std::string line;
  for (int printed = 0; std::getline(file, line) && printed < 20;) {
    if (absl::StrContains(line, "] tick ") ||
        absl::StrContains(line, "learned the nodes")) {
      std::printf("  %s\n", line.c_str());
      ++printed;
    }
  }
}

// A file of the build beside this binary (its runfiles or bazel-bin).
std::string Beside(const std::string& argv0, const std::string& path) {
  for (const std::string& candidate :
       {absl::StrCat(argv0, ".runfiles/cascade/", path), path}) {
    if (access(candidate.c_str(), R_OK) == 0) return candidate;
  }
  return "";
}

absl::Status Run(const std::string& argv0) {
  ControllerCaseSetup setup;
  setup.work_dir = absl::GetFlag(FLAGS_work_dir);
  setup.lease = absl::GetFlag(FLAGS_lease);
  setup.topologyd = absl::GetFlag(FLAGS_topologyd);
  if (setup.topologyd.empty()) {
    setup.topologyd = FindBuiltBinary(argv0, "topology/topologyd");
  }
  std::string topology_file = absl::GetFlag(FLAGS_topology);
  if (topology_file.empty()) {
    topology_file = Beside(argv0, "topology/reference/national.textproto");
  }
  absl::StatusOr<std::string> text = ReadFile(topology_file);
  if (!text.ok()) return text.status();
  if (!google::protobuf::TextFormat::ParseFromString(*text, &setup.topology)) {
    return absl::InvalidArgumentError(
        absl::StrCat(topology_file, " is not a Topology text proto"));
  }
  std::filesystem::remove_all(setup.work_dir);
  std::filesystem::create_directories(setup.work_dir);

  std::atomic<bool> busy{true};
  std::vector<std::thread> spinners;
  for (int i = 0; i < absl::GetFlag(FLAGS_busy_threads); ++i) {
    spinners.emplace_back([&busy] {
      while (busy.load(std::memory_order_relaxed)) {
      }
    });
  }
  struct StopSpinners {
    std::atomic<bool>* busy;
    std::vector<std::thread>* spinners;
    ~StopSpinners() {
      busy->store(false);
      for (std::thread& t : *spinners) t.join();
    }
  } stop_spinners{&busy, &spinners};

  std::vector<std::string> flags = {"--metrics=127.0.0.1:0"};
  for (const std::string& f : absl::GetFlag(FLAGS_topologyd_flags)) {
    flags.push_back(f);
  }
  absl::StatusOr<TopologydProcess> first =
      StartTopologyd(setup, "run", topology_file, flags);
  if (!first.ok()) return first.status();
  const int nodes = setup.topology.nodes_size();
  std::printf("%d nodes, lease %s, %d busy threads\n", nodes,
              absl::FormatDuration(setup.lease).c_str(),
              absl::GetFlag(FLAGS_busy_threads));

  std::vector<std::string> before;
  {
    Fleet fleet(first->address, setup.topology, setup.lease);
    const absl::Time start = absl::Now();
    if (absl::Status s = fleet.Connect(start + absl::Seconds(300)); !s.ok()) {
      return s;
    }
    if (absl::Status s =
            fleet.AwaitAssignments(absl::Now() + absl::Seconds(120));
        !s.ok()) {
      return s;
    }
    fleet.AwaitQuiet(absl::Seconds(2), absl::Now() + absl::Seconds(60));
    std::printf("first start: every node assigned %.1f s after connecting\n",
                absl::ToDoubleSeconds(absl::Now() - start));
    PrintTiming(ScrapeMetrics(first->port_file));
    before = fleet.ActiveParents();
    if (absl::Status s = first->process->Signal(SIGKILL); !s.ok()) return s;
    fleet.Shutdown();
  }
  for (const absl::Time deadline = absl::Now() + absl::Seconds(10);
       first->process->Running() && absl::Now() < deadline;) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  absl::SleepFor(absl::GetFlag(FLAGS_down_for));

  // The same state dir and port; no --topology (the state has it).
  flags.push_back("--listen=" + first->address);
  absl::StatusOr<TopologydProcess> second =
      StartTopologyd(setup, "run", "", flags);
  if (!second.ok()) return second.status();
  const absl::Time restarted = absl::Now();
  Fleet fleet(second->address, setup.topology, setup.lease);
  fleet.SetReceivingFrom(before);
  if (absl::Status s = fleet.Connect(restarted + absl::Seconds(300)); !s.ok()) {
    return s;
  }
  const absl::Time connected = absl::Now();
  if (absl::Status s = fleet.AwaitAssignments(absl::Now() + absl::Seconds(120));
      !s.ok()) {
    return s;
  }
  const absl::Time assigned = absl::Now();
  fleet.AwaitQuiet(absl::Seconds(2), absl::Now() + absl::Seconds(60));
  const std::vector<std::string> after = fleet.ActiveParents();
  int moved = 0, moved_sites = 0;
  for (int i = 0; i < nodes; ++i) {
    if (before[i] == after[i]) continue;
    ++moved;
    if (setup.topology.nodes(i).tier() == cascade::v1::TIER_SITE) ++moved_sites;
  }
  const Scrape scrape = ScrapeMetrics(second->port_file);
  std::printf(
      "restart: every node registered %.1f s and assigned %.1f s after the "
      "restart; the first push moved %d nodes (%d sites)\n",
      absl::ToDoubleSeconds(connected - restarted),
      absl::ToDoubleSeconds(assigned - restarted), moved, moved_sites);
  PrintTiming(scrape);
  PrintLogLines(second->log);
  std::printf("logs: %s\n", second->log.c_str());
  second->process->Signal(SIGTERM).IgnoreError();
  return absl::OkStatus();
}

}  // namespace
}  // namespace cascade::bench

int main(int argc, char** argv) {
  cascade::ParseFlags(
      argc, argv,
      "controller-restart-bench [--topology=FILE] [--busy-threads=N]: "
      "topologyd's kill -9 and restart under a whole topology of fake "
      "relays (issue 18)");
  absl::Status status = cascade::bench::Run(argv[0]);
  if (!status.ok()) {
    std::fprintf(stderr, "controller-restart-bench: %s\n",
                 std::string(status.message()).c_str());
    return absl::IsInvalidArgument(status) ? cascade::bench::kExitUsage
                                           : cascade::bench::kExitFailed;
  }
  return 0;
}
