// relay-record: joins the tree as a site and records the program video, as
// sent (no re-encoding), into Matroska or MP4 segments. See
// docs/media-tools.md.

#include <signal.h>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "base/flags.h"
#include "child/silence_timeout.h"
#include "tools/media/cli.h"
#include "tools/probe/config.h"
#include "tools/probe/probe.h"
#include "tools/record/recorder.h"

extern "C" {
#include <libavutil/log.h>
}

ABSL_FLAG(std::string, out, "",
          "directory the segments go to (must exist and be writable); each "
          "is written as NAME.part and renamed once finished");
ABSL_FLAG(std::string, format, "mkv",
          "mkv (Matroska: readable up to the last frame even if the "
          "recorder is killed) or mp4");
ABSL_FLAG(absl::Duration, segment, absl::Minutes(10),
          "segment length: a new file starts at the first keyframe this "
          "long into the current one, e.g. 10m, 30s (at least 1s)");
ABSL_FLAG(absl::Duration, gap, absl::Seconds(1),
          "no frame for longer than this is logged as a gap (with its "
          "length); a parent switch is logged whatever its length");
ABSL_FLAG(std::string, listen, "127.0.0.1:0", "IP:PORT to receive on");
ABSL_FLAG(std::string, parent, "",
          "IP:PORT[,IP:PORT...] of the relays to join as an authorised "
          "child: the primary first, then standbys to fail over to; empty: "
          "a plain push endpoint at --listen");
ABSL_FLAG(std::string, node_id, "", "node id to activate with at the parents");
ABSL_FLAG(std::string, key, "",
          "the node's activation key, hex: one for every parent, or a "
          "comma-separated list with one per --parent");
ABSL_FLAG(std::string, key_file, "", "file holding --key's text");
ABSL_FLAG(std::string, srtp_key_file, "",
          "the stream keys of an encrypted (SRTP) stream, one a line, "
          "KEY_ID_HEX KEY_HEX; without it the stream is plain RTP");
ABSL_FLAG(absl::Duration, parent_timeout, absl::Milliseconds(300),
          "fail over to the next --parent when the active one has been "
          "silent this long");
ABSL_FLAG(absl::Duration, keepalive, absl::Milliseconds(250),
          "how often the recorder renews with its parent (relayd's "
          "--keepalive)");
ABSL_FLAG(double, repair_wait_ms, 600,
          "how long a missing packet may wait for its retransmission before "
          "its frame is dropped (and the recording waits for a keyframe)");
ABSL_FLAG(int, video_pt, 96, "RTP payload type of the H.264 stream");
ABSL_FLAG(double, duration, 0, "seconds to record; 0: until SIGINT/SIGTERM");

namespace {

using cascade::probe::Probe;
using cascade::probe::SiteOptions;
using cascade::record::Recorder;
using cascade::record::RecorderOptions;

Probe* g_probe = nullptr;

void OnSignal(int) {
  if (g_probe != nullptr) g_probe->Stop();
}

[[noreturn]] void BadFlag(const std::string& flag, const std::string& why) {
  std::cerr << "relay-record: --" << flag << ": " << why << "\n";
  std::exit(2);
}

// The site's options from the flags; exits 2 naming a bad one.
SiteOptions SiteFlags() {
  SiteOptions site;
  auto listen = cascade::media::Endpoint::Parse(absl::GetFlag(FLAGS_listen));
  if (!listen.ok()) BadFlag("listen", std::string(listen.status().message()));
  site.listen = *listen;
  site.decode = false;
  const int video_pt = absl::GetFlag(FLAGS_video_pt);
  if (video_pt < 0 || video_pt > 127) BadFlag("video_pt", "must be 0..127");
  site.video_payload_type = static_cast<uint8_t>(video_pt);
  const double repair_wait = absl::GetFlag(FLAGS_repair_wait_ms);
  if (!(repair_wait >= 0 && repair_wait <= 10000)) {
    BadFlag("repair_wait_ms", "must be 0..10000");
  }
  site.assembler.max_wait = absl::Milliseconds(repair_wait);
  site.parent_timeout = absl::GetFlag(FLAGS_parent_timeout);
  if (site.parent_timeout < absl::Milliseconds(10) ||
      site.parent_timeout > absl::Minutes(1)) {
    BadFlag("parent_timeout", "must be between 10ms and 1m");
  }
  site.parent_timeout_max =
      cascade::child::DefaultSilenceCeiling(site.parent_timeout);
  site.keepalive_interval = absl::GetFlag(FLAGS_keepalive);
  if (site.keepalive_interval < absl::Milliseconds(10) ||
      site.keepalive_interval > absl::Seconds(10)) {
    BadFlag("keepalive", "must be between 10ms and 10s");
  }
  if (const std::string path = absl::GetFlag(FLAGS_srtp_key_file);
      !path.empty()) {
    auto keys = cascade::media::ReadSrtpKeyFile(path);
    if (!keys.ok()) {
      BadFlag("srtp_key_file", std::string(keys.status().message()));
    }
    site.srtp_keys = *std::move(keys);
  }
  if (absl::GetFlag(FLAGS_parent).empty()) return site;
  std::string keys = absl::GetFlag(FLAGS_key);
  if (!absl::GetFlag(FLAGS_key_file).empty()) {
    std::string error;
    if (!cascade::ReadFlagFile("--key_file", absl::GetFlag(FLAGS_key_file),
                               &keys, &error)) {
      std::cerr << "relay-record: " << error << "\n";
      std::exit(2);
    }
  }
  if (keys.empty()) BadFlag("key", "--key or --key_file is required");
  auto parents =
      cascade::probe::ParseParents(absl::GetFlag(FLAGS_parent), keys);
  if (!parents.ok()) BadFlag("parent", std::string(parents.status().message()));
  site.parents = *std::move(parents);
  site.node_id = absl::GetFlag(FLAGS_node_id);
  if (site.node_id.empty()) BadFlag("node_id", "required with --parent");
  if (absl::Status valid = cascade::probe::CheckNodeId(site.node_id);
      !valid.ok()) {
    BadFlag("node_id", std::string(valid.message()));
  }
  return site;
}

RecorderOptions RecorderFlags() {
  RecorderOptions options;
  options.directory = absl::GetFlag(FLAGS_out);
  if (options.directory.empty()) BadFlag("out", "required (a directory)");
  const std::string format = absl::GetFlag(FLAGS_format);
  if (format == "mp4") {
    options.container = cascade::record::Container::kMp4;
  } else if (format != "mkv") {
    BadFlag("format", "must be mkv or mp4");
  }
  options.segment = absl::GetFlag(FLAGS_segment);
  if (options.segment < absl::Seconds(1)) {
    BadFlag("segment", "must be at least 1s");
  }
  options.gap = absl::GetFlag(FLAGS_gap);
  if (options.gap <= absl::ZeroDuration()) BadFlag("gap", "must be positive");
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<char*> args = cascade::ParseFlags(
      argc, argv,
      "relay-record --out=DIR --parent=IP:PORT[,STANDBY...] --node-id=ID "
      "--key=HEX[,HEX...] [--segment=10m] [--format=mkv|mp4] "
      "[--srtp-key-file=FILE]\n"
      "Joins the tree like a site (signed activation, keepalives, NACK "
      "repair, failover to the next --parent when the active one falls "
      "silent) and writes the program's H.264 video as it was sent, without "
      "re-encoding, into segments DIR/rec-<UTC start>.mkv (or .mp4). Each "
      "segment starts at a keyframe and decodes on its own, carries its "
      "wall-clock start (creation_time, WALLCLOCK_START), and is finished "
      "(trailer, renamed from .part) at its end and on SIGINT/SIGTERM. "
      "Timestamps come from RTP: a failover or a relay restart leaves a "
      "hole in the timeline, logged on stderr with its length, never a "
      "broken file. Audio is not recorded yet. Exit code 1 when a file "
      "could not be written or nothing was recorded, 2 for bad flags or "
      "a bad --out directory.");
  if (args.size() > 1) {
    std::cerr << "relay-record: unexpected argument '" << args[1]
              << "' (flags only; see --help)\n";
    return 2;
  }
  av_log_set_level(AV_LOG_ERROR);
  const RecorderOptions recorder_options = RecorderFlags();
  SiteOptions site = SiteFlags();
  const double duration = absl::GetFlag(FLAGS_duration);
  if (!(duration >= 0)) BadFlag("duration", "must be >= 0");

  auto recorder = Recorder::Create(recorder_options, &std::cerr);
  if (!recorder.ok()) {
    BadFlag("out", std::string(recorder.status().message()));
  }
  int write_errors = 0;
  const cascade::probe::Site* joined = nullptr;  // once created
  size_t parent_index = 0;
  site.on_access_unit = [&](const cascade::probe::VideoAccessUnit& unit) {
    // Checked as each frame comes, so the frame after a switch carries it.
    if (joined != nullptr && joined->active_parent_index() != parent_index) {
      parent_index = joined->active_parent_index();
      const std::string to = joined->active_parent()->address.ToString();
      std::cerr << "relay-record: parent switch to " << to << std::endl;
      (*recorder)->NoteDiscontinuity("parent switch to " + to);
    }
    if (absl::Status written = (*recorder)->Write(unit); !written.ok()) {
      ++write_errors;
      std::cerr << "relay-record: " << written.message()
                << " (a new segment starts at the next keyframe)\n";
    }
  };
  auto probe = Probe::Create({site});
  if (!probe.ok()) {
    std::cerr << "relay-record: " << probe.status().message() << "\n";
    return 1;
  }
  joined = (*probe)->sites()[0].get();
  std::cerr << "relay-record: listening on " << joined->local().ToString()
            << std::endl;
  g_probe = probe->get();
  signal(SIGINT, OnSignal);
  signal(SIGTERM, OnSignal);
  (*probe)->Run(absl::Seconds(duration), absl::Seconds(1), nullptr);
  g_probe = nullptr;
  (*probe)->sites()[0]->Leave(absl::Now());
  if (absl::Status closed = (*recorder)->Close(); !closed.ok()) {
    std::cerr << "relay-record: " << closed.message() << "\n";
    return 1;
  }
  const auto& segments = (*recorder)->segments();
  std::cerr << "relay-record: " << segments.size() << " segment(s), "
            << (*recorder)->gaps() << " gap(s)\n";
  if (segments.empty()) {
    std::cerr << "relay-record: nothing recorded (no keyframe arrived)\n";
    return 1;
  }
  return write_errors > 0 ? 1 : 0;
}
