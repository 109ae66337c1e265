// relay-sim: the whole Cascade network on one machine, as real processes in
// a private network namespace, with faults, and a report. See docs/sim.md.
#include <glog/logging.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <cstdlib>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/files.h"
#include "base/flags.h"
#include "google/protobuf/util/json_util.h"
#include "security/identity.h"
#include "tools/sim/browser_bridge.h"
#include "tools/sim/browser_edge.h"
#include "tools/sim/network_plan.h"
#include "tools/sim/private_network.h"
#include "tools/sim/repeat.h"
#include "tools/sim/report.h"
#include "tools/sim/report_files.h"
#include "tools/sim/scenario_file.h"
#include "tools/sim/sim.h"
#include "tools/sim/spread.h"
#include "tools/sim/whep_sites.h"
#include "topology/topology_file.h"

ABSL_FLAG(std::string, scale, "south19",
          "reference topology (topology/reference): south19 (19 provinces, "
          "204 districts, 2,594 sites) or national (63 provinces, 700 "
          "districts, 10,600 sites); both with a standby national relay");
ABSL_FLAG(std::string, topology, "",
          "topology file (text cascade.v1.Topology) instead of --scale");
ABSL_FLAG(int, sites, 0,
          "keep only the first N sites and the relays above them (0: all)");
ABSL_FLAG(std::string, scenario, "",
          "scenario file (text cascade.v1.SimScenario, "
          "proto/sim_scenario.proto); default: "
          "tools/sim/scenarios/default.textproto");
ABSL_FLAG(double, duration, 0,
          "seconds of media; the scenario's steps are scaled to fit (0: the "
          "scenario's own)");
ABSL_FLAG(int, bitrate, 0,
          "video kbit/s (0: the scenario's, else 200, 60 with "
          "--scale=national)");
ABSL_FLAG(int, fps, 0,
          "frames per second (0: the scenario's, else 15, 5 with "
          "--scale=national)");
ABSL_FLAG(std::string, mode, "controller",
          "controller: relays take parents, children and keys from "
          "topologyd's assignments (relayd --controller); standalone: from "
          "configuration files generated out of the topology (relayd "
          "--config)");
ABSL_FLAG(std::string, store, "journal",
          "the controllers' store (controller mode): journal (one topologyd "
          "on its own journal) or etcd (one etcd, Debian's /usr/bin/etcd, and "
          "three topologyd campaigning on it; restart_controller steps kill "
          "the leader)");
ABSL_FLAG(absl::Duration, leader_ttl, absl::Seconds(2),
          "with --store=etcd: topologyd --leader-ttl, how soon a dead leader "
          "is replaced (whole seconds, 1s..10s)");
ABSL_FLAG(absl::Duration, store_delay, absl::ZeroDuration(),
          "with --store=etcd: a slow store. tcp-delay runs between the "
          "topologyd group and etcd and holds every request for this long "
          "(etcd's answers pass at once); 0s..10s, 0: none. topologyd's "
          "etcd deadline grows by two delays (the request and the "
          "connection's handshake), and --leader-ttl, when not given, "
          "becomes 3 delays + 2s in whole seconds (8s for 2s)");
ABSL_FLAG(std::string, out, "sim-out",
          "directory for report.json, report.html, logs and configs");
ABSL_FLAG(int, sites_per_probe, 256,
          "sites per relay-probe process; at most 256 when the stream keys "
          "come from topologyd (one certificate names them all)");
ABSL_FLAG(int, relays_per_process, 16,
          "relays per relayd process in controller mode (relayd --relays): "
          "a province's relays share one, standbys others; roots and relays "
          "a step kills or revives run alone. 1: a process per relay");
ABSL_FLAG(double, probe_interval, 0.2,
          "seconds between the probes' reports (the gap resolution)");
ABSL_FLAG(absl::Duration, parent_timeout, absl::ZeroDuration(),
          "silence after which relays and sites fail over to their next "
          "parent (relayd and relay-probe --parent-timeout); 50ms..5s. "
          "0: 300ms, 1s with --scale=national");
ABSL_FLAG(absl::Duration, keepalive, absl::ZeroDuration(),
          "how often relays and sites renew with their parents and relays "
          "report to topologyd (relayd and relay-probe --keepalive); "
          "10ms..5s. 0: 250ms, 1s with --scale=national (10,600 sites "
          "renewing 4 times a second would load two cores by themselves)");
ABSL_FLAG(std::string, render, "",
          "only write report.html and report.svg again beside this "
          "report.json (runs nothing, needs no root)");
ABSL_FLAG(int, repeat, 1,
          "run the scenario N times one after the other, each a relay-sim "
          "of its own writing into OUT/run-K (K = 1..N); a line with each "
          "run's headline figures as it ends, then each figure's min, "
          "median and max over the runs and how many met its target, also "
          "written to OUT/spread.json. A run that crashes or hangs counts "
          "as failed and the next one starts. 1: one run into OUT");
ABSL_FLAG(std::string, browser_edge, "",
          "N, or DISTRICT[,DISTRICT...]: district relays that also serve "
          "browsers (relayd --edge), each in a relayd process of its own. "
          "N: N districts spread over the tree; or named by id or "
          "@largest_district. Once the tree is joined relay-sim prints a "
          "watch URL (http://127.0.0.1:PORT/watch#stream=...&token=...) for "
          "a site under each, also in OUT/watch-urls.txt: open it in a "
          "browser on this machine while the sim runs. Controller mode only");
ABSL_FLAG(int, whep_sites, 0,
          "N: N sites more at each --browser_edge district that watch as "
          "WebRTC viewers (relay-probe --whep, one process per edge, on the "
          "watch URL's token), counted in the report like the other sites "
          "(ids DISTRICT-whepK, probe group whep-DISTRICT); 0: none");
ABSL_FLAG(std::string, srtp, "auto",
          "on: the program stream as SRTP end to end: relay-source encrypts "
          "under topologyd's keys, fetched as the command center (standalone: "
          "a fresh key in OUT/pki/stream.key), the sites decrypt with them, "
          "the relays forward what they cannot read. off: plain RTP. auto: on, "
          "but off with --scale=national (10,600 sites decrypting overload "
          "two cores: docs/sim.md)");
ABSL_FLAG(std::string, bin_dir, "",
          "Bazel output tree holding relay/relayd, topology/topologyd, "
          "tools/probe/relay-probe, tools/source/relay-source (default: the "
          "tree relay-sim runs from)");

namespace cascade::sim {
namespace {

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitInterrupted = 130;
// What each scale runs unless told otherwise: video this 2-core machine
// keeps up with (docs/sim.md: measured) and the liveness timers. National:
// 10,600 sites, one packet a frame, renewing once a second.
struct ScaleDefaults {
  int kbps;
  int fps;
  absl::Duration parent_timeout;
  absl::Duration keepalive;
  bool srtp;  // --srtp=auto
};
constexpr ScaleDefaults kSouth19 = {200, 15, absl::Milliseconds(300),
                                    absl::Milliseconds(250), true};
constexpr ScaleDefaults kNational = {60, 5, absl::Seconds(1), absl::Seconds(1),
                                     false};
// Debian's etcd-server installs it here.
constexpr char kEtcdBinary[] = "/usr/bin/etcd";

std::atomic<bool> g_interrupted{false};

void OnSignal(int) { g_interrupted.store(true); }

int Usage(const std::string& message) {
  std::cerr << "relay-sim: " << message << "\n";
  return kExitUsage;
}

std::string Dirname(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

// A file shipped beside the binary (Bazel runfiles), or "".
std::string RunfilePath(const char* argv0, const std::string& path) {
  const std::string relative = "/cascade/" + path;
  std::vector<std::string> candidates = {std::string(argv0) + ".runfiles" +
                                         relative};
  for (const char* env : {"RUNFILES_DIR", "TEST_SRCDIR"}) {
    if (const char* dir = std::getenv(env))
      candidates.push_back(dir + relative);
  }
  for (const std::string& path : candidates) {
    if (access(path.c_str(), R_OK) == 0) return path;
  }
  return "";
}

// This invocation's relay-sim flags that differ from their defaults, as
// --name=value, but for --repeat and --out: what each repeated run gets.
std::vector<std::string> FlagsForEachRun() {
  const std::string file = absl::FindCommandLineFlag("repeat")->Filename();
  std::vector<std::string> flags;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (flag->Filename() != file || name == "repeat" || name == "out" ||
        flag->CurrentValue() == flag->DefaultValue()) {
      continue;
    }
    flags.push_back(absl::StrCat("--", name, "=", flag->CurrentValue()));
  }
  return flags;
}

// --repeat: each run a relay-sim of its own, then the spread.
int Repeat(const std::string& self, const SimOptions& options,
           const std::string& topology_name, int runs) {
  if (geteuid() != 0) {
    std::cerr << "relay-sim: the simulation needs root to create its private "
                 "network namespace (run it as root, e.g. sudo ./dev sim)\n";
    return kExitFailed;
  }
  signal(SIGINT, OnSignal);
  signal(SIGTERM, OnSignal);
  RepeatOptions repeat;
  repeat.relay_sim = self;
  repeat.flags = FlagsForEachRun();
  repeat.out_dir = options.out_dir;
  repeat.runs = runs;
  // The media, the warm-up and the bounded waits of a run, with room.
  repeat.run_timeout =
      absl::Seconds(options.scenario.duration_s()) + absl::Minutes(10);
  repeat.scenario = options.scenario.name();
  repeat.topology = topology_name;
  repeat.interrupted = &g_interrupted;
  std::cerr << absl::StrFormat(
      "relay-sim: %d runs of scenario %s, one after the other, into "
      "%s/run-1..%d/\n",
      runs, options.scenario.name(), options.out_dir, runs);
  absl::StatusOr<cascade::v1::SimSpread> spread =
      RunRepeated(repeat, std::cout);
  if (!spread.ok()) {
    std::cerr << "relay-sim: " << spread.status().message()
              << "; every process was stopped\n";
    return g_interrupted.load() ? kExitInterrupted : kExitFailed;
  }
  std::cout << absl::StrFormat(
                   "relay-sim: %d runs (%d failed) in %s; each figure over "
                   "the runs that measured it:\n",
                   spread->runs(), spread->runs_failed(),
                   absl::FormatDuration(absl::Trunc(
                       absl::Seconds(spread->wall_s()), absl::Seconds(1))))
            << SpreadTable(*spread) << "relay-sim: wrote " << options.out_dir
            << "/spread.json\n";
  return 0;
}

// Writes report.html and report.svg beside `json_path` from the report it
// holds.
int Render(const std::string& json_path) {
  const absl::StatusOr<std::string> json = ReadFile(json_path);
  if (!json.ok()) {
    return Usage("--render: " + std::string(json.status().message()));
  }
  cascade::v1::SimReport report;
  if (!google::protobuf::util::JsonStringToMessage(*json, &report).ok()) {
    return Usage("--render: " + json_path + " is not a relay-sim report");
  }
  const std::string dir = Dirname(json_path);
  if (absl::Status written = WriteReportFiles(report, dir, /*html_only=*/true);
      !written.ok()) {
    std::cerr << "relay-sim: " << written.message() << "\n";
    return kExitFailed;
  }
  std::cout << "relay-sim: wrote " << dir << "/report.html and " << dir
            << "/report.svg\n";
  return 0;
}

int Main(const char* argv0) {
  if (!absl::GetFlag(FLAGS_render).empty()) {
    return Render(absl::GetFlag(FLAGS_render));
  }
  // The topology.
  cascade::v1::Topology topology;
  std::string topology_name = absl::GetFlag(FLAGS_topology);
  const std::string scale = absl::GetFlag(FLAGS_scale);
  if (scale != "south19" && scale != "national") {
    return Usage("--scale must be south19 or national, not \"" + scale + "\"");
  }
  const ScaleDefaults& defaults = scale == "national" ? kNational : kSouth19;
  if (!topology_name.empty()) {
    absl::StatusOr<topology::TopologyText> text =
        topology::ReadTopologyFile(topology_name);
    if (!text.ok())
      return Usage("--topology: " + std::string(text.status().message()));
    topology = std::move(text->topology);
  } else {
    const std::string reference = "topology/reference/" + scale + ".textproto";
    const std::string path = RunfilePath(argv0, reference);
    if (path.empty()) {
      return Usage("cannot find " + reference +
                   " beside the binary; pass --topology=FILE");
    }
    absl::StatusOr<topology::TopologyText> text =
        topology::ReadTopologyFile(path);
    if (!text.ok()) return Usage(std::string(text.status().message()));
    topology = std::move(text->topology);
    topology_name = reference;
  }
  const std::string mode = absl::GetFlag(FLAGS_mode);
  if (mode != "controller" && mode != "standalone") {
    return Usage("--mode must be controller or standalone, not \"" + mode +
                 "\"");
  }
  const std::string store = absl::GetFlag(FLAGS_store);
  if (store != "journal" && store != "etcd") {
    return Usage("--store must be journal or etcd, not \"" + store + "\"");
  }
  if (store == "etcd" && mode != "controller") {
    return Usage(
        "--store=etcd needs --mode=controller (standalone relays "
        "have no controller)");
  }
  absl::Duration leader_ttl = absl::GetFlag(FLAGS_leader_ttl);
  if (leader_ttl < absl::Seconds(1) || leader_ttl > absl::Seconds(10) ||
      leader_ttl != absl::Trunc(leader_ttl, absl::Seconds(1))) {
    return Usage("--leader-ttl must be whole seconds within 1s..10s");
  }
  const absl::Duration store_delay = absl::GetFlag(FLAGS_store_delay);
  if (store_delay < absl::ZeroDuration() || store_delay > absl::Seconds(10)) {
    return Usage("--store-delay must be within 0s..10s, not " +
                 absl::FormatDuration(store_delay));
  }
  if (store_delay > absl::ZeroDuration() && store != "etcd") {
    return Usage(
        "--store-delay needs --store=etcd (it holds the controllers' "
        "requests to etcd)");
  }
  if (store_delay > absl::ZeroDuration()) {
    // The leader renews its lease every third of the TTL, waits that third
    // for the answer, and counts its term from the last renewal etcd
    // answered: with every request the delay late, a TTL of three delays or
    // less ends its term by itself. Two seconds of room on top.
    const absl::Duration needed =
        absl::Ceil(3 * store_delay + absl::Seconds(2), absl::Seconds(1));
    const absl::CommandLineFlag* given =
        absl::FindCommandLineFlag("leader_ttl");
    if (given->CurrentValue() == given->DefaultValue()) {
      leader_ttl = std::max(leader_ttl, needed);
    } else if (leader_ttl < needed) {
      return Usage("--leader-ttl=" + absl::FormatDuration(leader_ttl) +
                   " is too short for --store-delay=" +
                   absl::FormatDuration(store_delay) + ": at least " +
                   absl::FormatDuration(needed) +
                   " (three delays for the lease's renewals, and room; "
                   "without --leader-ttl relay-sim takes that)");
    }
  }
  if (store == "etcd" && access(kEtcdBinary, X_OK) != 0) {
    return Usage(absl::StrCat("--store=etcd: ", kEtcdBinary,
                              " is missing: install Debian's etcd-server "
                              "(./dev installs it)"));
  }
  if (absl::GetFlag(FLAGS_sites) < 0) return Usage("--sites must be >= 0");
  if (absl::GetFlag(FLAGS_sites_per_probe) < 1) {
    return Usage("--sites-per-probe must be at least 1");
  }
  if (absl::GetFlag(FLAGS_relays_per_process) < 1) {
    return Usage("--relays-per-process must be at least 1");
  }
  const int runs = absl::GetFlag(FLAGS_repeat);
  if (runs < 1) return Usage("--repeat must be at least 1");
  const double interval = absl::GetFlag(FLAGS_probe_interval);
  if (!(interval >= 0.05 && interval <= 5)) {
    return Usage("--probe-interval must be within 0.05..5 seconds");
  }

  // The scenario, with the flags laid over it.
  std::string scenario_path = absl::GetFlag(FLAGS_scenario);
  if (scenario_path.empty())
    scenario_path = RunfilePath(argv0, "tools/sim/scenarios/default.textproto");
  if (scenario_path.empty()) {
    return Usage(
        "--scenario is required (the default scenario is not beside "
        "the binary)");
  }
  SimOptions options;
  absl::StatusOr<cascade::v1::SimScenario> loaded = LoadScenario(
      scenario_path,
      ScenarioOverrides{absl::GetFlag(FLAGS_duration),
                        absl::GetFlag(FLAGS_bitrate), absl::GetFlag(FLAGS_fps),
                        defaults.kbps, defaults.fps});
  if (!loaded.ok()) return Usage(std::string(loaded.status().message()));
  options.scenario = *std::move(loaded);
  cascade::v1::SimScenario& scenario = options.scenario;
  for (cascade::v1::Stream& stream : *topology.mutable_streams()) {
    if (stream.direction() == cascade::v1::DIRECTION_DOWNSTREAM) {
      stream.set_bitrate_kbps(scenario.video_kbps());
    }
  }

  absl::StatusOr<NetworkPlan> plan =
      PlanNetwork(topology, absl::GetFlag(FLAGS_sites), 5000);
  if (!plan.ok()) return Usage(std::string(plan.status().message()));
  if (absl::Status checked = CheckStepNodes(*plan, scenario); !checked.ok()) {
    return Usage(std::string(checked.message()));
  }

  std::vector<std::string> edge_relays;
  if (const std::string spec = absl::GetFlag(FLAGS_browser_edge);
      !spec.empty()) {
    if (mode != "controller") {
      return Usage(
          "--browser-edge needs --mode=controller (topologyd mints the "
          "tokens and its assignments carry the keys that check them; "
          "standalone relays have neither)");
    }
    absl::StatusOr<std::vector<std::string>> picked =
        PickBrowserEdges(*plan, spec);
    if (!picked.ok()) {
      return Usage("--browser-edge: " + std::string(picked.status().message()));
    }
    edge_relays = *std::move(picked);
  }
  const std::string srtp = absl::GetFlag(FLAGS_srtp);
  if (srtp != "auto" && srtp != "on" && srtp != "off") {
    return Usage("--srtp: on, off or auto");
  }
  options.srtp = srtp == "on" || (srtp == "auto" && defaults.srtp);
  if (options.srtp && mode == "controller" &&
      absl::GetFlag(FLAGS_sites_per_probe) >
          static_cast<int>(cascade::security::kMaxNodesPerCertificate)) {
    return Usage(absl::StrCat(
        "--sites-per-probe: at most ",
        cascade::security::kMaxNodesPerCertificate,
        " with --srtp (a probe's certificate names each of its sites)"));
  }
  if (const int whep = absl::GetFlag(FLAGS_whep_sites); whep != 0) {
    absl::StatusOr<std::vector<WhepSiteGroup>> groups =
        PlanWhepSites(*plan, edge_relays, whep);
    if (!groups.ok()) {
      return Usage("--whep-sites: " + std::string(groups.status().message()));
    }
    options.whep_sites = *std::move(groups);
  }

  // The binaries.
  char self[PATH_MAX];
  const ssize_t self_size = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (self_size <= 0) return Usage("cannot find relay-sim's own path");
  self[self_size] = '\0';
  std::string bin_dir = absl::GetFlag(FLAGS_bin_dir);
  if (bin_dir.empty()) bin_dir = Dirname(Dirname(Dirname(self)));
  options.relayd = bin_dir + "/relay/relayd";
  options.topologyd = bin_dir + "/topology/topologyd";
  options.probe = bin_dir + "/tools/probe/relay-probe";
  options.source = bin_dir + "/tools/source/relay-source";
  if (store_delay > absl::ZeroDuration()) {
    options.tcp_delay = bin_dir + "/tools/impair/tcp_delay/tcp-delay";
    options.store_delay = store_delay;
  }
  for (const std::string* binary :
       {&options.relayd, &options.topologyd, &options.probe, &options.source}) {
    if (access(binary->c_str(), X_OK) != 0) {
      return Usage("--bin-dir: " + *binary +
                   " is missing (bazel build //tools/sim:relay-sim builds it)");
    }
  }
  if (!options.tcp_delay.empty() &&
      access(options.tcp_delay.c_str(), X_OK) != 0) {
    return Usage("--store-delay: " + options.tcp_delay +
                 " is missing (bazel build //tools/sim:relay-sim builds it)");
  }
  options.out_dir = absl::GetFlag(FLAGS_out);
  options.topology_name = topology_name;
  options.controller = mode == "controller";
  if (store == "etcd") options.etcd = kEtcdBinary;
  options.leader_ttl = leader_ttl;
  options.parent_timeout = absl::GetFlag(FLAGS_parent_timeout);
  if (options.parent_timeout == absl::ZeroDuration()) {
    options.parent_timeout = defaults.parent_timeout;
  }
  if (options.parent_timeout < absl::Milliseconds(50) ||
      options.parent_timeout > absl::Seconds(5)) {
    return Usage("--parent-timeout must be within 50ms..5s");
  }
  options.keepalive = absl::GetFlag(FLAGS_keepalive);
  if (options.keepalive == absl::ZeroDuration()) {
    options.keepalive = defaults.keepalive;
  }
  if (options.keepalive < absl::Milliseconds(10) ||
      options.keepalive > absl::Seconds(5)) {
    return Usage("--keepalive must be within 10ms..5s");
  }
  options.sites_per_probe = absl::GetFlag(FLAGS_sites_per_probe);
  options.relays_per_process = absl::GetFlag(FLAGS_relays_per_process);
  options.probe_interval_s = interval;
  options.interrupted = &g_interrupted;
  if (runs > 1) return Repeat(self, options, topology_name, runs);

  // Browsers reach the edges through a bridge whose listening ends are
  // bound here, on the machine's loopback, before relay-sim leaves it.
  std::vector<BrowserBridge::Addresses> inside;
  for (const std::string& id : edge_relays) {
    const PlanRelay& relay = *plan->relay(id);
    inside.push_back({EdgeListenAddress(relay), relay.address});
  }
  std::unique_ptr<BrowserBridge> bridge;
  if (!inside.empty()) {
    absl::StatusOr<std::unique_ptr<BrowserBridge>> opened =
        BrowserBridge::Open(inside);
    if (!opened.ok()) {
      std::cerr << "relay-sim: " << opened.status().message() << "\n";
      return kExitFailed;
    }
    bridge = *std::move(opened);
    for (size_t i = 0; i < inside.size(); ++i) {
      options.browser_edges.push_back({edge_relays[i], inside[i].http,
                                       bridge->ends()[i].http,
                                       bridge->ends()[i].media});
    }
  }
  options.console = &std::cout;

  // Before any thread starts: the namespace is per process.
  if (absl::Status s = EnterPrivateNetwork(); !s.ok()) {
    std::cerr << "relay-sim: " << s.message()
              << " (run it as root, e.g. sudo ./dev sim)\n";
    return kExitFailed;
  }
  // Its connections to the edges are made in here.
  if (bridge != nullptr) bridge->Start();
  signal(SIGINT, OnSignal);
  signal(SIGTERM, OnSignal);
  signal(SIGPIPE, SIG_IGN);
  std::cerr << absl::StrFormat(
      "relay-sim: %s, %d relays (%s mode, %s store), %d sites, %u kbit/s at "
      "%u fps for %.0f s; output in %s/\n",
      topology_name, plan->relays.size(), mode, store, plan->sites.size(),
      scenario.video_kbps(), scenario.frame_rate(), scenario.duration_s(),
      options.out_dir);
  absl::StatusOr<SimRun> run = RunSimulation(*plan, options);
  if (!run.ok()) {
    std::cerr << "relay-sim: " << run.status().message()
              << "; every process was stopped\n";
    return g_interrupted.load() ? kExitInterrupted : kExitFailed;
  }
  const cascade::v1::SimReport report =
      BuildReport(WithWhepSites(*plan, options.whep_sites), *run);
  if (absl::Status written =
          WriteReportFiles(report, options.out_dir, /*html_only=*/false);
      !written.ok()) {
    std::cerr << "relay-sim: " << written.message() << "\n";
    return kExitFailed;
  }
  std::cout << RunSummary(report, options.out_dir);
  return 0;
}

}  // namespace
}  // namespace cascade::sim

int main(int argc, char** argv) {
  cascade::ParseFlags(
      argc, argv,
      "relay-sim [--scale=south19|national] [--sites=N] [--duration=S] "
      "[--bitrate=KBPS] [--scenario=FILE] [--store=journal|etcd "
      "[--store-delay=2s]] "
      "[--repeat=N] [--browser_edge=N [--whep_sites=N]] [--out=DIR]\n"
      "Runs the whole Cascade network (topologyd, every relay as relayd, the "
      "sites as relay-probe, relay-source at the center) in a private network "
      "namespace, plays a scenario of faults and writes report.json and "
      "report.html. With --repeat=N, N runs and the spread of their headline "
      "figures (spread.json). With --browser_edge=N, N districts serve "
      "browsers too and relay-sim prints a watch URL for each; "
      "--whep_sites=N adds N WebRTC viewer sites at each. Needs root.");
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);
  return cascade::sim::Main(argv[0]);
}
