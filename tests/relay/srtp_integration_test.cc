// The program stream encrypted end to end (issue 19) with real processes on
// loopback: relay-source encrypts it (SRTP, --srtp-key-file), relayd
// processes that hold no key forward the ciphertext unchanged and cache
// keyframes from the frame-marking extension, relay-probe sites holding the
// key decrypt and decode.
//
//   relay-source ─► N ─► P ─► D ─► site (relay-probe with the key)
//                          └─► capture (a static push child: this test)
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/files.h"
#include "base/subprocess.h"
#include "media/rtp/rtp.h"
#include "media/srtp/keys.h"
#include "media/srtp/srtp.h"
#include "tests/common/runfile.h"
#include "tests/common/wait.h"
#include "tests/media/process.h"
#include "tests/relay/relay_harness.h"
#include "tests/relay/rtp_capture.h"

namespace cascade::relay::testing {
namespace {

using ::cascade::testing::FindLine;
using ::cascade::testing::JsonInt;
using ::cascade::testing::kWaitTimeout;
using ::cascade::testing::ReadFile;
using ::cascade::testing::Runfile;
using ::cascade::testing::RunToCompletion;
using ::cascade::testing::WaitUntil;

constexpr uint32_t kVideo = 0x7171;
constexpr uint32_t kAudio = 0x7172;
constexpr char kOldKey[] =
    "01 000102030405060708090a0b0c0d0e0f101112131415161718191a1b\n";
constexpr char kNewKey[] =
    "02 f0e1d2c3b4a5968778695a4b3c2d1e0f00112233445566778899aabb\n";

std::string WriteKeyFile(const std::string& dir, const std::string& name,
                         const std::string& contents) {
  const std::string path = dir + "/" + name;
  EXPECT_TRUE(WriteFileAtomically(path, contents).ok()) << path;
  return path;
}

struct Parent {
  std::string id;
  media::Endpoint address;
};

// A relay whose parent `parent` is a plain source (id "source") or a relay,
// serving keyed `children` and, when given, a static push child. Neither
// relay is told anything of the encryption: it has no key to be told.
std::unique_ptr<RelayProcess> StartRelay(
    const std::string& id, const Parent& parent,
    const std::vector<std::string>& children,
    std::optional<media::Endpoint> push = std::nullopt) {
  std::string config = absl::StrCat(
      "node_id: \"", id, "\" listen: \"127.0.0.1:0\"\n", "parents { id: \"",
      parent.id, "\" address: \"", parent.address.ToString(), "\"",
      parent.id == "source"
          ? ""
          : absl::StrCat(" key_hex: \"", TestLinkKey(id), "\""),
      " }\n");
  for (const std::string& child : children) {
    absl::StrAppend(&config, "children { id: \"", child, "\" key_hex: \"",
                    TestLinkKey(child), "\" }\n");
  }
  if (push.has_value()) {
    absl::StrAppend(&config, "children { id: \"capture\" address: \"",
                    push->ToString(), "\" static_push: true }\n");
  }
  absl::StrAppend(&config, "streams { ssrc: ", kVideo,
                  " direction: DOWN h264: true }\nstreams { ssrc: ", kAudio,
                  " direction: DOWN }\n");
  absl::StatusOr<std::unique_ptr<RelayProcess>> relay =
      RelayProcess::Start(id, config);
  EXPECT_TRUE(relay.ok()) << id << ": " << relay.status();
  return relay.ok() ? *std::move(relay) : nullptr;
}

// relay-source, encrypting under `key_file`, into `dest`.
std::unique_ptr<Subprocess> StartSource(const std::string& dir,
                                        const media::Endpoint& bind,
                                        const media::Endpoint& dest,
                                        const std::string& key_file,
                                        double seconds, int gop) {
  absl::StatusOr<std::unique_ptr<Subprocess>> source = Subprocess::Start(
      {Runfile("tools/source/relay-source"), "--json", "--width=320",
       "--height=180", "--bitrate=300", "--fps=25", absl::StrCat("--gop=", gop),
       "--bind=" + bind.ToString(), "--dest=" + dest.ToString(),
       absl::StrCat("--ssrc=", kVideo), absl::StrCat("--audio-ssrc=", kAudio),
       absl::StrCat("--duration=", seconds), "--srtp-key-file=" + key_file},
      {dir + "/source.out", dir + "/source.err"});
  EXPECT_TRUE(source.ok()) << source.status();
  return source.ok() ? *std::move(source) : nullptr;
}

// One relay-probe site, a keyed child of `parent` holding `key_file`'s keys,
// reporting every 100 ms into DIR/NAME.out.
std::unique_ptr<Subprocess> StartSite(const std::string& dir,
                                      const std::string& name,
                                      const media::Endpoint& parent,
                                      const std::string& key_file,
                                      bool feedback = true) {
  const std::string sites = dir + "/" + name + ".sites";
  EXPECT_TRUE(WriteFileAtomically(
                  sites, absl::StrCat("127.0.0.1:0 ", parent.ToString(), " ",
                                      name, " ", TestLinkKey(name),
                                      " srtp_key_file=", key_file, "\n"))
                  .ok());
  absl::StatusOr<std::unique_ptr<Subprocess>> probe = Subprocess::Start(
      {Runfile("tools/probe/relay-probe"), "--json", "--duration=60",
       "--idle-exit=2", "--interval=0.1", "--sites-file=" + sites,
       absl::StrCat("--feedback=", feedback ? "true" : "false")},
      {dir + "/" + name + ".out", dir + "/" + name + ".err"});
  EXPECT_TRUE(probe.ok()) << probe.status();
  return probe.ok() ? *std::move(probe) : nullptr;
}

// The newest value of `key` in relay-probe's interval lines.
int64_t LatestInterval(const std::string& output, const std::string& key) {
  int64_t value = 0;
  for (absl::string_view line : absl::StrSplit(ReadFile(output), '\n')) {
    if (absl::StartsWith(line, "{\"type\":\"interval\"")) {
      value = JsonInt(std::string(line), key).value_or(value);
    }
  }
  return value;
}

// Each payload as it came, after a start code: what reading the stream as
// H.264 without the key amounts to.
void WriteRawPayloads(const std::vector<Bytes>& packets,
                      const std::string& path) {
  std::string out;
  for (const Bytes& packet : packets) {
    rtp::RtpView view;
    if (rtp::ParseRtp(packet, &view) != rtp::RtpError::kOk) continue;
    out.append("\0\0\0\1", 4);
    out.append(view.payload.begin(), view.payload.end());
  }
  EXPECT_TRUE(WriteFileAtomically(path, out).ok());
}

TEST(SrtpIntegrationTest, MiddleRelaySeesCiphertextWhileTheSiteDecodesAll) {
  const std::string dir = TempDir("encrypted-tree");
  const std::string key_file = WriteKeyFile(dir, "stream.keys", kOldKey);
  absl::StatusOr<int> port = cascade::testing::FreeLoopbackPortQuad();
  ASSERT_TRUE(port.ok()) << port.status();
  const media::Endpoint source =
      media::Endpoint::Parse(absl::StrCat("127.0.0.1:", *port)).value();
  RtpCapture capture(kVideo);
  auto n = StartRelay("N", {"source", source}, {"P"});
  ASSERT_NE(n, nullptr);
  auto p = StartRelay("P", {"N", n->address()}, {"D"}, capture.address());
  ASSERT_NE(p, nullptr);
  auto d = StartRelay("D", {"P", p->address()}, {"site"});
  ASSERT_NE(d, nullptr);
  auto site = StartSite(dir, "site", d->address(), key_file);
  ASSERT_NE(site, nullptr);
  ASSERT_TRUE(d->WaitForMetric("relay_children", 1, kWaitTimeout));
  ASSERT_TRUE(p->WaitForMetric("relay_children", 2, kWaitTimeout));

  auto stream = StartSource(dir, source, n->address(), key_file, 4, 25);
  ASSERT_NE(stream, nullptr);
  ASSERT_EQ(stream->Wait(absl::Seconds(30)).value_or(-1), 0)
      << ReadFile(dir + "/source.err");
  ASSERT_EQ(site->Wait(absl::Seconds(30)).value_or(-1), 0)
      << ReadFile(dir + "/site.err");
  const std::vector<Bytes> captured = capture.Stop();

  const std::string sent = ReadFile(dir + "/source.out");
  const std::string got = FindLine(dir + "/site.out", "{\"type\":\"final\"");
  ASSERT_FALSE(got.empty()) << ReadFile(dir + "/site.err");
  const int64_t frames = JsonInt(sent, "frames").value_or(-1);
  const int64_t video = JsonInt(sent, "video_packets").value_or(-1);
  ASSERT_GE(frames, 90);
  EXPECT_TRUE(absl::StrContains(sent, "\"key_id\":\"01\"")) << sent;
  // The site below decodes every frame, nothing lost, nothing rejected.
  EXPECT_EQ(JsonInt(got, "packets").value_or(-1) -
                JsonInt(got, "duplicates").value_or(0),
            video + JsonInt(sent, "audio_packets").value_or(-1))
      << got;
  EXPECT_EQ(JsonInt(got, "lost"), 0) << got;
  EXPECT_EQ(JsonInt(got, "frames_decoded"), frames) << got;
  EXPECT_EQ(JsonInt(got, "decode_errors"), 0) << got;
  EXPECT_EQ(JsonInt(got, "bad_packets"), 0) << got;

  // What the middle relay sends its children: every video packet, each the
  // source's own bytes (the tag authenticates all of it)...
  ASSERT_EQ(static_cast<int64_t>(captured.size()), video);
  auto keys = srtp::ParseKeyFile(kOldKey);
  ASSERT_TRUE(keys.ok());
  auto receiver = srtp::SrtpReceiver::Create(kVideo, *keys);
  ASSERT_TRUE(receiver.ok());
  std::vector<Bytes> decrypted;
  for (const Bytes& packet : captured) {
    Bytes plain(packet.size());
    size_t size = 0;
    ASSERT_EQ((*receiver)->Unprotect(packet, absl::MakeSpan(plain), &size),
              srtp::SrtpError::kOk);
    plain.resize(size);
    decrypted.push_back(std::move(plain));
  }
  // ...which is no H.264 to anyone without the key: ffmpeg fails on it,
  // whether given each payload as a NAL unit or what RFC 6184
  // depacketisation makes of them. The same packets decrypted decode whole.
  WriteRawPayloads(captured, dir + "/captured-raw.h264");
  WriteAnnexB(captured, dir + "/captured.h264");
  EXPECT_EQ(WriteAnnexB(decrypted, dir + "/decrypted.h264"), frames);
  const std::optional<FfmpegResult> plain =
      FfmpegDecode(dir + "/decrypted.h264");
  if (!plain.has_value()) {
    std::printf("ffmpeg is not installed (./dev installs it): skipped\n");
  } else {
    EXPECT_EQ(plain->exit_code, 0);
    EXPECT_EQ(plain->frames, frames);
    for (const char* name : {"/captured-raw.h264", "/captured.h264"}) {
      const std::optional<FfmpegResult> cipher = FfmpegDecode(dir + name);
      EXPECT_NE(cipher->exit_code, 0)
          << name << ": " << cipher->frames << " frames decoded";
      std::printf("ffmpeg on the middle relay's %s: exit %d, %d frames\n",
                  name + 1, cipher->exit_code, cipher->frames);
    }
  }
  // The relays found the keyframes without parsing a payload.
  for (RelayProcess* relay : {n.get(), p.get(), d.get()}) {
    EXPECT_EQ(relay->Metric("relay_h264_malformed_total"), 0);
  }
}

TEST(SrtpIntegrationTest, RelayWithoutTheKeyAnswersAJoiningChildFromItsCache) {
  const std::string dir = TempDir("keyframe-cache");
  const std::string key_file = WriteKeyFile(dir, "stream.keys", kOldKey);
  absl::StatusOr<int> port = cascade::testing::FreeLoopbackPortQuad();
  ASSERT_TRUE(port.ok()) << port.status();
  const media::Endpoint source =
      media::Endpoint::Parse(absl::StrCat("127.0.0.1:", *port)).value();
  auto n = StartRelay("N", {"source", source}, {"late"});
  ASSERT_NE(n, nullptr);
  // One keyframe at the start, the next one 20 s on: past the stream's end.
  auto stream = StartSource(dir, source, n->address(), key_file, 6, 500);
  ASSERT_NE(stream, nullptr);
  const std::string video_in =
      absl::StrCat("relay_stream_packets_in_total{ssrc=\"", kVideo,
                   "\",direction=\"down\"}");
  // Two seconds of stream have gone by the relay.
  ASSERT_TRUE(n->WaitForMetric(video_in, 50, kWaitTimeout));
  // No PLI from the site: the picture must come from the cache.
  auto site = StartSite(dir, "late", n->address(), key_file, false);
  ASSERT_NE(site, nullptr);
  ASSERT_EQ(stream->Wait(absl::Seconds(30)).value_or(-1), 0)
      << ReadFile(dir + "/source.err");
  ASSERT_EQ(site->Wait(absl::Seconds(30)).value_or(-1), 0)
      << ReadFile(dir + "/late.err");

  const std::string sent = ReadFile(dir + "/source.out");
  const std::string got = FindLine(dir + "/late.out", "{\"type\":\"final\"");
  ASSERT_FALSE(got.empty()) << ReadFile(dir + "/late.err");
  EXPECT_EQ(JsonInt(sent, "keyframes"), 1) << sent;
  EXPECT_EQ(JsonInt(sent, "forced_keyframes"), 0) << sent;
  EXPECT_GT(n->MetricSum("relay_keyframe_cache_packets_sent_total"), 0);
  EXPECT_EQ(n->Metric("relay_h264_malformed_total"), 0);
  // The joining site shows a picture at once and then every later frame.
  const int64_t first_frame_ms = JsonInt(got, "first_frame_ms").value_or(-1);
  EXPECT_GE(first_frame_ms, 0) << got;
  EXPECT_LT(first_frame_ms, 2000) << got;
  EXPECT_GT(JsonInt(got, "frames_decoded").value_or(0), 50) << got;
  EXPECT_EQ(JsonInt(got, "decode_errors"), 0) << got;
  EXPECT_EQ(JsonInt(got, "bad_packets"), 0) << got;
  std::printf("joining site's first picture after %lld ms\n",
              static_cast<long long>(first_frame_ms));
}

TEST(SrtpIntegrationTest, KeyRotationMidStreamLosesNothing) {
  const std::string dir = TempDir("rotation");
  const std::string source_keys = WriteKeyFile(dir, "source.keys", kOldKey);
  const std::string both_keys =
      WriteKeyFile(dir, "both.keys", absl::StrCat(kOldKey, kNewKey));
  const std::string old_only = WriteKeyFile(dir, "old.keys", kOldKey);
  absl::StatusOr<int> port = cascade::testing::FreeLoopbackPortQuad();
  ASSERT_TRUE(port.ok()) << port.status();
  const media::Endpoint source =
      media::Endpoint::Parse(absl::StrCat("127.0.0.1:", *port)).value();
  auto n = StartRelay("N", {"source", source}, {"site", "stale"});
  ASSERT_NE(n, nullptr);
  auto site = StartSite(dir, "site", n->address(), both_keys);
  // A site that never got the new key: it shows that the rotation happened.
  auto stale = StartSite(dir, "stale", n->address(), old_only, false);
  ASSERT_NE(site, nullptr);
  ASSERT_NE(stale, nullptr);
  ASSERT_TRUE(n->WaitForMetric("relay_children", 2, kWaitTimeout));
  auto stream = StartSource(dir, source, n->address(), source_keys, 6, 25);
  ASSERT_NE(stream, nullptr);
  ASSERT_TRUE(
      WaitUntil("the site decodes under the old key", kWaitTimeout, [&] {
        return LatestInterval(dir + "/site.out", "frames_decoded") >= 25;
      }));
  // The rotation: the new key appended to the source's file, then SIGHUP.
  ASSERT_TRUE(
      WriteFileAtomically(source_keys, absl::StrCat(kOldKey, kNewKey)).ok());
  ASSERT_TRUE(stream->Signal(SIGHUP).ok());
  ASSERT_TRUE(
      WaitUntil("the source encrypts under the new key", kWaitTimeout, [&] {
        return absl::StrContains(ReadFile(dir + "/source.err"),
                                 "stream key 02 from now on");
      }));
  ASSERT_EQ(stream->Wait(absl::Seconds(30)).value_or(-1), 0)
      << ReadFile(dir + "/source.err");
  ASSERT_EQ(site->Wait(absl::Seconds(30)).value_or(-1), 0)
      << ReadFile(dir + "/site.err");
  stale->Wait(absl::Seconds(30)).IgnoreError();

  const std::string sent = ReadFile(dir + "/source.out");
  EXPECT_TRUE(absl::StrContains(sent, "\"key_id\":\"02\"")) << sent;
  EXPECT_EQ(JsonInt(sent, "key_changes"), 1) << sent;
  const std::string got = FindLine(dir + "/site.out", "{\"type\":\"final\"");
  ASSERT_FALSE(got.empty()) << ReadFile(dir + "/site.err");
  // Every packet and every frame across the switch.
  EXPECT_EQ(JsonInt(got, "packets").value_or(-1) -
                JsonInt(got, "duplicates").value_or(0),
            JsonInt(sent, "video_packets").value_or(-1) +
                JsonInt(sent, "audio_packets").value_or(-1))
      << got;
  EXPECT_EQ(JsonInt(got, "lost"), 0) << got;
  EXPECT_EQ(JsonInt(got, "frames_decoded"), JsonInt(sent, "frames")) << got;
  EXPECT_EQ(JsonInt(got, "decode_errors"), 0) << got;
  EXPECT_EQ(JsonInt(got, "bad_packets"), 0) << got;
  EXPECT_EQ(JsonInt(got, "frames_dropped"), 0) << got;
  // The site without the new key lost the stream at the switch.
  const std::string stale_got =
      FindLine(dir + "/stale.out", "{\"type\":\"final\"");
  EXPECT_GT(JsonInt(stale_got, "bad_packets").value_or(0), 0) << stale_got;
  EXPECT_LT(JsonInt(stale_got, "frames_decoded").value_or(-1),
            JsonInt(sent, "frames").value_or(0))
      << stale_got;
}

}  // namespace
}  // namespace cascade::relay::testing
