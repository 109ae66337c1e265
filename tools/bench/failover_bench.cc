#include "tools/bench/failover_bench.h"

#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <tuple>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tools/bench/process.h"

namespace cascade::bench {
namespace {

constexpr uint32_t kVideo = 0x46460001;
constexpr uint32_t kAudio = 0x46460002;

std::string KeyOf(const std::string& node) {
  return absl::BytesToHexString(std::string(16, 'k') + node);
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The first line of `path` starting with `prefix`, or "".
std::string LineStartingWith(const std::string& path,
                             const std::string& prefix) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (absl::StartsWith(line, prefix)) return line;
  }
  return "";
}

// A number field of a flat JSON object ("key":12.5), or nullopt.
std::optional<double> JsonNumber(const std::string& json,
                                 const std::string& key) {
  const std::string needle = absl::StrCat("\"", key, "\":");
  const size_t at = json.find(needle);
  if (at == std::string::npos) return std::nullopt;
  size_t end = at + needle.size();
  while (end < json.size() && json[end] != ',' && json[end] != '}') ++end;
  double value = 0;
  if (!absl::SimpleAtod(
          json.substr(at + needle.size(), end - at - needle.size()), &value)) {
    return std::nullopt;
  }
  return value;
}

class Tree {
 public:
  explicit Tree(const FailoverSetup& setup) : setup_(setup) {}

  absl::Status StartRelay(const std::string& id,
                          const std::vector<std::string>& parents,
                          const std::vector<std::string>& children) {
    std::string config =
        absl::StrCat("node_id: \"", id, "\" listen: \"127.0.0.1:0\"\n");
    for (const std::string& p : parents) {
      const bool source = p == "source";
      absl::StrAppend(
          &config, "parents { id: \"", p, "\" address: \"",
          source ? source_address_ : addresses_.at(p), "\"",
          source ? "" : absl::StrCat(" key_hex: \"", KeyOf(id), "\""), " }\n");
    }
    for (const std::string& c : children) {
      absl::StrAppend(&config, "children { id: \"", c, "\" key_hex: \"",
                      KeyOf(absl::StartsWith(c, "site-") ? "site" : c),
                      "\" }\n");
    }
    absl::StrAppend(&config, "streams { ssrc: ", kVideo,
                    " direction: DOWN h264: true }\nstreams { ssrc: ", kAudio,
                    " direction: DOWN }\n");
    const std::string base = absl::StrCat(setup_.work_dir, "/", id);
    std::ofstream(base + ".textproto") << config;
    absl::StatusOr<std::unique_ptr<Subprocess>> relay = Subprocess::Start(
        {setup_.binaries.relayd, "--config=" + base + ".textproto",
         "--port_file=" + base + ".ports"},
        base + ".log");
    if (!relay.ok()) return relay.status();
    processes_[id] = *std::move(relay);
    // Bound once the port file is written.
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (absl::Now() < deadline) {
      const std::string ports = ReadAll(base + ".ports");
      int port = 0;
      if (absl::StartsWith(ports, "udp=") &&
          absl::SimpleAtoi(ports.substr(4, ports.find('\n') - 4), &port) &&
          port > 0) {
        addresses_[id] = absl::StrCat("127.0.0.1:", port);
        return absl::OkStatus();
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    return absl::DeadlineExceededError(
        absl::StrCat(id, " did not bind: ", FileTail(base + ".log")));
  }

  // Until D has logged every site's activation.
  absl::Status WaitForSites() {
    const std::string log = setup_.work_dir + "/D.log";
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    int active = 0;
    while (absl::Now() < deadline) {
      const std::string text = ReadAll(log);
      active = 0;
      for (size_t at = text.find("] child site-"); at != std::string::npos;
           at = text.find("] child site-", at + 1)) {
        ++active;
      }
      if (active >= setup_.sites) return absl::OkStatus();
      absl::SleepFor(absl::Milliseconds(50));
    }
    return absl::DeadlineExceededError(
        absl::StrCat(active, " of ", setup_.sites, " sites joined D"));
  }

  absl::StatusOr<FailoverRun> Run() {
    absl::StatusOr<int> port = ReserveLoopbackPort();
    if (!port.ok()) return port.status();
    source_address_ = absl::StrCat("127.0.0.1:", *port);
    std::vector<std::string> sites;
    for (int i = 0; i < setup_.sites; ++i) {
      sites.push_back(absl::StrCat("site-", i));
    }
    for (const auto& [id, parents, children] :
         std::vector<std::tuple<std::string, std::vector<std::string>,
                                std::vector<std::string>>>{
             {"N", {"source"}, {"P1", "P2"}},
             {"P1", {"N"}, {"D"}},
             {"P2", {"N"}, {"D"}},
             {"D", {"P1", "P2"}, sites}}) {
      if (absl::Status s = StartRelay(id, parents, children); !s.ok()) {
        return s;
      }
    }
    const std::string probe_log = setup_.work_dir + "/probe.log";
    const double seconds = absl::ToDoubleSeconds(setup_.stream);
    absl::StatusOr<std::unique_ptr<Subprocess>> probe = Subprocess::Start(
        {setup_.binaries.probe, "--json", "--idle_exit=1.5",
         absl::StrCat("--duration=", seconds + 20),
         absl::StrCat("--sites=", setup_.sites), "--parent=" + addresses_["D"],
         "--node_id=site", "--key=" + KeyOf("site"), "--decode_sites=1"},
        probe_log);
    if (!probe.ok()) return probe.status();
    if (absl::Status joined = WaitForSites(); !joined.ok()) return joined;

    const std::string source_log = setup_.work_dir + "/source.log";
    absl::StatusOr<std::unique_ptr<Subprocess>> source = Subprocess::Start(
        {setup_.binaries.source, "--json", "--width=320", "--height=180",
         absl::StrCat("--bitrate=", setup_.video_kbps), "--fps=25", "--gop=50",
         "--bind=" + source_address_, "--dest=" + addresses_["N"],
         absl::StrCat("--ssrc=", kVideo), absl::StrCat("--audio_ssrc=", kAudio),
         absl::StrCat("--duration=", seconds)},
        source_log);
    if (!source.ok()) return source.status();
    absl::SleepFor(setup_.kill_after);
    kill(processes_["P1"]->pid(), SIGKILL);
    const absl::Time deadline = absl::Now() + setup_.stream + absl::Seconds(20);
    while ((*source)->Running() && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(50));
    }
    while ((*probe)->Running() && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(50));
    }
    (*probe)->Stop();
    (*source)->Stop();

    const std::string sent = LineStartingWith(source_log, "{");
    const std::string got = LineStartingWith(probe_log, "{\"type\":\"final\"");
    if (sent.empty() || got.empty()) {
      return absl::InternalError(absl::StrCat(
          "no report from ", sent.empty() ? "relay-source" : "relay-probe",
          " (logs in ", setup_.work_dir, ")"));
    }
    const double per_site = JsonNumber(sent, "video_packets").value_or(0) +
                            JsonNumber(sent, "audio_packets").value_or(0);
    const double distinct = JsonNumber(got, "packets").value_or(0) -
                            JsonNumber(got, "duplicates").value_or(0);
    FailoverRun run;
    run.packets_per_site = static_cast<int64_t>(per_site);
    // Both ways: never-seen packets and those lost after repair.
    run.lost = std::max<int64_t>(
        static_cast<int64_t>(per_site * setup_.sites - distinct),
        static_cast<int64_t>(JsonNumber(got, "lost").value_or(0)));
    run.longest_gap_ms = JsonNumber(got, "longest_gap_ms").value_or(-1);
    run.plis = static_cast<int64_t>(JsonNumber(got, "plis_sent").value_or(0));
    return run;
  }

 private:
  const FailoverSetup& setup_;
  std::string source_address_;
  std::map<std::string, std::string> addresses_;
  std::map<std::string, std::unique_ptr<Subprocess>> processes_;
};

}  // namespace

absl::StatusOr<FailoverRun> RunFailoverOnce(const FailoverSetup& setup) {
  mkdir(setup.work_dir.c_str(), 0755);
  Tree tree(setup);
  return tree.Run();
}

}  // namespace cascade::bench
