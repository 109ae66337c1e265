#include "tools/bench/failover_bench.h"

#include <signal.h>

#include <algorithm>
#include <memory>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/subprocess.h"
#include "tools/bench/process.h"
#include "tools/bench/relay_tree.h"

namespace cascade::bench {

absl::StatusOr<FailoverRun> RunFailoverOnce(const FailoverSetup& setup) {
  RelayTree tree(setup.binaries.relayd, setup.work_dir);
  absl::StatusOr<std::string> source_address = tree.ReserveSource();
  if (!source_address.ok()) return source_address.status();
  const std::vector<std::string> sites = SiteIds(setup.sites);
  for (const auto& [id, parents, children] :
       std::vector<std::tuple<std::string, std::vector<std::string>,
                              std::vector<std::string>>>{
           {"N", {"source"}, {"P1", "P2"}},
           {"P1", {"N"}, {"D"}},
           {"P2", {"N"}, {"D"}},
           {"D", {"P1", "P2"}, sites}}) {
    if (absl::Status s = tree.StartRelay(id, parents, children); !s.ok()) {
      return s;
    }
  }
  const std::string probe_log = setup.work_dir + "/probe.log";
  const double seconds = absl::ToDoubleSeconds(setup.stream);
  absl::StatusOr<std::unique_ptr<Subprocess>> probe = Subprocess::Start(
      {setup.binaries.probe, "--json", "--idle_exit=1.5",
       absl::StrCat("--duration=", seconds + 20),
       absl::StrCat("--sites=", setup.sites), "--parent=" + tree.address("D"),
       "--node_id=site", "--key=" + TreeKeyOf("site"), "--decode_sites=1"},
      {probe_log, probe_log});
  if (!probe.ok()) return probe.status();
  if (absl::Status joined = tree.WaitForChildren("D", "site-", setup.sites);
      !joined.ok()) {
    return joined;
  }

  const std::string source_log = setup.work_dir + "/source.log";
  absl::StatusOr<std::unique_ptr<Subprocess>> source = Subprocess::Start(
      {setup.binaries.source, "--json", "--width=320", "--height=180",
       absl::StrCat("--bitrate=", setup.video_kbps), "--fps=25", "--gop=50",
       "--bind=" + *source_address, "--dest=" + tree.address("N"),
       absl::StrCat("--ssrc=", kTreeVideoSsrc),
       absl::StrCat("--audio_ssrc=", kTreeAudioSsrc),
       absl::StrCat("--duration=", seconds)},
      {source_log, source_log});
  if (!source.ok()) return source.status();
  absl::SleepFor(setup.kill_after);
  kill(tree.pid("P1"), SIGKILL);
  const absl::Time deadline = absl::Now() + setup.stream + absl::Seconds(20);
  (*source)->Wait(deadline - absl::Now()).IgnoreError();
  (*probe)->Wait(deadline - absl::Now()).IgnoreError();
  (*probe)->Stop(absl::Seconds(2)).IgnoreError();
  (*source)->Stop(absl::Seconds(2)).IgnoreError();

  const std::string sent = LineStartingWith(source_log, "{");
  const std::string got = LineStartingWith(probe_log, "{\"type\":\"final\"");
  if (sent.empty() || got.empty()) {
    return absl::InternalError(absl::StrCat(
        "no report from ", sent.empty() ? "relay-source" : "relay-probe",
        " (logs in ", setup.work_dir, ")"));
  }
  const double per_site = JsonField(sent, "video_packets").value_or(0) +
                          JsonField(sent, "audio_packets").value_or(0);
  const double distinct = JsonField(got, "packets").value_or(0) -
                          JsonField(got, "duplicates").value_or(0);
  FailoverRun run;
  run.packets_per_site = static_cast<int64_t>(per_site);
  // Both ways: never-seen packets and those lost after repair.
  run.lost = std::max<int64_t>(
      static_cast<int64_t>(per_site * setup.sites - distinct),
      static_cast<int64_t>(JsonField(got, "lost").value_or(0)));
  run.longest_gap_ms = JsonField(got, "longest_gap_ms").value_or(-1);
  run.plis = static_cast<int64_t>(JsonField(got, "plis_sent").value_or(0));
  return run;
}

}  // namespace cascade::bench
