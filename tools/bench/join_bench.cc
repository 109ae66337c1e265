#include "tools/bench/join_bench.h"

#include <memory>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/subprocess.h"
#include "tools/bench/process.h"
#include "tools/bench/relay_tree.h"

namespace cascade::bench {

absl::StatusOr<JoinResult> RunJoins(const JoinSetup& setup) {
  RelayTree tree(setup.binaries.relayd, setup.work_dir);
  absl::StatusOr<std::string> source_address = tree.ReserveSource();
  if (!source_address.ok()) return source_address.status();
  if (absl::Status s = tree.StartRelay("R", {"source"}, SiteIds(setup.joins),
                                       setup.keyframe_cache);
      !s.ok()) {
    return s;
  }
  // Long enough for every join: each starts up to a GOP after the previous
  // one ended and waits at most a GOP and a half.
  const absl::Duration per_join = setup.gop * 1.5 + absl::Seconds(1);
  const double seconds = absl::ToDoubleSeconds(
      setup.gop + (setup.gop + per_join) * setup.joins + absl::Seconds(2));
  const int fps = 25;
  absl::StatusOr<std::unique_ptr<Subprocess>> source = Subprocess::Start(
      {setup.binaries.source, "--width=320", "--height=180", "--bitrate=1000",
       absl::StrCat("--fps=", fps),
       absl::StrCat("--gop=",
                    static_cast<int>(absl::ToDoubleSeconds(setup.gop) * fps)),
       "--bind=" + *source_address, "--dest=" + tree.address("R"),
       absl::StrCat("--ssrc=", kTreeVideoSsrc),
       absl::StrCat("--audio_ssrc=", kTreeAudioSsrc),
       absl::StrCat("--duration=", seconds)},
      {setup.work_dir + "/source.log", setup.work_dir + "/source.log"});
  if (!source.ok()) return source.status();
  // The relay has seen a keyframe before anyone joins.
  absl::SleepFor(setup.gop);

  std::mt19937_64 rng(setup.seed);
  std::uniform_real_distribution<double> phase(0, 1);
  JoinResult result;
  for (int i = 0; i < setup.joins; ++i) {
    // Land anywhere in the GOP.
    absl::SleepFor(setup.gop * phase(rng));
    const std::string log = absl::StrCat(setup.work_dir, "/site-", i, ".log");
    absl::StatusOr<std::unique_ptr<Subprocess>> probe = Subprocess::Start(
        {setup.binaries.probe, "--json", "--feedback=false", "--min_frames=0",
         absl::StrCat("--duration=", absl::ToDoubleSeconds(per_join)),
         "--parent=" + tree.address("R"), absl::StrCat("--node_id=site-", i),
         "--key=" + TreeKeyOf("site")},
        {log, log});
    if (!probe.ok()) return probe.status();
    (*probe)->Wait(per_join + absl::Seconds(5)).IgnoreError();
    (*probe)->Stop(absl::Seconds(2)).IgnoreError();
    const std::string final = LineStartingWith(log, "{\"type\":\"final\"");
    const std::optional<double> first = JsonField(final, "first_frame_ms");
    if (first.has_value()) {
      result.first_frame_ms.push_back(*first);
    } else {
      ++result.failed;
    }
  }
  (*source)->Stop(absl::Seconds(2)).IgnoreError();
  return result;
}

}  // namespace cascade::bench
