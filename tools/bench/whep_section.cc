#include "tools/bench/whep_section.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "base/files.h"
#include "base/subprocess.h"
#include "control/signature.h"
#include "tools/bench/forwarder_cases.h"
#include "tools/bench/forwarding_bench.h"
#include "tools/bench/process.h"
#include "tools/bench/relay_tree.h"
#include "tools/bench/whep_bench.h"
#include "tools/probe/edge_relay.h"

namespace cascade::bench {
namespace {

constexpr char kRelayId[] = "bench-edge";
constexpr char kStream[] = "program";
constexpr char kFinalPrefix[] = "{\"type\":\"final\"";
// Between the starts of two probe processes of a step: their handshakes
// overlap less, as sites' do.
constexpr absl::Duration kProbeStagger = absl::Milliseconds(500);
// relayd's own per-address POST burst (RelayEdgeOptions): each probe process
// posts from an address of its own (127.0.0.N), as a district's sites do.
constexpr int kEdgePostBurst = 200;
// A step counts only if the viewers received about 2 Mbit/s: relay-source
// starved of CPU sends less. Below 2 since the rate is over each probe's
// whole run, its first second without packets included.
constexpr double kMinStreamMbps = 1.6;

// relayd with a plain-HTTP edge on loopback, its standalone config naming
// relay-source as its parent and the key of the token the viewers carry.
class EdgeRig {
 public:
  // `post_burst`: the most viewers one probe process posts at once.
  static absl::StatusOr<std::unique_ptr<EdgeRig>> Start(
      const TreeBinaries& binaries, const std::string& dir, int max_viewers,
      int post_burst) {
    std::unique_ptr<EdgeRig> rig(new EdgeRig());
    absl::StatusOr<control::KeyPtr> key = control::NewEcdsaKey();
    if (!key.ok()) return key.status();
    absl::StatusOr<std::string> der = control::PublicKeyDer(key->get());
    if (!der.ok()) return der.status();
    absl::StatusOr<int> source_port = ReserveLoopbackPort();
    if (!source_port.ok()) return source_port.status();
    probe::EdgeRelaySetup setup;
    setup.relay_id = kRelayId;
    setup.source_address = absl::StrCat("127.0.0.1:", *source_port);
    setup.video_ssrc = kTreeVideoSsrc;
    setup.audio_ssrc = kTreeAudioSsrc;
    setup.stream_id = kStream;
    setup.token_key_der = *der;
    const std::string config = dir + "/edge-relay.textproto";
    if (absl::Status s = probe::WriteEdgeRelayConfig(setup, config); !s.ok()) {
      return s;
    }
    const std::string ports = dir + "/edge-relay.ports";
    const std::string log = dir + "/edge-relayd.log";
    absl::StatusOr<std::unique_ptr<Subprocess>> relay =
        Subprocess::Start({binaries.relayd, "--config=" + config,
                           "--edge=127.0.0.1:0", "--port_file=" + ports,
                           absl::StrCat("--edge_max_viewers=", max_viewers),
                           absl::StrCat("--edge_post_burst=",
                                        std::max(post_burst, kEdgePostBurst))},
                          {log, log});
    if (!relay.ok()) return relay.status();
    rig->relay_ = *std::move(relay);
    int udp_port = 0, edge_port = 0;
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (udp_port == 0 || edge_port == 0) {
      if (absl::Now() > deadline || !rig->relay_->Running()) {
        return absl::UnavailableError(
            absl::StrCat("relayd did not start: ", FileTail(log)));
      }
      absl::SleepFor(absl::Milliseconds(20));
      for (absl::string_view line :
           absl::StrSplit(ReadFile(ports).value_or(""), '\n')) {
        if (absl::ConsumePrefix(&line, "udp=")) {
          (void)absl::SimpleAtoi(line, &udp_port);
        } else if (absl::ConsumePrefix(&line, "edge=")) {
          (void)absl::SimpleAtoi(line, &edge_port);
        }
      }
    }
    // About 2 Mbit/s of H.264 and Opus: the test pattern compresses so well
    // that only all-intra 1080p reaches the rate (about a quarter core).
    const std::string source_log = dir + "/edge-source.log";
    absl::StatusOr<std::unique_ptr<Subprocess>> source = Subprocess::Start(
        {binaries.source, "--width=1920", "--height=1080", "--bitrate=2000",
         "--fps=25", "--gop=1", "--duration=1800",
         absl::StrCat("--ssrc=", kTreeVideoSsrc),
         absl::StrCat("--audio_ssrc=", kTreeAudioSsrc),
         "--bind=" + setup.source_address,
         absl::StrCat("--dest=127.0.0.1:", udp_port)},
        {source_log, source_log});
    if (!source.ok()) return source.status();
    rig->source_ = *std::move(source);
    absl::StatusOr<std::string> token =
        probe::MintWatchToken(key->get(), kRelayId, kStream, absl::Now());
    if (!token.ok()) return token.status();
    rig->url_ = absl::StrCat("http://127.0.0.1:", edge_port, "/whep/", kStream,
                             "#token=", *token);
    // The encoder's rate settles and the relay holds a keyframe.
    absl::SleepFor(absl::Seconds(3));
    rig->baseline_rss_kb_ = ReadProcessMemory(rig->relay_pid()).rss_kb;
    return rig;
  }

  ~EdgeRig() {
    if (source_ != nullptr) source_->Stop(absl::Seconds(2)).IgnoreError();
    if (relay_ != nullptr) relay_->Stop(absl::Seconds(2)).IgnoreError();
  }

  const std::string& url() const { return url_; }
  pid_t relay_pid() const { return relay_->pid(); }
  // relayd's resident memory with the stream flowing and no viewer.
  int64_t baseline_rss_kb() const { return baseline_rss_kb_; }
  bool running() { return relay_->Running() && source_->Running(); }

 private:
  EdgeRig() = default;

  std::unique_ptr<Subprocess> relay_;
  std::unique_ptr<Subprocess> source_;
  int64_t baseline_rss_kb_ = 0;
  std::string url_;
};

// Viewers split over relay-probe processes; the i-th starts `stagger` after
// the one before and runs that much less, so that all end together. Each
// process sends (HTTP and media) from its own loopback address, the next of
// 127.0.0.2-254 after `*next_address`: as many clients to relayd's
// per-address POST limits.
struct ViewerBatch {
  std::vector<std::unique_ptr<Subprocess>> probes;
  std::vector<std::string> outputs;  // --json lines
  std::vector<std::string> logs;     // stderr
  absl::Duration run;                // each probe's --duration, after its POSTs
};

absl::StatusOr<ViewerBatch> StartViewers(const std::string& probe_binary,
                                         const std::string& url, int viewers,
                                         int per_probe, absl::Duration run,
                                         absl::Duration stagger,
                                         const std::string& prefix,
                                         int* next_address) {
  ViewerBatch batch;
  const int probes = (viewers + per_probe - 1) / per_probe;
  batch.run = run + stagger * (probes - 1);
  for (int i = 0, left = viewers; left > 0; ++i) {
    const int n = std::min(left, per_probe);
    left -= n;
    if (i > 0) absl::SleepFor(stagger);
    const std::string out = absl::StrCat(prefix, "-", i, ".json");
    const std::string err = absl::StrCat(prefix, "-", i, ".log");
    // Counting only: decoding hundreds of pictures would measure the probes.
    absl::StatusOr<std::unique_ptr<Subprocess>> probe = Subprocess::Start(
        {probe_binary, "--whep=" + url, absl::StrCat("--whep_viewers=", n),
         absl::StrCat("--listen=127.0.0.", 2 + (*next_address)++ % 253, ":0"),
         "--decode_sites=0", "--json", "--interval=0.5", "--max_lost=0",
         absl::StrCat("--duration=",
                      absl::ToDoubleSeconds(run + stagger * (probes - 1 - i)))},
        {out, err});
    if (!probe.ok()) return probe.status();
    batch.probes.push_back(*std::move(probe));
    batch.outputs.push_back(out);
    batch.logs.push_back(err);
  }
  return batch;
}

// Until every probe has printed its first progress line (its POSTs are
// done); false if one ended or `limit` passed first.
bool WaitUntilRunning(ViewerBatch& batch, absl::Duration limit) {
  const absl::Time deadline = absl::Now() + limit;
  for (size_t i = 0; i < batch.probes.size(); ++i) {
    while (
        LineStartingWith(batch.outputs[i], "{\"type\":\"interval\"").empty()) {
      if (absl::Now() > deadline || !batch.probes[i]->Running()) return false;
      absl::SleepFor(absl::Milliseconds(50));
    }
  }
  return true;
}

// Waits for the probes' ends and sums their final lines. `probes_posts_s`:
// the slowest probe's POSTs (s); `all_connected_s`: the last viewer
// connected, both from the probes' start (their own start-up excluded).
struct BatchResult {
  WhepProbeFinal total;
  double probes_posts_s = 0;
  std::optional<double> all_connected_s;
  std::string error;
};

BatchResult FinishViewers(ViewerBatch& batch) {
  BatchResult result;
  for (size_t i = 0; i < batch.probes.size(); ++i) {
    batch.probes[i]->Wait(batch.run + absl::Seconds(60)).IgnoreError();
    batch.probes[i]->Stop(absl::Seconds(2)).IgnoreError();
    absl::StatusOr<WhepProbeFinal> final =
        ParseWhepProbeFinal(LineStartingWith(batch.outputs[i], kFinalPrefix));
    if (!final.ok()) {
      result.error = absl::StrCat(
          "probe ", i, ": ", final.status().message(), ": ",
          absl::StripTrailingAsciiWhitespace(FileTail(batch.logs[i], 200)));
      continue;
    }
    WhepProbeFinal& t = result.total;
    t.viewers += final->viewers;
    t.connected += final->connected;
    t.receiving += final->receiving;
    t.lost += final->lost;
    t.packets += final->packets;
    t.bytes += final->bytes;
    // Viewer-seconds, for the stream's packet rate.
    t.elapsed_s += final->elapsed_s * final->viewers;
    if (t.complaints == 0) t.first_complaint = final->first_complaint;
    t.complaints += final->complaints;
    const double posts_s = final->posts_ms / 1000;
    result.probes_posts_s = std::max(result.probes_posts_s, posts_s);
    if (final->max_connected_ms.has_value()) {
      result.all_connected_s =
          std::max(result.all_connected_s.value_or(0),
                   posts_s + *final->max_connected_ms / 1000);
    }
  }
  return result;
}

// Packets per second of the stream as one viewer received it.
double StreamPps(const WhepProbeFinal& total) {
  return total.elapsed_s > 0 ? total.packets / total.elapsed_s : 0;
}

struct Step {
  cascade::v1::BenchWhepStep figures;
  double stream_pps = 0;
  double stream_mbps = 0;
};

Step RunStep(EdgeRig& rig, const std::string& probe_binary, int viewers,
             const WhepOptions& options, const std::string& dir,
             int* next_address) {
  Step step;
  cascade::v1::BenchWhepStep& f = step.figures;
  f.set_viewers(viewers);
  const absl::Duration window = absl::Seconds(options.window_seconds);
  // Handshakes settle for 1.5 s, then the window, with slack for probes
  // whose POSTs ended before the others'.
  const absl::Duration settle = absl::Milliseconds(1500);
  const int per_probe = options.viewers_per_probe;
  const absl::Duration stagger = kProbeStagger;
  absl::StatusOr<ViewerBatch> batch =
      StartViewers(probe_binary, rig.url(), viewers, per_probe,
                   settle + window + absl::Seconds(5), stagger,
                   absl::StrCat(dir, "/step-", viewers), next_address);
  if (!batch.ok()) {
    f.set_error(std::string(batch.status().message()));
    return step;
  }
  f.set_probes(static_cast<int>(batch->probes.size()));
  std::optional<double> cpu_ns;
  double wall_s = 0;
  if (WaitUntilRunning(*batch, absl::Seconds(60) + stagger * f.probes())) {
    absl::SleepFor(settle);
    const absl::StatusOr<uint64_t> before = ProcessCpuNanos(rig.relay_pid());
    const absl::Time from = absl::Now();
    absl::SleepFor(window);
    const absl::StatusOr<uint64_t> after = ProcessCpuNanos(rig.relay_pid());
    wall_s = absl::ToDoubleSeconds(absl::Now() - from);
    f.set_relay_rss_kb(ReadProcessMemory(rig.relay_pid()).rss_kb);
    if (before.ok() && after.ok()) cpu_ns = *after - *before;
  }
  const BatchResult r = FinishViewers(*batch);
  f.set_connected(r.total.connected);
  f.set_receiving(r.total.receiving);
  f.set_lost(static_cast<int>(r.total.lost));
  step.stream_pps = StreamPps(r.total);
  if (r.total.elapsed_s > 0) {
    step.stream_mbps = r.total.bytes * 8 / r.total.elapsed_s / 1e6;
  }
  const double delivered_pps = step.stream_pps * r.total.receiving;
  f.set_delivered_pps(delivered_pps);
  if (!r.error.empty()) {
    f.set_error(r.error);
  } else if (!cpu_ns.has_value()) {
    f.set_error("the probes did not all start, or relayd's CPU unreadable");
  } else {
    f.set_relay_cpu_share(*cpu_ns / 1e9 / wall_s);
    if (delivered_pps > 0) {
      f.set_ns_per_packet(*cpu_ns / (delivered_pps * wall_s));
    }
  }
  f.set_complaints(r.total.complaints);
  f.set_first_complaint(r.total.first_complaint);
  f.set_stream_mbps(step.stream_mbps);
  f.set_passed(f.error().empty() && step.stream_mbps >= kMinStreamMbps &&
               r.total.connected == viewers && r.total.receiving == viewers &&
               r.total.lost == 0 && f.relay_cpu_share() < 1.0);
  return step;
}

std::string StepResult(const cascade::v1::BenchWhepStep& f) {
  if (f.passed()) return "pass";
  if (!f.error().empty()) return "FAIL " + f.error();
  if (f.stream_mbps() < kMinStreamMbps) {
    return absl::StrFormat("FAIL (the stream below %.1f Mbit/s)",
                           kMinStreamMbps);
  }
  if (f.relay_cpu_share() >= 1) return "FAIL (relayd at a full core)";
  return "FAIL (loss, or a viewer not receiving)";
}

}  // namespace

absl::Status RunWhep(const WhepOptions& options, Context& context) {
  absl::StatusOr<TreeBinaries> binaries = FindTreeBinaries(context.argv0);
  if (!binaries.ok()) return binaries.status();
  const std::string dir = context.work_dir + "/whep";
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return ErrnoStatus("mkdir", dir);
  }
  const long cores = sysconf(_SC_NPROCESSORS_ONLN);
  std::printf(
      "\n== whep: relay-source (1080p all-intra, ~2 Mbit/s) -> relayd's "
      "browser edge (plain HTTP on loopback) -> N relay-probe --whep viewers "
      "(counting, not decoding; up to %d per process), %.0f s of relayd CPU "
      "per step\n"
      "note: the viewers' ICE/DTLS/SRTP run on the same %ld cores as relayd "
      "and compete with it for CPU\n",
      options.viewers_per_probe, options.window_seconds, cores);
  std::printf("%-8s %6s %9s %9s %6s %6s %9s %12s %8s %7s %s\n", "viewers",
              "probes", "connected", "receiving", "lost", "Mbit/s", "relay cpu",
              "delivered/s", "ns/pkt", "RSS MB", "result");
  cascade::v1::BenchWhep& section = *context.report.mutable_whep();
  const int max_viewers = std::max(options.max_viewers, options.join_viewers);
  // A quarter of the joining viewers per process, so that the POSTs overlap.
  const int join_per_probe = std::max(1, (options.join_viewers + 3) / 4);
  absl::StatusOr<std::unique_ptr<EdgeRig>> rig =
      EdgeRig::Start(*binaries, dir, max_viewers,
                     std::max(options.viewers_per_probe, join_per_probe));
  int next_address = 0;
  if (!rig.ok()) return rig.status();

  // 1. The largest count with no loss.
  ViewerSearch search(options.first_viewers, options.max_viewers);
  const absl::Time budget_end = absl::Now() + options.search_budget;
  std::vector<Step> steps;
  bool out_of_time = false;
  while (std::optional<int> viewers = search.Next()) {
    if (absl::Now() > budget_end) {
      out_of_time = true;
      break;
    }
    if (!(*rig)->running())
      return absl::InternalError("relayd or relay-source ended");
    Step step =
        RunStep(**rig, binaries->probe, *viewers, options, dir, &next_address);
    const cascade::v1::BenchWhepStep& f = step.figures;
    std::printf("%-8d %6d %9d %9d %6d %6.2f %8.0f%% %12.0f %8s %7.1f %s\n",
                f.viewers(), f.probes(), f.connected(), f.receiving(), f.lost(),
                f.stream_mbps(), f.relay_cpu_share() * 100, f.delivered_pps(),
                f.has_ns_per_packet()
                    ? absl::StrFormat("%.0f", f.ns_per_packet()).c_str()
                    : "-",
                f.relay_rss_kb() / 1024.0, StepResult(f).c_str());
    if (f.complaints() > 0) {
      std::printf("         relay-probe's %d complaints, the first: %s\n",
                  f.complaints(), f.first_complaint().substr(0, 200).c_str());
    }
    std::fflush(stdout);
    search.Record(*viewers, f.passed());
    *section.add_steps() = f;
    steps.push_back(std::move(step));
  }
  section.set_max_viewers(search.best());
  for (const Step& s : steps) {
    section.set_stream_mbps(std::max(section.stream_mbps(), s.stream_mbps));
  }
  std::printf(
      "stream as received: %.2f Mbit/s; largest count with no loss, relayd "
      "under one core: %d viewers%s%s\n",
      section.stream_mbps(), search.best(),
      search.failed() > 0
          ? absl::StrCat(" (failed at ", search.failed(), ")").c_str()
          : "",
      out_of_time ? " (search stopped by its time budget)" : "");

  // 2. Memory per viewer, at the step with the most sessions: relayd's pools
  // keep what they took, so the ones after it read high.
  section.set_relay_rss_baseline_kb((*rig)->baseline_rss_kb());
  const cascade::v1::BenchWhepStep* most = nullptr;
  for (const cascade::v1::BenchWhepStep& f : section.steps()) {
    if (f.relay_rss_kb() > 0 &&
        (most == nullptr || f.connected() > most->connected())) {
      most = &f;
    }
  }
  if (most != nullptr && most->connected() > 0) {
    section.set_memory_viewers(most->connected());
    section.set_kb_per_viewer(
        static_cast<double>(most->relay_rss_kb() -
                            section.relay_rss_baseline_kb()) /
        most->connected());
    std::printf(
        "memory: relayd holds %.1f MB with the stream and no viewer, %.1f MB "
        "with %d connected: %.0f KB per viewer\n",
        section.relay_rss_baseline_kb() / 1024.0, most->relay_rss_kb() / 1024.0,
        most->connected(), section.kb_per_viewer());
  }

  // 3. Joining at once.
  cascade::v1::BenchWhepJoin& join = *section.mutable_join();
  const int joining = options.join_viewers;
  join.set_viewers(joining);
  {
    absl::StatusOr<ViewerBatch> batch = StartViewers(
        binaries->probe, (*rig)->url(), joining, join_per_probe,
        absl::Seconds(8), absl::ZeroDuration(), dir + "/join", &next_address);
    if (!batch.ok()) return batch.status();
    join.set_probes(static_cast<int>(batch->probes.size()));
    const BatchResult r = FinishViewers(*batch);
    join.set_posts_s(r.probes_posts_s);
    join.set_connected(r.total.connected);
    join.set_receiving(r.total.receiving);
    if (!r.error.empty()) join.set_error(r.error);
    if (r.total.complaints > 0) {
      std::printf("join: relay-probe's %d complaints, the first: %s\n",
                  r.total.complaints,
                  r.total.first_complaint.substr(0, 200).c_str());
    }
    if (r.all_connected_s.has_value() && r.total.connected == joining) {
      join.set_all_connected_s(*r.all_connected_s);
      join.set_handshakes_per_s(r.total.connected / *r.all_connected_s);
    }
    std::printf(
        "join: %d viewers from %d processes at once: POSTs answered within "
        "%.2f s, %d connected, %d receiving, all connected after %s s "
        "(%s DTLS handshakes/s)%s\n",
        join.viewers(), join.probes(), join.posts_s(), join.connected(),
        join.receiving(),
        join.has_all_connected_s()
            ? absl::StrFormat("%.2f", join.all_connected_s()).c_str()
            : "-",
        join.has_handshakes_per_s()
            ? absl::StrFormat("%.0f", join.handshakes_per_s()).c_str()
            : "-",
        join.error().empty() ? "" : (" error: " + join.error()).c_str());
  }
  rig->reset();

  // 4. The edge against plain forwarding, at the largest passing count.
  const Step* compared = nullptr;
  for (const Step& s : steps) {
    if (s.figures.passed() && s.figures.has_ns_per_packet()) compared = &s;
  }
  std::optional<double> ratio;
  if (compared != nullptr) {
    const int n = compared->figures.viewers();
    section.set_compared_viewers(n);
    section.set_edge_ns_per_packet(compared->figures.ns_per_packet());
    absl::StatusOr<std::vector<std::unique_ptr<Forwarder>>> made =
        MakeForwarders({"relayd"}, context);
    if (!made.ok()) return made.status();
    const ForwardingResult plain = RunForwardingCase(
        *made->front(), n, VideoShape::ForRate(compared->stream_pps),
        absl::Seconds(options.window_seconds), dir);
    if (plain.error.empty() && plain.ns_per_packet > 0) {
      section.set_plain_ns_per_packet(plain.ns_per_packet);
      ratio = compared->figures.ns_per_packet() / plain.ns_per_packet;
      std::printf(
          "CPU per delivered packet at %d children: edge %.0f ns, plain "
          "forwarding %.0f ns (loss %.4f%%): %.2fx\n",
          n, compared->figures.ns_per_packet(), plain.ns_per_packet,
          plain.loss_ratio * 100, *ratio);
    } else {
      std::printf("plain forwarding at %d children not measured: %s\n", n,
                  plain.error.c_str());
    }
  }
  ++context.cases_run;

  std::printf("\ntargets:\n");
  const std::string shared =
      absl::StrCat("; the probes share the ", cores, " cores with relayd");
  ReportTarget(
      "edge: one relayd core serves >= 1,000 WHEP viewers of a 2 Mbit/s "
      "stream with no loss",
      steps.empty() ? std::nullopt : std::optional<bool>(search.best() >= 1000),
      absl::StrCat(search.best(), " viewers", shared),
      section.mutable_targets());
  ReportTarget(
      "edge: CPU per delivered packet at most 2x plain forwarding",
      ratio.has_value() ? std::optional<bool>(*ratio <= 2.0) : std::nullopt,
      ratio.has_value() ? absl::StrFormat("%.2fx at %d children", *ratio,
                                          section.compared_viewers())
                        : "no passing step to compare",
      section.mutable_targets());
  ReportTarget(
      absl::StrCat("edge: ", joining,
                   " viewers joining at once all connected within 5 s"),
      join.has_all_connected_s()
          ? std::optional<bool>(join.all_connected_s() <= 5)
          : std::nullopt,
      join.has_all_connected_s()
          ? absl::StrFormat(
                "%.2f s, %.0f DTLS handshakes/s; POSTs within %.2f s (asked: "
                "2 s)%s",
                join.all_connected_s(), join.handshakes_per_s(), join.posts_s(),
                shared)
          : absl::StrCat(join.connected(), " of ", joining, " connected"),
      section.mutable_targets());
  return absl::OkStatus();
}

}  // namespace cascade::bench
