// relay-probe: one or many Cascade sites that count, repair, decode and
// measure the stream they receive. See docs/media-tools.md.

#include <signal.h>
#include <sys/resource.h>

#include <iostream>
#include <string>
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
#include "tools/media/cli.h"
#include "tools/probe/config.h"
#include "tools/probe/probe.h"

extern "C" {
#include <libavutil/log.h>
}

ABSL_FLAG(std::string, listen, "127.0.0.1:0",
          "IP:PORT to receive on (port 0: the kernel picks; see --port_file). "
          "With --sites=N and a non-zero port, site i listens on PORT+i");
ABSL_FLAG(int, sites, 1, "number of sites in this process");
ABSL_FLAG(std::string, sites_file, "",
          "one site per line: LISTEN [PARENT NODE_ID KEY_HEX [PARENT "
          "KEY_HEX]... [upstream=SSRC]] (extra parent/key pairs: standbys, in "
          "order; upstream=: as --upstream_ssrc for that site); replaces "
          "--listen/--sites/--parent/--node_id/--key/--upstream_ssrc");
ABSL_FLAG(std::string, srtp_key_file, "",
          "the stream keys of an encrypted (SRTP) stream, for every site: "
          "one key a line, oldest first, KEY_ID_HEX KEY_HEX (the file "
          "relay-source --srtp_key_file encrypts with); a --sites_file "
          "line's srtp_key_file=PATH replaces it for that site. Without "
          "keys a site takes the stream as plain RTP");
ABSL_FLAG(int, decode_sites, 1,
          "how many sites (the first ones) decode; the others only count");
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

using cascade::probe::Probe;
using cascade::probe::SiteOptions;
using cascade::probe::SiteReport;
using cascade::probe::Totals;

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

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

std::string FreezeList(const std::vector<absl::Duration>& freezes) {
  std::vector<std::string> items;
  for (absl::Duration d : freezes)
    items.push_back(absl::StrFormat("%.1f", Ms(d)));
  return absl::StrCat("[", absl::StrJoin(items, ","), "]");
}

absl::Duration Longest(const std::vector<absl::Duration>& freezes) {
  absl::Duration longest;
  for (absl::Duration d : freezes) longest = std::max(longest, d);
  return longest;
}

std::string Json(const char* type, absl::Duration elapsed, const Totals& t) {
  const SiteReport& c = t.counters;
  return absl::StrFormat(
      "{\"type\":\"%s\",\"elapsed_s\":%.3f,\"sites\":%d,\"decoding_sites\":%d,"
      "\"sites_with_pictures\":%d,\"streams\":%d,\"packets\":%d,\"bytes\":%d,"
      "\"lost\":%d,\"duplicates\":%d,\"out_of_order\":%d,\"bad_packets\":%d,"
      "\"stale_parent_packets\":%d,\"parent_switches\":%d,"
      "\"parent_moves\":%d,\"sites_on_standby\":%d,\"longest_gap_ms\":%.1f,"
      "\"interval_gap_ms\":%.1f,\"rtcp_received\":%d,\"frames_decoded\":%d,"
      "\"decode_errors\":%d,"
      "\"frames_dropped\":%d,\"frames_skipped\":%d,\"nacks_sent\":%d,"
      "\"nacks_given_up\":%d,"
      "\"plis_sent\":%d,\"activations_sent\":%d,\"upstream_sent\":%d,"
      "\"freezes\":%d,"
      "\"freeze_ms\":%s,\"longest_freeze_ms\":%.1f,\"latency_samples\":%d,"
      "\"latency_p50_ms\":%.3f,\"latency_p99_ms\":%.3f,"
      "\"latency_max_ms\":%.3f,\"first_frame_ms\":%s,"
      "\"last_pattern_frame\":%s",
      type, absl::ToDoubleSeconds(elapsed), t.sites, t.decoding_sites,
      t.sites_with_pictures, c.streams, c.packets, c.bytes, c.lost,
      c.duplicates, c.out_of_order, c.bad_packets, c.stale_parent_packets,
      c.parent_switches, c.parent_moves, t.sites_on_standby, Ms(c.longest_gap),
      Ms(t.interval_gap), c.rtcp_received, c.frames_decoded, c.decode_errors,
      c.frames_dropped, c.frames_skipped, c.nacks_sent, c.nacks_given_up,
      c.plis_sent, c.activations_sent, c.upstream_sent, c.freezes.size(),
      FreezeList(c.freezes), Ms(Longest(c.freezes)), t.latency_samples,
      Ms(t.latency_p50), Ms(t.latency_p99), Ms(t.latency_max),
      c.first_frame ? absl::StrFormat("%.1f", Ms(*c.first_frame)) : "null",
      c.last_pattern_frame ? absl::StrCat(*c.last_pattern_frame) : "null");
}

std::string Text(const char* what, absl::Duration elapsed, const Totals& t) {
  const SiteReport& c = t.counters;
  return absl::StrFormat(
      "%s t=%.1fs sites=%d packets=%d lost=%d dup=%d ooo=%d frames=%d "
      "decode_errors=%d dropped=%d freezes=%d (longest %.0f ms) latency "
      "p50=%.1f p99=%.1f max=%.1f ms first_frame=%s nacks=%d plis=%d "
      "longest_gap=%.0fms parent_switches=%d parent_moves=%d on_standby=%d",
      what, absl::ToDoubleSeconds(elapsed), t.sites, c.packets, c.lost,
      c.duplicates, c.out_of_order, c.frames_decoded, c.decode_errors,
      c.frames_dropped, c.freezes.size(), Ms(Longest(c.freezes)),
      Ms(t.latency_p50), Ms(t.latency_p99), Ms(t.latency_max),
      c.first_frame ? absl::StrFormat("%.0fms", Ms(*c.first_frame)) : "none",
      c.nacks_sent, c.plis_sent, Ms(c.longest_gap), c.parent_switches,
      c.parent_moves, t.sites_on_standby);
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

// "IP:PORT" of the site's active parent, or null when pushed to.
std::string ActiveParentJson(const cascade::probe::Site& site) {
  const cascade::probe::ParentLink* parent = site.active_parent();
  return parent == nullptr
             ? "null"
             : absl::StrCat("\"", parent->address.ToString(), "\"");
}

// Reasons the picture counts as broken under the given criteria.
std::vector<std::string> Broken(const Probe& probe, const Totals& t) {
  std::vector<std::string> reasons;
  const SiteReport& c = t.counters;
  if (absl::GetFlag(FLAGS_max_lost) >= 0 &&
      c.lost > absl::GetFlag(FLAGS_max_lost)) {
    reasons.push_back(absl::StrCat(c.lost, " packets lost"));
  }
  if (c.decode_errors > absl::GetFlag(FLAGS_max_decode_errors)) {
    reasons.push_back(absl::StrCat(c.decode_errors, " decode errors"));
  }
  if (absl::GetFlag(FLAGS_max_freezes) >= 0 &&
      static_cast<int64_t>(c.freezes.size()) >
          absl::GetFlag(FLAGS_max_freezes)) {
    reasons.push_back(absl::StrCat(c.freezes.size(), " freezes"));
  }
  const double max_freeze = absl::GetFlag(FLAGS_max_freeze_ms);
  if (max_freeze > 0 && Ms(Longest(c.freezes)) > max_freeze) {
    reasons.push_back(
        absl::StrFormat("a %.0f ms freeze", Ms(Longest(c.freezes))));
  }
  for (const auto& site : probe.sites()) {
    if (!site->decodes()) continue;
    const SiteReport r = site->Report();
    if (r.frames_decoded < absl::GetFlag(FLAGS_min_frames)) {
      reasons.push_back(absl::StrCat("site ", site->local().ToString(),
                                     " decoded ", r.frames_decoded, " frames"));
    }
    const double max_first = absl::GetFlag(FLAGS_max_first_frame_ms);
    if (max_first > 0 && r.first_frame.has_value() &&
        Ms(*r.first_frame) > max_first) {
      reasons.push_back(absl::StrFormat("site %s: first picture after %.0f ms",
                                        site->local().ToString(),
                                        Ms(*r.first_frame)));
    }
  }
  // One reason for the worst site: with thousands of sites a reason each
  // would drown the rest.
  const double max_gap = absl::GetFlag(FLAGS_max_gap_ms);
  if (max_gap > 0 && Ms(c.longest_gap) > max_gap) {
    for (const auto& site : probe.sites()) {
      if (site->Report().longest_gap != c.longest_gap) continue;
      reasons.push_back(absl::StrFormat("site %s: a %.0f ms gap",
                                        site->local().ToString(),
                                        Ms(c.longest_gap)));
      break;
    }
  }
  const double max_latency = absl::GetFlag(FLAGS_max_latency_ms);
  if (max_latency > 0 && Ms(t.latency_p99) > max_latency) {
    reasons.push_back(
        absl::StrFormat("p99 latency %.1f ms", Ms(t.latency_p99)));
  }
  return reasons;
}

}  // namespace

int main(int argc, char** argv) {
  cascade::ParseFlags(
      argc, argv,
      "relay-probe [--listen=IP:PORT | --parent=IP:PORT[,IP:PORT...] "
      "--node-id=ID --key=HEX[,HEX...]] [--json] [--duration=SECONDS] "
      "[--sites=N | --sites-file=FILE] [--srtp-key-file=FILE]\n"
      "Receives a Cascade stream as one or many sites; counts packets "
      "(lost after repair, duplicated, out of order), decodes H.264 and "
      "reports frames, decode errors, freezes, latency and time to first "
      "picture. As a child it fails over between its parents when the active "
      "one falls silent (--parent-timeout). An encrypted stream (SRTP) needs "
      "its keys: --srtp-key-file for every site, or srtp_key_file= on a "
      "--sites-file line. Exit code 1 when the picture was broken by the "
      "criteria, 2 for bad flags (a key file that cannot be read or "
      "parsed among them).");
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
  if (!absl::GetFlag(FLAGS_sites_file).empty()) {
    if (upstream_ssrc != 0) {
      BadFlag("upstream_ssrc",
              "not with --sites_file (give upstream=SSRC on a site's line)");
    }
    sites = SitesFromFile(absl::GetFlag(FLAGS_sites_file), base);
  } else {
    const int count = absl::GetFlag(FLAGS_sites);
    if (count < 1 || count > 100000) BadFlag("sites", "must be 1..100000");
    const cascade::media::Endpoint listen =
        ParseEndpoint("listen", absl::GetFlag(FLAGS_listen));
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
  const int decode_sites = absl::GetFlag(FLAGS_decode_sites);
  if (decode_sites < 0) BadFlag("decode_sites", "must be >= 0");
  for (size_t i = 0; i < sites.size(); ++i) {
    sites[i].decode = static_cast<int>(i) < decode_sites;
  }
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
  auto probe = Probe::Create(sites);
  if (!probe.ok()) {
    std::cerr << "relay-probe: " << probe.status().message() << "\n";
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
  g_probe = probe->get();
  signal(SIGINT, OnSignal);
  signal(SIGTERM, OnSignal);
  const bool json = absl::GetFlag(FLAGS_json);
  const absl::Time start = absl::Now();
  (*probe)->Run(absl::Seconds(duration), absl::Seconds(interval),
                [&](absl::Duration elapsed, const Totals& totals) {
                  if (json) {
                    std::cout << Json("interval", elapsed, totals) << "}"
                              << std::endl;
                  } else {
                    std::cerr << Text("relay-probe:", elapsed, totals) << "\n";
                  }
                });
  g_probe = nullptr;
  const Totals totals = (*probe)->Final();
  const std::vector<std::string> broken = Broken(**probe, totals);
  const absl::Duration elapsed = absl::Now() - start;
  if (json) {
    std::string per_site;
    if (totals.sites > 1) {
      std::vector<std::string> items;
      for (const auto& site : (*probe)->sites()) {
        const SiteReport r = site->Report();
        items.push_back(absl::StrFormat(
            "{\"listen\":\"%s\",\"decodes\":%s,\"packets\":%d,\"lost\":%d,"
            "\"frames_decoded\":%d,\"decode_errors\":%d,\"freezes\":%d,"
            "\"latency_p99_ms\":%.3f,\"active_parent\":%s,"
            "\"parent_switches\":%d,\"parent_moves\":%d,"
            "\"longest_gap_ms\":%.1f,\"upstream_sent\":%d}",
            site->local().ToString(), site->decodes() ? "true" : "false",
            r.packets, r.lost, r.frames_decoded, r.decode_errors,
            r.freezes.size(), Ms(site->latency().Percentile(0.99)),
            ActiveParentJson(*site), r.parent_switches, r.parent_moves,
            Ms(r.longest_gap), r.upstream_sent));
      }
      per_site =
          absl::StrCat(",\"per_site\":[", absl::StrJoin(items, ","), "]");
    } else {
      per_site = absl::StrCat(",\"active_parent\":",
                              ActiveParentJson(*(*probe)->sites()[0]));
    }
    std::vector<std::string> quoted;
    for (const std::string& reason : broken) {
      quoted.push_back(absl::StrCat("\"", reason, "\""));
    }
    std::cout << Json("final", elapsed, totals)
              << ",\"broken\":" << (broken.empty() ? "false" : "true")
              << ",\"reasons\":[" << absl::StrJoin(quoted, ",") << "]"
              << per_site << "}" << std::endl;
  } else {
    std::cerr << Text("relay-probe: final", elapsed, totals) << "\n";
    if (const auto* parent = (*probe)->sites()[0]->active_parent();
        totals.sites == 1 && parent != nullptr) {
      std::cerr << "relay-probe: active parent " << parent->address.ToString()
                << "\n";
    }
    for (const std::string& reason : broken) {
      std::cerr << "relay-probe: broken: " << reason << "\n";
    }
  }
  return broken.empty() ? 0 : 1;
}
