// relay-source: a synthetic (or file) H.264 + Opus RTP source for Cascade.
// See docs/media-tools.md.

#include <glog/logging.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/flags.h"
#include "control/stream_keys_client.h"
#include "control/tls.h"
#include "tools/media/cli.h"
#include "tools/source/source.h"

extern "C" {
#include <libavutil/log.h>
}

ABSL_FLAG(std::string, dest, "",
          "IP:PORT the RTP goes to (a relay, relay-probe or ffmpeg); required");
ABSL_FLAG(std::vector<std::string>, standby_dest, {},
          "comma-separated IP:PORTs that also get every packet and SR of both "
          "streams (hot standbys, e.g. the national relay's standby); NACKs "
          "are answered to whoever sent them");
ABSL_FLAG(std::string, audio_dest, "",
          "IP:PORT for the Opus stream. Default: with --sdp and no "
          "--sdp-dest, --dest's PORT+2, since the SDP then describes --dest "
          "as a player and a player (ffplay, VLC) binds one port per SDP m= "
          "line and the one above it for RTCP, so it cannot take both "
          "streams on one port; otherwise --dest itself (one port, split by "
          "SSRC: what a relay ingests)");
ABSL_FLAG(std::string, bind, "0.0.0.0:0",
          "local IP:PORT to send from; RTCP (NACK, PLI, FIR) is read here");
ABSL_FLAG(std::string, sdp, "",
          "write the session description a player opens (ffplay "
          "-protocol_whitelist file,udp,rtp -i FILE) to this file: video and "
          "audio each on a port of its own, RTCP on the same port. It "
          "describes --dest and --audio-dest, or --sdp-dest");
ABSL_FLAG(std::string, sdp_dest, "",
          "IP:PORT the SDP names as the player's (video; audio on PORT+2) "
          "when the stream reaches it through relays (--dest is a relay, and "
          "audio then shares its port); default: --dest and --audio-dest");
ABSL_FLAG(double, start_delay, 0,
          "seconds between writing the SDP and the first packet, so a "
          "receiver can be started from the SDP first");
ABSL_FLAG(double, duration, 10, "seconds to send; 0: until SIGINT/SIGTERM");
ABSL_FLAG(std::string, input, "",
          "send this media file (any format FFmpeg decodes, re-encoded, "
          "looped) instead of the test pattern");
ABSL_FLAG(std::string, codec, "h264", "video codec; only h264 is supported");
ABSL_FLAG(int, width, 640, "picture width (even)");
ABSL_FLAG(int, height, 360, "picture height (even)");
ABSL_FLAG(int, fps, 30, "frames per second");
ABSL_FLAG(int, bitrate, 1000, "video bitrate, kbit/s");
ABSL_FLAG(int, gop, 60, "frames between keyframes");
ABSL_FLAG(std::string, preset, "ultrafast", "x264 preset");
ABSL_FLAG(bool, audio, true, "send an Opus tone alongside the video");
ABSL_FLAG(int, audio_bitrate, 32, "Opus bitrate, kbit/s");
ABSL_FLAG(double, tone_hz, 440, "tone frequency");
ABSL_FLAG(int, mtu, 1200, "largest RTP packet in bytes, headers included");
ABSL_FLAG(double, pacing_factor, 2.5,
          "video leaves at up to this multiple of its bitrate");
ABSL_FLAG(uint32_t, ssrc, 0, "video SSRC; 0: random");
ABSL_FLAG(uint32_t, audio_ssrc, 0, "audio SSRC; 0: random");
ABSL_FLAG(std::string, srtp_key_file, "",
          "encrypt both streams end to end (SRTP AEAD_AES_128_GCM, key id in "
          "every packet) under the last key of this file: one key a line, "
          "KEY_ID_HEX KEY_HEX (1..4-byte id, 28-byte key and salt), oldest "
          "first. SIGHUP reads it again and moves to its last key (a "
          "rotation: receivers hold the old and the new key)");
ABSL_FLAG(std::string, upstream_key_file, "",
          "decrypt the sites' upstream streams (SRTP, as relay-probe sends "
          "them with upstream_key_file= on its sites file) under the keys of "
          "this file, any SSRC; a packet that does not authenticate is not "
          "counted (upstream_bad_packets). With --controller the upstream "
          "streams' keys come from topologyd instead, each stream its own");
ABSL_FLAG(std::string, controller, "",
          "HOST:PORT[,HOST:PORT...] of topologyd: encrypt both streams "
          "under the stream keys it makes for --node's stream and rotates, "
          "polled (GetStreamKeys); instead of --srtp_key_file. Nothing is "
          "sent before the first key arrives (the log says \"waiting for "
          "the stream key from topologyd at ...\" every few seconds); each "
          "packet goes under the newest key whose send time has passed, "
          "never in the clear");
ABSL_FLAG(std::string, node, "",
          "with --controller: the node this source is in the topology (a "
          "downstream stream's source_node), named by --tls_cert");
ABSL_FLAG(std::string, stream, "",
          "with --controller: the stream to encrypt, when --node sources "
          "several downstream streams");
ABSL_FLAG(std::string, tls_ca, "",
          "with --controller: PEM CA that signed topologyd's certificate");
ABSL_FLAG(std::string, tls_cert, "",
          "with --controller: PEM certificate naming --node (relayctl pki "
          "issue NODE), for topologyd's mutual TLS");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert");
ABSL_FLAG(bool, insecure, false,
          "with --controller: ask topologyd in plaintext, without --tls_ca "
          "(a test bed); refused otherwise");
ABSL_FLAG(bool, json, false,
          "print the final counters as one JSON line, with the upstream "
          "streams received back per SSRC");

namespace {

cascade::source::Source* g_source = nullptr;

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

// The upstream streams received, as a JSON array: per SSRC the packets, the
// first arrival (Unix ms) and the latency from the send time.
std::string UpstreamJson(const cascade::source::UpstreamCounter& upstream) {
  std::vector<std::string> items;
  for (const auto& [ssrc, stream] : upstream.streams()) {
    items.push_back(absl::StrFormat(
        "{\"ssrc\":%u,\"packets\":%d,\"bytes\":%d,\"first_unix_ms\":%.3f,"
        "\"latency_samples\":%d,\"latency_p50_ms\":%.3f,"
        "\"latency_p99_ms\":%.3f,\"latency_max_ms\":%.3f}",
        ssrc, stream.packets, stream.bytes,
        absl::ToDoubleMilliseconds(stream.first_arrival - absl::UnixEpoch()),
        stream.latency.count(), Ms(stream.latency.Percentile(0.5)),
        Ms(stream.latency.Percentile(0.99)), Ms(stream.latency.Max())));
  }
  return absl::StrCat("[", absl::StrJoin(items, ","), "]");
}

void OnSignal(int) {
  if (g_source != nullptr) g_source->Stop();
}

// Hands topologyd's keys to the source: those of the downstream stream it
// sends (--node's, or --stream) to encrypt with, those of the upstream
// streams (the sites') to decrypt what comes back with, by SSRC.
class KeysToSource : public cascade::control::StreamKeysListener {
 public:
  KeysToSource(cascade::source::Source* source, std::string node,
               std::string stream)
      : source_(source), node_(std::move(node)), stream_(std::move(stream)) {}

  void OnStreamKeys(
      const std::vector<cascade::control::ReceivedStreamKey>& keys) override {
    std::set<std::string> streams;
    std::vector<cascade::source::ScheduledKey> schedule;
    cascade::source::UpstreamKeys upstream;
    for (const auto& key : keys) {
      if (key.direction == cascade::v1::DIRECTION_UPSTREAM) {
        for (uint32_t ssrc : key.ssrcs) {
          upstream.by_ssrc[ssrc].push_back({key.key_id, key.material});
        }
        continue;
      }
      streams.insert(key.stream);
      if (!stream_.empty() && key.stream != stream_) continue;
      schedule.push_back({{key.key_id, key.material}, key.send_from});
    }
    source_->SetUpstreamKeys(std::move(upstream));
    if (stream_.empty() && streams.size() > 1) {
      LOG(ERROR) << "node " << node_ << " sources several downstream streams ("
                 << absl::StrJoin(streams, ", ")
                 << "): give --stream; sending nothing new";
      return;
    }
    if (schedule.empty()) {
      LOG(WARNING) << "topologyd has no key of "
                   << (stream_.empty() ? "any stream" : "stream " + stream_)
                   << " for node " << node_
                   << " (is it the stream's source_node?)";
      return;
    }
    source_->SetStreamKeys(std::move(schedule));
  }

 private:
  cascade::source::Source* const source_;
  const std::string node_;
  const std::string stream_;
};

void OnHangup(int) {
  if (g_source != nullptr) g_source->ReloadKeys();
}

// The stream key in use, hex; "" when the stream is not encrypted.
std::string KeyIdHex(const cascade::source::Source& source) {
  const std::vector<uint8_t> id = source.key_id();
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(id.data()), id.size()));
}

[[noreturn]] void BadFlag(const std::string& flag, const std::string& why) {
  std::cerr << "relay-source: --" << flag << ": " << why << "\n";
  std::exit(2);
}

cascade::media::Endpoint EndpointFlag(const std::string& flag,
                                      const std::string& value) {
  auto endpoint = cascade::media::Endpoint::Parse(value);
  if (!endpoint.ok()) BadFlag(flag, std::string(endpoint.status().message()));
  return *endpoint;
}

}  // namespace

int main(int argc, char** argv) {
  cascade::ParseFlags(
      argc, argv,
      "relay-source --dest=IP:PORT [--sdp=FILE] [--duration=SECONDS] ...\n"
      "Sends an H.264 test pattern (frame number and send time drawn in) and "
      "an Opus tone as RTP, paced, with the send time in a header extension; "
      "answers NACK, PLI and FIR. Encrypted (SRTP) under --srtp-key-file, or "
      "under topologyd's stream keys with --controller --node (mutual TLS: "
      "--tls-ca --tls-cert --tls-key): then nothing is sent until the first "
      "key comes, and the log says it is waiting for it.");

  // libx264 and libopus log statistics at info level; keep stderr for
  // problems.
  av_log_set_level(AV_LOG_ERROR);
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);

  cascade::source::SourceOptions options;
  if (absl::GetFlag(FLAGS_dest).empty()) BadFlag("dest", "required");
  options.dest = EndpointFlag("dest", absl::GetFlag(FLAGS_dest));
  if (options.dest.port == 0) BadFlag("dest", "port 0");
  for (const std::string& standby : absl::GetFlag(FLAGS_standby_dest)) {
    options.standby_dests.push_back(EndpointFlag("standby_dest", standby));
    if (options.standby_dests.back().port == 0) {
      BadFlag("standby_dest", "port 0");
    }
  }
  options.bind = EndpointFlag("bind", absl::GetFlag(FLAGS_bind));
  options.sdp_path = absl::GetFlag(FLAGS_sdp);
  if (!absl::GetFlag(FLAGS_sdp_dest).empty()) {
    options.sdp_dest = EndpointFlag("sdp_dest", absl::GetFlag(FLAGS_sdp_dest));
    if (options.sdp_dest->port == 0 || options.sdp_dest->port > 65533) {
      BadFlag("sdp_dest", "port must be 1..65533");
    }
  }
  // The SDP describes --dest as a player: its audio needs a port of its own.
  const bool sdp_for_dest = !options.sdp_path.empty() &&
                            !options.sdp_dest.has_value() &&
                            absl::GetFlag(FLAGS_audio);
  if (!absl::GetFlag(FLAGS_audio_dest).empty()) {
    options.audio_dest =
        EndpointFlag("audio_dest", absl::GetFlag(FLAGS_audio_dest));
    if (options.audio_dest->port == 0) BadFlag("audio_dest", "port 0");
    if (sdp_for_dest && options.audio_dest->ip == options.dest.ip &&
        std::abs(options.audio_dest->port - options.dest.port) < 2) {
      BadFlag("audio_dest",
              "within a port of --dest: a player binds each port the SDP "
              "(--sdp) names and the one above it for RTCP; give the audio a "
              "port at least 2 away, or --sdp-dest when --dest is a relay");
    }
  } else if (sdp_for_dest) {
    if (options.dest.port > 65533) {
      BadFlag("dest", "port must be 1..65533 with --sdp (audio goes to +2)");
    }
    options.audio_dest = options.dest;
    options.audio_dest->port += 2;
  }
  const double duration = absl::GetFlag(FLAGS_duration);
  if (!(duration >= 0)) BadFlag("duration", "must be >= 0");
  options.duration = absl::Seconds(duration);
  const double start_delay = absl::GetFlag(FLAGS_start_delay);
  if (!(start_delay >= 0 && start_delay <= 60)) {
    BadFlag("start_delay", "must be 0..60");
  }
  options.start_delay = absl::Seconds(start_delay);
  options.input_path = absl::GetFlag(FLAGS_input);
  if (absl::GetFlag(FLAGS_codec) != "h264") {
    BadFlag("codec", "only h264 is supported");
  }
  options.video.width = absl::GetFlag(FLAGS_width);
  options.video.height = absl::GetFlag(FLAGS_height);
  if (options.video.width < 160 || options.video.height < 96 ||
      options.video.width % 2 || options.video.height % 2) {
    BadFlag("width/height", "even, at least 160x96");
  }
  options.video.frame_rate = absl::GetFlag(FLAGS_fps);
  if (options.video.frame_rate < 1 || options.video.frame_rate > 120) {
    BadFlag("fps", "must be 1..120");
  }
  options.video.bitrate_kbps = absl::GetFlag(FLAGS_bitrate);
  if (options.video.bitrate_kbps < 10) BadFlag("bitrate", "at least 10 kbit/s");
  options.video.gop = absl::GetFlag(FLAGS_gop);
  if (options.video.gop < 1) BadFlag("gop", "must be >= 1");
  options.video.preset = absl::GetFlag(FLAGS_preset);
  options.audio = absl::GetFlag(FLAGS_audio);
  options.audio_bitrate_kbps = absl::GetFlag(FLAGS_audio_bitrate);
  if (options.audio_bitrate_kbps < 6 || options.audio_bitrate_kbps > 510) {
    BadFlag("audio_bitrate", "must be 6..510 kbit/s");
  }
  options.tone_hz = absl::GetFlag(FLAGS_tone_hz);
  if (!(options.tone_hz > 0 && options.tone_hz < 24000)) {
    BadFlag("tone_hz", "must be within 0..24000");
  }
  options.max_packet_size = static_cast<size_t>(absl::GetFlag(FLAGS_mtu));
  if (absl::GetFlag(FLAGS_mtu) < 100 || absl::GetFlag(FLAGS_mtu) > 2000) {
    BadFlag("mtu", "must be 100..2000");
  }
  options.pacing_factor = absl::GetFlag(FLAGS_pacing_factor);
  if (!(options.pacing_factor >= 1)) BadFlag("pacing_factor", "must be >= 1");
  options.video_ssrc = absl::GetFlag(FLAGS_ssrc);
  options.audio_ssrc = absl::GetFlag(FLAGS_audio_ssrc);
  options.srtp_key_file = absl::GetFlag(FLAGS_srtp_key_file);
  options.upstream_key_file = absl::GetFlag(FLAGS_upstream_key_file);
  if (!options.upstream_key_file.empty()) {
    if (!absl::GetFlag(FLAGS_controller).empty()) {
      BadFlag("upstream_key_file",
              "not with --controller: the upstream keys come from topologyd");
    }
    auto keys = cascade::media::ReadSrtpKeyFile(options.upstream_key_file);
    if (!keys.ok()) {
      BadFlag("upstream_key_file", std::string(keys.status().message()));
    }
  }
  // The flags' clash first: it says more than the file's contents.
  if (!options.srtp_key_file.empty() &&
      !absl::GetFlag(FLAGS_controller).empty()) {
    BadFlag("srtp_key_file",
            "not with --controller: the stream keys come from topologyd");
  }
  if (!options.srtp_key_file.empty()) {
    auto keys = cascade::media::ReadSrtpKeyFile(options.srtp_key_file);
    if (!keys.ok()) {
      BadFlag("srtp_key_file", std::string(keys.status().message()));
    }
  }
  const std::string controller = absl::GetFlag(FLAGS_controller);
  const std::string node = absl::GetFlag(FLAGS_node);
  const cascade::control::TlsClientFiles tls = {absl::GetFlag(FLAGS_tls_ca),
                                                absl::GetFlag(FLAGS_tls_cert),
                                                absl::GetFlag(FLAGS_tls_key)};
  std::optional<cascade::control::StreamKeysClientOptions> keys_client;
  if (controller.empty()) {
    const std::pair<const char*, std::string> needing_controller[] = {
        {"node", node},
        {"stream", absl::GetFlag(FLAGS_stream)},
        {"tls_ca", tls.ca},
        {"tls_cert", tls.cert},
        {"tls_key", tls.key}};
    for (const auto& [flag, value] : needing_controller) {
      if (!value.empty()) BadFlag(flag, "only with --controller");
    }
    if (absl::GetFlag(FLAGS_insecure))
      BadFlag("insecure", "only with --controller");
  } else {
    if (node.empty()) BadFlag("node", "required with --controller");
    auto client = cascade::control::StreamKeysOptionsFromFlags(
        controller, tls, absl::GetFlag(FLAGS_insecure), {node});
    if (!client.ok()) {
      std::cerr << "relay-source: " << client.status().message() << "\n";
      std::exit(2);
    }
    keys_client = *std::move(client);
    options.scheduled_keys = true;
    options.keys_origin = absl::StrCat("topologyd at ", controller);
  }

  auto source = cascade::source::Source::Create(options);
  if (!source.ok()) {
    std::cerr << "relay-source: " << source.status().message() << "\n";
    return 1;
  }
  // Started before Run, which waits for its first key.
  std::unique_ptr<KeysToSource> keys_listener;
  std::unique_ptr<cascade::control::StreamKeysClient> keys;
  if (keys_client.has_value()) {
    keys_listener = std::make_unique<KeysToSource>(source->get(), node,
                                                   absl::GetFlag(FLAGS_stream));
    keys = std::make_unique<cascade::control::StreamKeysClient>(
        *std::move(keys_client), keys_listener.get());
    keys->Start();
  }
  g_source = source->get();
  signal(SIGINT, OnSignal);
  signal(SIGTERM, OnSignal);
  signal(SIGHUP, OnHangup);
  absl::Status status = (*source)->Run();
  g_source = nullptr;
  if (keys != nullptr) keys->Stop();
  const auto& s = (*source)->stats();
  if (absl::GetFlag(FLAGS_json)) {
    std::cout << absl::StrFormat(
        "{\"video_ssrc\":%u,\"audio_ssrc\":%u,\"frames\":%d,\"keyframes\":%d,"
        "\"forced_keyframes\":%d,\"video_packets\":%d,\"audio_packets\":%d,"
        "\"bytes\":%d,\"retransmissions\":%d,\"nack_misses\":%d,"
        "\"keyframe_requests\":%d,\"rtcp_received\":%d,\"bad_packets\":%d,"
        "\"send_errors\":%d,\"key_id\":\"%s\",\"key_changes\":%d,"
        "\"upstream_bad_packets\":%d,\"upstream\":%s}\n",
        (*source)->video_ssrc(), (*source)->audio_ssrc(), s.frames, s.keyframes,
        s.forced_keyframes, s.video_packets, s.audio_packets, s.bytes,
        s.retransmissions, s.nack_misses, s.keyframe_requests, s.rtcp_received,
        s.bad_packets, s.send_errors, KeyIdHex(**source), s.key_changes,
        (*source)->upstream().bad_packets(),
        UpstreamJson((*source)->upstream()));
  } else {
    std::cerr << absl::StrFormat(
        "relay-source: %d frames (%d keyframes, %d forced), %d video + %d "
        "audio packets, %d retransmitted, %d send errors\n",
        s.frames, s.keyframes, s.forced_keyframes, s.video_packets,
        s.audio_packets, s.retransmissions, s.send_errors);
    for (const auto& [ssrc, stream] : (*source)->upstream().streams()) {
      std::cerr << absl::StrFormat(
          "relay-source: upstream SSRC %u: %d packets, latency p50 %.1f ms, "
          "p99 %.1f ms\n",
          ssrc, stream.packets, Ms(stream.latency.Percentile(0.5)),
          Ms(stream.latency.Percentile(0.99)));
    }
  }
  if (!status.ok()) {
    std::cerr << "relay-source: " << status.message() << "\n";
    return 1;
  }
  return 0;
}
