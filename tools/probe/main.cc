// relay-probe: one or many Cascade sites that count, repair, decode and
// measure the stream they receive. See docs/media-tools.md.

#include <signal.h>
#include <sys/resource.h>

#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/files.h"
#include "base/flags.h"
#include "child/silence_timeout.h"
#include "control/stream_keys_client.h"
#include "control/tls.h"
#include "google/protobuf/struct.pb.h"
#include "tools/media/cli.h"
#include "tools/probe/config.h"
#include "tools/probe/controller_keys.h"
#include "tools/probe/probe.h"
#include "tools/probe/report.h"
#include "tools/probe/whep_client.h"
#include "tools/probe/whep_viewers.h"
#include "webrtc/edge/srtp_gcm_openssl.h"

extern "C" {
#include <libavutil/log.h>
}

ABSL_FLAG(std::string, listen, "",
          "IP:PORT to receive on (port 0: the kernel picks; see --port_file). "
          "With --sites=N (or --whep_viewers=N) and a non-zero port, site i "
          "listens on PORT+i. Default 127.0.0.1:0; with --whep 0.0.0.0:0");
ABSL_FLAG(int, sites, 1, "number of sites in this process");
ABSL_FLAG(std::string, sites_file, "",
          "one site per line: LISTEN [PARENT NODE_ID KEY_HEX [PARENT "
          "KEY_HEX]... [upstream=SSRC [upstream_key_file=PATH]]] (extra "
          "parent/key pairs: standbys, in order; upstream=: as "
          "--upstream_ssrc for that site, encrypted (SRTP) under the last key "
          "of upstream_key_file= when given); replaces "
          "--listen/--sites/--parent/--node_id/--key/--upstream_ssrc");
ABSL_FLAG(std::string, srtp_key_file, "",
          "the stream keys of an encrypted (SRTP) stream, for every site: "
          "one key a line, oldest first, KEY_ID_HEX KEY_HEX (the file "
          "relay-source --srtp_key_file encrypts with); a --sites_file "
          "line's srtp_key_file=PATH replaces it for that site. Without "
          "keys a site takes the stream as plain RTP");
ABSL_FLAG(std::string, controller, "",
          "HOST:PORT[,HOST:PORT...] of topologyd: the sites without keys of "
          "their own (srtp_key_file= on their --sites_file line) take the "
          "stream keys of their node ids from it, polled (GetStreamKeys), "
          "and hold exactly the keys it gives (a rotation's next key before "
          "it is used). One certificate (--tls_cert) must name every such "
          "node: at most 256 a process. Until the first key a site counts "
          "the stream's packets as bad_packets. A site sending upstream "
          "(upstream=SSRC) without upstream_key_file= encrypts it under the "
          "keys topologyd makes for the upstream stream it sources with that "
          "SSRC, and sends nothing before the first. Not with "
          "--srtp_key_file");
ABSL_FLAG(std::string, tls_ca, "",
          "with --controller: PEM CA that signed topologyd's certificate");
ABSL_FLAG(std::string, tls_cert, "",
          "with --controller: PEM certificate naming the sites' nodes "
          "(relayctl pki issue ID ID...), for topologyd's mutual TLS");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert");
ABSL_FLAG(bool, insecure, false,
          "with --controller: ask topologyd in plaintext, without --tls_ca "
          "(a test bed); refused otherwise");
ABSL_FLAG(int, decode_sites, -1,
          "how many sites (the first ones) decode; the others only count. "
          "-1: the first site, or with --whep every viewer");
ABSL_FLAG(std::string, whep, "",
          "watch as WebRTC viewers of a relay's browser edge: the link "
          "relayctl url prints, https://HOST:PORT/watch#stream=S&token=T (or "
          "https://HOST:PORT/whep/S#token=T). Each viewer POSTs its own "
          "WHEP offer, runs ICE, DTLS and SRTP on its own socket, NACKs and "
          "PLIs over SRTCP, is measured like a site, and DELETEs its session "
          "at the end. A refusal (401, 403, 404, 503) exits 1 with the "
          "relay's answer. Replaces --sites/--sites_file/--parent");
ABSL_FLAG(int, whep_viewers, 1, "with --whep: viewers in this process");
ABSL_FLAG(bool, whep_insecure_tls, false,
          "with an https:// --whep: accept any certificate (a lab's "
          "self-signed one); by default it must chain to a trusted CA");
ABSL_FLAG(std::string, whep_ca, "",
          "with an https:// --whep: PEM file of the CA(s) the relay's "
          "certificate must chain to, instead of the system's");
ABSL_FLAG(std::string, parent, "",
          "IP:PORT[,IP:PORT...] of the relays to join as an authorised child: "
          "the primary first, then standbys to fail over to in order; empty: "
          "a plain push endpoint");
ABSL_FLAG(std::string, node_id, "",
          "node id to activate with (with --sites=N > 1: ID-0 .. ID-(N-1))");
ABSL_FLAG(std::string, key, "",
          "the node's activation key, hex: one for every parent, or a "
          "comma-separated list with one per --parent");
ABSL_FLAG(std::string, key_file, "",
          "file holding --key's text (one hex key or a comma-separated list)");
ABSL_FLAG(uint32_t, upstream_ssrc, 0,
          "with --parent: also send the site's own stream upstream to its "
          "active parent (following failover) with this SSRC (with --sites=N: "
          "SSRC+i for site i), --upstream_rate packets of --upstream_size "
          "bytes a second, each with its send time in the header extension; "
          "0: none");
ABSL_FLAG(double, upstream_rate, 20, "upstream packets per second, 1..1000");
ABSL_FLAG(int, upstream_size, 200,
          "bytes of each upstream RTP packet, headers included, 64..1200");
ABSL_FLAG(absl::Duration, parent_timeout, absl::Milliseconds(300),
          "fail over to the next --parent (wrapping round) when the active "
          "one, once heard, has sent nothing (no RTP, no RTCP) this long, "
          "e.g. 300ms; each new parent gets this long before the next move");
ABSL_FLAG(absl::Duration, parent_timeout_max, absl::ZeroDuration(),
          "--parent_timeout is the floor: a parent that left longer gaps "
          "lately is allowed twice its longest recent gap, up to this; 0: 4 "
          "x --parent_timeout; equal to it: a fixed timeout (as relayd's)");
ABSL_FLAG(absl::Duration, keepalive, absl::Milliseconds(250),
          "how often each site renews with its parent (an RR on a grid shared "
          "with relayd); the parent takes three missed for a silent child. "
          "Use relayd's --keepalive");
ABSL_FLAG(double, nack_rate, 450,
          "sequence numbers NACKed per second at most, retries included "
          "(relayd answers 500/s per child)");
ABSL_FLAG(double, nack_burst, 2000,
          "sequence numbers NACKed at once at most, e.g. for a failover's gap "
          "(relayd answers bursts of 2000 per child)");
ABSL_FLAG(bool, feedback, true,
          "send NACK for gaps and PLI when the picture cannot be decoded (to "
          "the parent, or to the sender of a pushed stream)");
ABSL_FLAG(double, duration, 10, "seconds to run; 0: until SIGINT/SIGTERM");
ABSL_FLAG(double, idle_exit, 0,
          "also stop once no RTP has arrived for this many seconds after "
          "the first packet (the stream ended); 0: run the whole duration");
ABSL_FLAG(double, interval, 1, "seconds between progress reports");
ABSL_FLAG(bool, json, false,
          "JSON lines on stdout: one per interval, then the final one");
ABSL_FLAG(std::string, port_file, "",
          "write each site's bound IP:PORT here, one per line, once bound");
ABSL_FLAG(int, video_pt, 96, "RTP payload type of the H.264 stream");
ABSL_FLAG(double, fps, 0,
          "nominal frame rate for freeze detection; 0: learnt from RTP "
          "timestamps");
ABSL_FLAG(double, repair_wait_ms, 600,
          "how long a gap may wait for a retransmission before its frame is "
          "dropped (and a keyframe asked for); longer than a failover (parent "
          "timeout 300 ms plus the repair), so a failover costs no keyframe");
ABSL_FLAG(int64_t, max_lost, -1,
          "broken if more packets are lost after repair (-1: no limit)");
ABSL_FLAG(int64_t, max_decode_errors, 0, "broken if more decode errors");
ABSL_FLAG(int64_t, max_freezes, -1, "broken if more freezes (-1: no limit)");
ABSL_FLAG(double, max_freeze_ms, 0,
          "broken if a freeze lasts longer (0: no limit)");
ABSL_FLAG(int64_t, min_frames, 1,
          "broken if a decoding site decodes fewer frames");
ABSL_FLAG(double, max_latency_ms, 0,
          "broken if the p99 latency is higher (0: no limit)");
ABSL_FLAG(double, max_gap_ms, 0,
          "broken if a site's longest stall (time between new in-order or "
          "repaired packets of a stream) is longer (0: no limit)");
ABSL_FLAG(double, max_first_frame_ms, 0,
          "broken if a decoding site's first picture comes later (0: no "
          "limit)");

namespace {

using cascade::probe::FinalJsonLine;
using cascade::probe::JsonLine;
using cascade::probe::Probe;
using cascade::probe::SiteOptions;
using cascade::probe::TextLine;
using cascade::probe::Totals;
using cascade::probe::WhepViewers;
using cascade::probe::WhepViewersOptions;

Probe* g_probe = nullptr;

void OnSignal(int) {
  if (g_probe != nullptr) g_probe->Stop();
}

[[noreturn]] void BadFlag(const std::string& flag, const std::string& why) {
  std::cerr << "relay-probe: --" << flag << ": " << why << "\n";
  std::exit(2);
}

cascade::media::Endpoint ParseEndpoint(const std::string& flag,
                                       const std::string& value) {
  auto endpoint = cascade::media::Endpoint::Parse(value);
  if (!endpoint.ok()) BadFlag(flag, std::string(endpoint.status().message()));
  return *endpoint;
}

// The whole file named by --`flag`.
std::string ReadFlagFile(const std::string& flag, const std::string& path) {
  std::string contents, error;
  if (!cascade::ReadFlagFile("--" + flag, path, &contents, &error)) {
    std::cerr << "relay-probe: " << error << "\n";
    std::exit(2);
  }
  return contents;
}

std::vector<SiteOptions> SitesFromFile(const std::string& path,
                                       const SiteOptions& base) {
  auto sites =
      cascade::probe::ParseSites(path, ReadFlagFile("sites_file", path), base);
  if (!sites.ok()) BadFlag("sites_file", std::string(sites.status().message()));
  return *std::move(sites);
}

// --listen, or `fallback` when it is not given.
cascade::media::Endpoint ListenFlag(const std::string& fallback) {
  const std::string listen = absl::GetFlag(FLAGS_listen);
  return ParseEndpoint("listen", listen.empty() ? fallback : listen);
}

// The --whep flags; exits 2 naming a bad one.
WhepViewersOptions WhepFlags() {
  if (!absl::GetFlag(FLAGS_sites_file).empty()) {
    BadFlag("whep", "not with --sites_file");
  }
  if (!absl::GetFlag(FLAGS_parent).empty()) {
    BadFlag("whep", "not with --parent (the viewers' relay is in the URL)");
  }
  if (!absl::GetFlag(FLAGS_srtp_key_file).empty()) {
    BadFlag("whep",
            "not with --srtp_key_file (the edge rewrites SSRCs and sequence "
            "numbers, which stream-key SRTP does not survive)");
  }
  if (absl::GetFlag(FLAGS_sites) != 1) {
    BadFlag("whep", "not with --sites (--whep_viewers counts the viewers)");
  }
  if (absl::GetFlag(FLAGS_upstream_ssrc) != 0) {
    BadFlag("whep", "not with --upstream_ssrc (viewers only receive)");
  }
  WhepViewersOptions options;
  auto url = cascade::probe::ParseWhepUrl(absl::GetFlag(FLAGS_whep));
  if (!url.ok()) BadFlag("whep", std::string(url.status().message()));
  options.url = *std::move(url);
  options.viewers = absl::GetFlag(FLAGS_whep_viewers);
  if (options.viewers < 1 || options.viewers > 10000) {
    BadFlag("whep_viewers", "must be 1..10000");
  }
  options.tls.insecure = absl::GetFlag(FLAGS_whep_insecure_tls);
  options.tls.ca_file = absl::GetFlag(FLAGS_whep_ca);
  if (!options.url.tls &&
      (options.tls.insecure || !options.tls.ca_file.empty())) {
    BadFlag(options.tls.insecure ? "whep_insecure_tls" : "whep_ca",
            "only with an https:// --whep");
  }
  if (options.tls.insecure && !options.tls.ca_file.empty()) {
    BadFlag("whep_insecure_tls", "accepts any certificate: not with --whep_ca");
  }
  if (!options.tls.ca_file.empty()) {
    ReadFlagFile("whep_ca", options.tls.ca_file);  // readable, or exit 2
  }
  return options;
}

// --controller's client for the sites that take their keys from topologyd
// (marked srtp_keys_later here); exits 2 naming a bad flag. Nothing when
// --controller is not given.
std::optional<cascade::control::StreamKeysClientOptions> ControllerFlags(
    std::vector<SiteOptions>* sites) {
  const std::string controller = absl::GetFlag(FLAGS_controller);
  const cascade::control::TlsClientFiles tls = {absl::GetFlag(FLAGS_tls_ca),
                                                absl::GetFlag(FLAGS_tls_cert),
                                                absl::GetFlag(FLAGS_tls_key)};
  if (controller.empty()) {
    if (!tls.ca.empty() || !tls.cert.empty() || !tls.key.empty() ||
        absl::GetFlag(FLAGS_insecure)) {
      BadFlag(!tls.ca.empty()     ? "tls_ca"
              : !tls.cert.empty() ? "tls_cert"
              : !tls.key.empty()  ? "tls_key"
                                  : "insecure",
              "only with --controller");
    }
    return std::nullopt;
  }
  if (!absl::GetFlag(FLAGS_srtp_key_file).empty()) {
    BadFlag("srtp_key_file",
            "not with --controller (give a site its own file with "
            "srtp_key_file= on its --sites_file line)");
  }
  if (!absl::GetFlag(FLAGS_whep).empty())
    BadFlag("controller", "not with --whep");
  for (SiteOptions& site : *sites) {
    if (site.srtp_keys.empty()) site.srtp_keys_later = true;
    // Its own upstream stream under its own key, never in the clear.
    if (site.upstream_ssrc != 0 && site.upstream_srtp_keys.empty()) {
      site.upstream_keys_later = true;
    }
  }
  auto nodes = cascade::probe::ControllerKeyedNodes(*sites);
  if (!nodes.ok()) BadFlag("controller", std::string(nodes.status().message()));
  if (nodes->empty()) {
    BadFlag("controller", "every site has srtp_key_file=: none asks topologyd");
  }
  auto options = cascade::control::StreamKeysOptionsFromFlags(
      controller, tls, absl::GetFlag(FLAGS_insecure), *std::move(nodes));
  if (!options.ok()) {
    std::cerr << "relay-probe: " << options.status().message() << "\n";
    std::exit(2);
  }
  return *std::move(options);
}

cascade::probe::BrokenCriteria CriteriaFlags() {
  cascade::probe::BrokenCriteria c;
  c.max_lost = absl::GetFlag(FLAGS_max_lost);
  c.max_decode_errors = absl::GetFlag(FLAGS_max_decode_errors);
  c.max_freezes = absl::GetFlag(FLAGS_max_freezes);
  c.max_freeze_ms = absl::GetFlag(FLAGS_max_freeze_ms);
  c.min_frames = absl::GetFlag(FLAGS_min_frames);
  c.max_latency_ms = absl::GetFlag(FLAGS_max_latency_ms);
  c.max_gap_ms = absl::GetFlag(FLAGS_max_gap_ms);
  c.max_first_frame_ms = absl::GetFlag(FLAGS_max_first_frame_ms);
  return c;
}

// CPU time of this process so far (user and system).
absl::Duration CpuTime() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return absl::DurationFromTimeval(usage.ru_utime) +
         absl::DurationFromTimeval(usage.ru_stime);
}

}  // namespace

int main(int argc, char** argv) {
  cascade::ParseFlags(
      argc, argv,
      "relay-probe [--listen=IP:PORT | --parent=IP:PORT[,IP:PORT...] "
      "--node-id=ID --key=HEX[,HEX...]] [--json] [--duration=SECONDS] "
      "[--sites=N | --sites-file=FILE] [--srtp-key-file=FILE]\n"
      "relay-probe --whep=https://HOST:PORT/watch#stream=S&token=T "
      "[--whep-viewers=N] [--whep-ca=PEM | --whep-insecure-tls] [--json]\n"
      "Receives a Cascade stream as one or many sites; counts packets "
      "(lost after repair, duplicated, out of order), decodes H.264 and "
      "reports frames, decode errors, freezes, latency and time to first "
      "picture. As a child it fails over between its parents when the active "
      "one falls silent (--parent-timeout). An encrypted stream (SRTP) needs "
      "its keys: --srtp-key-file for every site, or srtp_key_file= on a "
      "--sites-file line, or from topologyd with --controller (mutual TLS: "
      "--tls-ca --tls-cert --tls-key naming the sites' nodes). With --whep "
      "the sites are WebRTC viewers of a "
      "relay's browser edge (WHEP). Exit code 1 when the picture was broken "
      "by the criteria (or a viewer was refused or never connected), 2 for "
      "bad flags (a key file that cannot be read or parsed among them).");
  // The H.264 decoder logs each damaged slice; the report counts them.
  av_log_set_level(AV_LOG_FATAL);

  SiteOptions base;
  base.feedback = absl::GetFlag(FLAGS_feedback);
  const int video_pt = absl::GetFlag(FLAGS_video_pt);
  if (video_pt < 0 || video_pt > 127) BadFlag("video_pt", "must be 0..127");
  base.video_payload_type = static_cast<uint8_t>(video_pt);
  const double fps = absl::GetFlag(FLAGS_fps);
  if (!(fps >= 0 && fps <= 240)) BadFlag("fps", "must be 0..240");
  if (fps > 0) base.frame_interval = absl::Seconds(1 / fps);
  if (!(absl::GetFlag(FLAGS_max_gap_ms) >= 0)) {
    BadFlag("max_gap_ms", "must be >= 0");
  }
  const double repair_wait = absl::GetFlag(FLAGS_repair_wait_ms);
  if (!(repair_wait >= 0 && repair_wait <= 10000)) {
    BadFlag("repair_wait_ms", "must be 0..10000");
  }
  base.assembler.max_wait = absl::Milliseconds(repair_wait);
  base.parent_timeout = absl::GetFlag(FLAGS_parent_timeout);
  if (base.parent_timeout < absl::Milliseconds(10) ||
      base.parent_timeout > absl::Minutes(1)) {
    BadFlag("parent_timeout", "must be between 10ms and 1m");
  }
  base.parent_timeout_max = absl::GetFlag(FLAGS_parent_timeout_max);
  if (base.parent_timeout_max == absl::ZeroDuration()) {
    base.parent_timeout_max =
        cascade::child::DefaultSilenceCeiling(base.parent_timeout);
  } else if (base.parent_timeout_max < base.parent_timeout ||
             base.parent_timeout_max > absl::Minutes(1)) {
    BadFlag("parent_timeout_max", "must be between --parent_timeout and 1m");
  }
  base.keepalive_interval = absl::GetFlag(FLAGS_keepalive);
  if (base.keepalive_interval < absl::Milliseconds(10) ||
      base.keepalive_interval > absl::Seconds(10)) {
    BadFlag("keepalive", "must be between 10ms and 10s");
  }
  base.nack.max_rate = absl::GetFlag(FLAGS_nack_rate);
  if (!(base.nack.max_rate >= 1 && base.nack.max_rate <= 100000)) {
    BadFlag("nack_rate", "must be 1..100000");
  }
  base.nack.max_burst = absl::GetFlag(FLAGS_nack_burst);
  if (!(base.nack.max_burst >= 1 && base.nack.max_burst <= 100000)) {
    BadFlag("nack_burst", "must be 1..100000");
  }

  const double upstream_rate = absl::GetFlag(FLAGS_upstream_rate);
  if (!(upstream_rate >= 1 && upstream_rate <= 1000)) {
    BadFlag("upstream_rate", "must be 1..1000");
  }
  base.upstream_interval = absl::Seconds(1 / upstream_rate);
  const int upstream_size = absl::GetFlag(FLAGS_upstream_size);
  if (upstream_size < 64 ||
      upstream_size >
          static_cast<int>(cascade::probe::kMaxUpstreamPacketSize)) {
    BadFlag("upstream_size", "must be 64..1200");
  }
  base.upstream_packet_size = static_cast<size_t>(upstream_size);
  const uint32_t upstream_ssrc = absl::GetFlag(FLAGS_upstream_ssrc);
  // Into the base options, so every site has them unless its sites-file
  // line names a file of its own.
  if (const std::string path = absl::GetFlag(FLAGS_srtp_key_file);
      !path.empty()) {
    auto keys = cascade::media::ReadSrtpKeyFile(path);
    if (!keys.ok()) {
      BadFlag("srtp_key_file", std::string(keys.status().message()));
    }
    base.srtp_keys = *std::move(keys);
  }

  std::vector<SiteOptions> sites;
  std::optional<WhepViewersOptions> whep;
  if (!absl::GetFlag(FLAGS_whep).empty()) {
    whep = WhepFlags();
    base.listen = ListenFlag("0.0.0.0:0");
    if (base.listen.port != 0 && base.listen.port + whep->viewers - 1 > 65535) {
      BadFlag("listen", "port range runs past 65535");
    }
  } else if (!absl::GetFlag(FLAGS_sites_file).empty()) {
    if (upstream_ssrc != 0) {
      BadFlag("upstream_ssrc",
              "not with --sites_file (give upstream=SSRC on a site's line)");
    }
    sites = SitesFromFile(absl::GetFlag(FLAGS_sites_file), base);
  } else {
    const int count = absl::GetFlag(FLAGS_sites);
    if (count < 1 || count > 100000) BadFlag("sites", "must be 1..100000");
    const cascade::media::Endpoint listen = ListenFlag("127.0.0.1:0");
    if (listen.port != 0 && listen.port + count - 1 > 65535) {
      BadFlag("listen", "port range runs past 65535");
    }
    std::vector<cascade::probe::ParentLink> parents;
    const std::string node_id = absl::GetFlag(FLAGS_node_id);
    if (!absl::GetFlag(FLAGS_parent).empty()) {
      std::string keys = absl::GetFlag(FLAGS_key);
      if (!absl::GetFlag(FLAGS_key_file).empty()) {
        keys = ReadFlagFile("key_file", absl::GetFlag(FLAGS_key_file));
      }
      if (keys.empty())
        BadFlag("key", "--key or --key_file is required with --parent");
      auto parsed =
          cascade::probe::ParseParents(absl::GetFlag(FLAGS_parent), keys);
      if (!parsed.ok()) {
        BadFlag("parent", std::string(parsed.status().message()));
      }
      parents = *std::move(parsed);
      if (node_id.empty()) BadFlag("node_id", "required with --parent");
    }
    if (upstream_ssrc != 0 && parents.empty()) {
      BadFlag("upstream_ssrc", "needs --parent to send to");
    }
    if (upstream_ssrc != 0 &&
        static_cast<uint64_t>(upstream_ssrc) + count - 1 > 0xffffffffu) {
      BadFlag("upstream_ssrc", "SSRC+i runs past 4294967295");
    }
    for (int i = 0; i < count; ++i) {
      SiteOptions site = base;
      site.listen = listen;
      if (listen.port != 0)
        site.listen.port = static_cast<uint16_t>(listen.port + i);
      site.parents = parents;
      if (upstream_ssrc != 0) site.upstream_ssrc = upstream_ssrc + i;
      if (!parents.empty()) {
        site.node_id = count > 1 ? absl::StrCat(node_id, "-", i) : node_id;
        const absl::Status valid = cascade::probe::CheckNodeId(site.node_id);
        if (!valid.ok()) BadFlag("node_id", std::string(valid.message()));
      }
      sites.push_back(site);
    }
  }
  int decode_sites = absl::GetFlag(FLAGS_decode_sites);
  if (decode_sites < -1) BadFlag("decode_sites", "must be >= -1");
  if (decode_sites == -1) decode_sites = whep ? whep->viewers : 1;
  const double duration = absl::GetFlag(FLAGS_duration);
  if (!(duration >= 0)) BadFlag("duration", "must be >= 0");
  const double interval = absl::GetFlag(FLAGS_interval);
  if (!(interval >= 0.05)) BadFlag("interval", "must be at least 0.05");

  // One socket per site: thousands of sites need more than the usual 1024
  // descriptors, so take the hard limit.
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 &&
      files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  const double idle_exit = absl::GetFlag(FLAGS_idle_exit);
  if (!(idle_exit >= 0)) BadFlag("idle_exit", "must be >= 0");
  std::unique_ptr<WhepViewers> viewers;
  std::vector<std::unique_ptr<cascade::probe::SiteTransport>> transports;
  if (whep.has_value()) {
    auto opened = WhepViewers::Open(*whep, base, &sites, &transports);
    if (!opened.ok()) {
      std::cerr << "relay-probe: --whep: " << opened.status().message() << "\n";
      return 1;
    }
    viewers = *std::move(opened);
  }
  for (size_t i = 0; i < sites.size(); ++i) {
    sites[i].decode = static_cast<int>(i) < decode_sites;
  }
  std::optional<cascade::control::StreamKeysClientOptions> keys_client =
      ControllerFlags(&sites);
  // The sites decrypt the program with libsrtp2's AES-GCM: on OpenSSL, as
  // the WHEP viewers and relayd's edge do, not on the NSS Debian builds it
  // with (a PKCS#11 context a packet; a probe plays up to 256 sites).
  if (absl::Status srtp = cascade::edge::UseOpenSslForSrtpGcm(); !srtp.ok()) {
    std::cerr << "relay-probe: " << srtp.message() << "\n";
    return 1;
  }
  auto probe = Probe::Create(sites, std::move(transports));
  if (!probe.ok()) {
    std::cerr << "relay-probe: " << probe.status().message() << "\n";
    if (viewers != nullptr) viewers->Close();
    return 1;
  }
  (*probe)->set_idle_exit(absl::Seconds(idle_exit));
  if (!absl::GetFlag(FLAGS_port_file).empty()) {
    // Written whole, so a reader that sees the file sees every port.
    std::string ports;
    for (const auto& site : (*probe)->sites()) {
      absl::StrAppend(&ports, site->local().ToString(), "\n");
    }
    if (absl::Status written =
            cascade::WriteFileAtomically(absl::GetFlag(FLAGS_port_file), ports);
        !written.ok()) {
      std::cerr << "relay-probe: --port-file: " << written.message() << "\n";
      return 1;
    }
  }
  std::unique_ptr<cascade::probe::ControllerKeys> keys;
  if (keys_client.has_value()) {
    keys = std::make_unique<cascade::probe::ControllerKeys>(
        *std::move(keys_client), probe->get(), sites);
  }
  g_probe = probe->get();
  signal(SIGINT, OnSignal);
  signal(SIGTERM, OnSignal);
  const bool json = absl::GetFlag(FLAGS_json);
  const absl::Time start = absl::Now();
  (*probe)->Run(
      absl::Seconds(duration), absl::Seconds(interval),
      [&](absl::Duration elapsed, const Totals& totals) {
        if (json) {
          std::cout << JsonLine("interval", elapsed, totals) << std::endl;
        } else {
          std::cerr << TextLine("relay-probe:", elapsed, totals) << "\n";
        }
      });
  g_probe = nullptr;
  if (keys != nullptr) keys->Stop();
  const absl::Duration elapsed = absl::Now() - start;
  // The sessions end before the verdict: a DELETE that fails counts.
  if (viewers != nullptr) viewers->Close();
  const Totals totals = (*probe)->Final();
  std::vector<std::string> broken =
      cascade::probe::Broken(**probe, totals, CriteriaFlags());
  google::protobuf::Struct extra;
  if (viewers != nullptr) {
    for (std::string& reason : viewers->Broken()) {
      broken.push_back(std::move(reason));
    }
    *(*extra.mutable_fields())["whep"].mutable_struct_value() =
        viewers->Report(**probe, CpuTime());
  }
  if (json) {
    std::cout << FinalJsonLine(**probe, elapsed, totals, broken, extra)
              << std::endl;
  } else {
    std::cerr << TextLine("relay-probe: final", elapsed, totals) << "\n";
    if (const auto* parent = (*probe)->sites()[0]->active_parent();
        totals.sites == 1 && parent != nullptr) {
      std::cerr << "relay-probe: active parent " << parent->address.ToString()
                << "\n";
    }
    if (viewers != nullptr) {
      const auto& whep_report = extra.fields().at("whep").struct_value();
      std::cerr << absl::StrFormat(
          "relay-probe: whep: %.0f/%d viewers connected, cpu %.2f s "
          "(%.1f ms per viewer)\n",
          whep_report.fields().at("connected").number_value(), viewers->size(),
          whep_report.fields().at("cpu_s").number_value(),
          whep_report.fields().at("cpu_ms_per_viewer").number_value());
    }
    for (const std::string& reason : broken) {
      std::cerr << "relay-probe: broken: " << reason << "\n";
    }
  }
  return broken.empty() ? 0 : 1;
}
