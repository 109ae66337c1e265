// Media through two real relayd processes: relay-source or ffmpeg at the
// top, relay-probe (an authorised child) or ffmpeg (a static push site) at
// the bottom.

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/substitute.h"
#include "base/subprocess.h"
#include "tests/common/wait.h"
#include "tests/media/process.h"

namespace cascade {
namespace testing {
namespace {

const char kSource[] = "tools/source/relay-source";
const char kProbe[] = "tools/probe/relay-probe";
const char kRelayd[] = "relay/relayd";
constexpr uint32_t kVideoSsrc = 0x1111;
constexpr uint32_t kAudioSsrc = 0x2222;
const char kKeyR2[] = "00112233445566778899aabbccddeeff";
const char kKeySite[] = "ffeeddccbbaa99887766554433221100";

struct Relay {
  std::unique_ptr<Subprocess> process;
  int udp_port = 0;
  int metrics_port = 0;
};

class MediaRelayTest : public ::testing::Test {
 protected:
  std::string Path(const std::string& name) {
    const char* dir = std::getenv("TEST_TMPDIR");
    return absl::StrCat(
        dir != nullptr ? dir : "/tmp", "/",
        ::testing::UnitTest::GetInstance()->current_test_info()->name(), ".",
        name);
  }

  // Starts relayd on `config`; fills the ports it bound.
  Relay StartRelay(const std::string& name, const std::string& config) {
    Relay relay;
    const std::string config_path = Path(name + ".textproto");
    std::ofstream(config_path) << config;
    auto process = Subprocess::Start(
        {kRelayd, "--config=" + config_path, "--metrics=127.0.0.1:0",
         "--port-file=" + Path(name + ".ports")},
        {Path(name + ".out"), Path(name + ".err")});
    EXPECT_TRUE(process.ok());
    relay.process = std::move(*process);
    const std::string ports =
        WaitForFile(Path(name + ".ports"), absl::Seconds(10));
    for (absl::string_view line : absl::StrSplit(ports, '\n')) {
      if (absl::ConsumePrefix(&line, "udp=")) {
        EXPECT_TRUE(absl::SimpleAtoi(line, &relay.udp_port));
      }
      if (absl::ConsumePrefix(&line, "metrics=")) {
        EXPECT_TRUE(absl::SimpleAtoi(line, &relay.metrics_port));
      }
    }
    EXPECT_GT(relay.udp_port, 0) << ReadFile(Path(name + ".err"));
    return relay;
  }

  // Bounded wait for a relay's active children.
  ::testing::AssertionResult WaitForChildren(const Relay& relay, int count) {
    return WaitUntil(
        absl::StrCat("relay_children >= ", count), absl::Seconds(10), [&] {
          return MetricValue(HttpGet(relay.metrics_port, "/metrics"),
                             "relay_children") >= count;
        });
  }

  // The source at `source_port` -> r1 -> r2, whose children are `children`
  // (textproto). Both relays are running and r2 is active at r1 on return.
  void StartTree(int source_port, const std::string& children) {
    const std::string streams = absl::Substitute(
        "streams { ssrc: $0 direction: DOWN h264: true }\n"
        "streams { ssrc: $1 direction: DOWN }\n",
        kVideoSsrc, kAudioSsrc);
    r1_ = StartRelay(
        "r1", absl::Substitute("node_id: \"r1\" listen: \"127.0.0.1:0\"\n"
                               "parents { id: \"source\" address: "
                               "\"127.0.0.1:$0\" }\n"
                               "children { id: \"r2\" key_hex: \"$1\" }\n$2",
                               source_port, kKeyR2, streams));
    r2_ = StartRelay(
        "r2", absl::Substitute("node_id: \"r2\" listen: \"127.0.0.1:0\"\n"
                               "parents { id: \"r1\" address: "
                               "\"127.0.0.1:$0\" key_hex: \"$1\" }\n$2$3",
                               r1_.udp_port, kKeyR2, children, streams));
    ASSERT_TRUE(WaitForChildren(r1_, 1)) << ReadFile(Path("r2.err"));
  }

  // relay-probe as the authorised child "site" of r2 until the stream ends (or
  // `sites` children site-0 .. site-N-1), all active on return.
  void StartProbe(double seconds, int sites = 1) {
    auto process = Subprocess::Start(
        {kProbe, "--json", absl::StrCat("--duration=", seconds),
         "--idle-exit=1.5", absl::StrCat("--parent=127.0.0.1:", r2_.udp_port),
         "--node-id=site", absl::StrCat("--key=", kKeySite),
         absl::StrCat("--sites=", sites)},
        {Path("probe.out"), Path("probe.err")});
    ASSERT_TRUE(process.ok());
    probe_ = std::move(*process);
    ASSERT_TRUE(WaitForChildren(r2_, sites)) << ReadFile(Path("r2.err"));
  }

  // Runs relay-source into r1 for `seconds`; returns its JSON counters.
  std::string RunSource(int bind_port, double seconds) {
    auto source = Subprocess::Start(
        {kSource, "--json", "--width=320", "--height=240", "--bitrate=500",
         "--gop=30", absl::StrCat("--bind=127.0.0.1:", bind_port),
         absl::StrCat("--dest=127.0.0.1:", r1_.udp_port),
         absl::StrCat("--ssrc=", kVideoSsrc),
         absl::StrCat("--audio-ssrc=", kAudioSsrc),
         absl::StrCat("--duration=", seconds)},
        {Path("source.out"), Path("source.err")});
    EXPECT_TRUE(source.ok());
    EXPECT_EQ((*source)->Wait(absl::Seconds(30)).value_or(-1), 0)
        << ReadFile(Path("source.err"));
    return ReadFile(Path("source.out"));
  }

  std::string ProbeFinal() {
    EXPECT_EQ(probe_->Wait(absl::Seconds(30)).value_or(-1), 0)
        << ReadFile(Path("probe.out"));
    const std::string final =
        FindLine(Path("probe.out"), "{\"type\":\"final\"");
    EXPECT_FALSE(final.empty()) << ReadFile(Path("probe.err"));
    return final;
  }

  Relay r1_;
  Relay r2_;
  std::unique_ptr<Subprocess> probe_;
};

TEST_F(MediaRelayTest, RelaySourceThroughTwoRelaysToProbe) {
  auto port = FreeLoopbackPortQuad();
  ASSERT_TRUE(port.ok());
  StartTree(*port,
            absl::Substitute("children { id: \"site\" key_hex: \"$0\" }\n",
                             kKeySite));
  StartProbe(20);
  const std::string counters = RunSource(*port, 3);
  const std::string final = ProbeFinal();
  const int64_t frames = JsonInt(counters, "frames").value_or(-1);
  EXPECT_GE(frames, 80);
  EXPECT_EQ(JsonInt(final, "frames_decoded"), frames) << final;
  EXPECT_EQ(JsonInt(final, "decode_errors"), 0);
  EXPECT_EQ(JsonInt(final, "lost"), 0);
  EXPECT_EQ(JsonInt(final, "latency_samples"), frames);
  EXPECT_EQ(JsonInt(final, "last_pattern_frame"), frames - 1);
}

TEST_F(MediaRelayTest, ManySitesInOneProbeEachCountEveryPacket) {
  auto port = FreeLoopbackPortQuad();
  ASSERT_TRUE(port.ok());
  constexpr int kSites = 4;
  std::string children;
  for (int i = 0; i < kSites; ++i) {
    absl::StrAppend(
        &children,
        absl::Substitute("children { id: \"site-$0\" key_hex: \"$1\" }\n", i,
                         kKeySite));
  }
  StartTree(*port, children);
  StartProbe(20, kSites);
  const std::string counters = RunSource(*port, 2);
  const std::string final = ProbeFinal();
  const int64_t sent = JsonInt(counters, "video_packets").value_or(-1) +
                       JsonInt(counters, "audio_packets").value_or(-1);
  EXPECT_EQ(JsonInt(final, "sites"), kSites);
  EXPECT_EQ(JsonInt(final, "decoding_sites"), 1);
  EXPECT_EQ(JsonInt(final, "packets"), kSites * sent) << final;
  EXPECT_EQ(JsonInt(final, "lost"), 0);
  EXPECT_EQ(JsonInt(final, "frames_decoded"), JsonInt(counters, "frames"));
  EXPECT_EQ(JsonInt(final, "decode_errors"), 0);
  // Every site measures latency, decoding or not.
  EXPECT_EQ(JsonInt(final, "latency_samples"),
            kSites * JsonInt(counters, "frames").value_or(0));
}

TEST_F(MediaRelayTest, FfmpegSourceThroughTwoRelaysEveryFrameDecoded) {
  const std::string ffmpeg = FindOnPath("ffmpeg").value_or("");
  if (ffmpeg.empty())
    GTEST_SKIP() << "ffmpeg is not installed (./dev installs it)";
  auto port = FreeLoopbackPortQuad();
  ASSERT_TRUE(port.ok());
  StartTree(*port,
            absl::Substitute("children { id: \"site\" key_hex: \"$0\" }\n",
                             kKeySite));
  StartProbe(20);
  auto sender = Subprocess::Start(
      FfmpegTestPattern(ffmpeg, {"-ssrc", absl::StrCat(kVideoSsrc),
                                 absl::StrCat("rtp://127.0.0.1:", r1_.udp_port,
                                              "?localport=", *port)}),
      {Path("ffmpeg.out"), Path("ffmpeg.err")});
  ASSERT_TRUE(sender.ok());
  EXPECT_EQ((*sender)->Wait(absl::Seconds(30)).value_or(-1), 0)
      << ReadFile(Path("ffmpeg.err"));
  const std::string final = ProbeFinal();
  EXPECT_EQ(JsonInt(final, "frames_decoded"), 90) << final;
  EXPECT_EQ(JsonInt(final, "decode_errors"), 0);
  EXPECT_EQ(JsonInt(final, "lost"), 0);
}

TEST_F(MediaRelayTest, RelaySourceThroughTwoRelaysToFfmpegFromTheSdp) {
  const std::string ffmpeg = FindOnPath("ffmpeg").value_or("");
  if (ffmpeg.empty())
    GTEST_SKIP() << "ffmpeg is not installed (./dev installs it)";
  auto source_port = FreeLoopbackPortQuad();
  auto site_port = FreeLoopbackPortQuad();
  ASSERT_TRUE(source_port.ok() && site_port.ok());
  // ffmpeg is a plain RTP endpoint: r2 pushes to it.
  StartTree(*source_port,
            absl::Substitute("children { id: \"ffmpeg\" address: "
                             "\"127.0.0.1:$0\" static_push: true }\n",
                             *site_port));
  const std::string sdp = Path("site.sdp");
  auto source = Subprocess::Start(
      {kSource, "--width=320", "--height=240", "--bitrate=500", "--gop=30",
       "--audio=false", absl::StrCat("--bind=127.0.0.1:", *source_port),
       absl::StrCat("--dest=127.0.0.1:", r1_.udp_port),
       absl::StrCat("--ssrc=", kVideoSsrc), "--sdp=" + sdp,
       absl::StrCat("--sdp-dest=127.0.0.1:", *site_port), "--start-delay=1.5",
       "--duration=3"},
      {Path("source.out"), Path("source.err")});
  ASSERT_TRUE(source.ok());
  const std::string description = WaitForFile(sdp, absl::Seconds(10));
  ASSERT_NE(description.find(absl::StrCat("m=video ", *site_port)),
            std::string::npos)
      << description;
  auto site =
      Subprocess::Start({ffmpeg, "-hide_banner", "-loglevel", "error",
                         "-xerror", "-protocol_whitelist", "file,udp,rtp", "-i",
                         sdp, "-frames:v", "75", "-f", "null", "-"},
                        {Path("ffmpeg.out"), Path("ffmpeg.err")});
  ASSERT_TRUE(site.ok());
  EXPECT_EQ((*site)->Wait(absl::Seconds(30)).value_or(-1), 0)
      << ReadFile(Path("ffmpeg.err"));
  EXPECT_EQ(ReadFile(Path("ffmpeg.err")), "");
  EXPECT_EQ((*source)->Wait(absl::Seconds(30)).value_or(-1), 0)
      << ReadFile(Path("source.err"));
}

}  // namespace
}  // namespace testing
}  // namespace cascade
