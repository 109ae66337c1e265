// relay-source, relay-probe and the ffmpeg command line as real processes
// over loopback: directly, through the udp-impair proxy, and ffmpeg in either
// role.

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/subprocess.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "tests/media/process.h"

namespace cascade {
namespace testing {
namespace {

const char kSource[] = "tools/source/relay-source";
const char kProbe[] = "tools/probe/relay-probe";
const char kImpair[] = "tools/impair/udp-impair";

class MediaInteropTest : public ::testing::Test {
 protected:
  std::string Path(const std::string& name) {
    const char* dir = std::getenv("TEST_TMPDIR");
    return absl::StrCat(
        dir != nullptr ? dir : "/tmp", "/",
        ::testing::UnitTest::GetInstance()->current_test_info()->name(), ".",
        name);
  }

  // Starts relay-probe with `extra` flags; returns its bound address.
  std::string StartProbe(const std::vector<std::string>& extra) {
    std::vector<std::string> argv = {kProbe, "--json",
                                     "--port-file=" + Path("ports")};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto process =
        Subprocess::Start(argv, {Path("probe.out"), Path("probe.err")});
    EXPECT_TRUE(process.ok());
    probe_ = std::move(*process);
    std::string ports = WaitForFile(Path("ports"), absl::Seconds(10));
    return std::string(absl::StripAsciiWhitespace(ports));
  }

  // Waits for the probe and returns its final JSON line.
  std::string ProbeFinal(int expect_exit) {
    EXPECT_EQ(probe_->Wait(absl::Seconds(30)).value_or(-1), expect_exit)
        << ReadFile(Path("probe.err"));
    const std::string final =
        FindLine(Path("probe.out"), "{\"type\":\"final\"");
    EXPECT_FALSE(final.empty()) << ReadFile(Path("probe.out"));
    return final;
  }

  // Runs relay-source to completion; returns its JSON counters.
  std::string RunSource(const std::vector<std::string>& extra) {
    std::vector<std::string> argv = {kSource, "--json", "--width=320",
                                     "--height=240", "--bitrate=500"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto process =
        Subprocess::Start(argv, {Path("source.out"), Path("source.err")});
    EXPECT_TRUE(process.ok());
    EXPECT_EQ((*process)->Wait(absl::Seconds(30)).value_or(-1), 0)
        << ReadFile(Path("source.err"));
    return ReadFile(Path("source.out"));
  }

  std::unique_ptr<Subprocess> probe_;
};

TEST_F(MediaInteropTest, SourceToProbeEveryFrameWithLatency) {
  const std::string listen = StartProbe({"--duration=20", "--idle-exit=1.5"});
  ASSERT_FALSE(listen.empty());
  const std::string source =
      RunSource({"--dest=" + listen, "--duration=2.5", "--gop=30"});
  const std::string final = ProbeFinal(0);
  const int64_t frames = JsonInt(source, "frames").value_or(-1);
  EXPECT_GE(frames, 70);
  EXPECT_EQ(JsonInt(final, "frames_decoded"), frames);
  EXPECT_EQ(JsonInt(final, "decode_errors"), 0);
  EXPECT_EQ(JsonInt(final, "lost"), 0);
  EXPECT_EQ(JsonInt(final, "latency_samples"), frames);
  EXPECT_EQ(JsonInt(final, "last_pattern_frame"), frames - 1);
  // --idle-exit ended the probe soon after the stream, not at --duration.
  EXPECT_LT(JsonInt(final, "elapsed_s").value_or(99), 10);
  EXPECT_EQ(JsonInt(final, "packets"), *JsonInt(source, "video_packets") +
                                           *JsonInt(source, "audio_packets"));
}

TEST_F(MediaInteropTest, LossReorderingAndDuplicatesAreRepairedAndCounted) {
  const std::string listen = StartProbe({"--duration=20", "--idle-exit=1.5"});
  ASSERT_FALSE(listen.empty());
  auto impair = Subprocess::Start(
      {kImpair, "--listen=127.0.0.1:0", "--forward=" + listen, "--loss=0.03",
       "--reorder=0.03", "--duplicate=0.02", "--seed=7"},
      {Path("impair.out"), Path("impair.err")});
  ASSERT_TRUE(impair.ok());
  // "udp-impair: listening on IP:PORT forwarding to ..."
  WaitForFile(Path("impair.out"), absl::Seconds(10));
  const std::vector<std::string> words = absl::StrSplit(
      FindLine(Path("impair.out"), "udp-impair: listening on"), ' ');
  ASSERT_GE(words.size(), 4u) << ReadFile(Path("impair.err"));
  const std::string source =
      RunSource({"--dest=" + words[3], "--duration=3", "--gop=60"});
  const std::string final = ProbeFinal(0);
  const int64_t frames = JsonInt(source, "frames").value_or(-1);
  EXPECT_GT(JsonInt(final, "nacks_sent").value_or(0), 0);
  EXPECT_GT(JsonInt(source, "retransmissions").value_or(0), 0);
  EXPECT_GT(JsonInt(final, "duplicates").value_or(0), 0);
  EXPECT_GT(JsonInt(final, "out_of_order").value_or(0), 0);
  EXPECT_EQ(JsonInt(final, "lost"), 0) << final;
  EXPECT_EQ(JsonInt(final, "decode_errors"), 0);
  EXPECT_EQ(JsonInt(final, "frames_decoded"), frames) << final;
}

TEST_F(MediaInteropTest, FfmpegAsTheSourceEveryFrameDecoded) {
  const std::string ffmpeg = FindOnPath("ffmpeg").value_or("");
  if (ffmpeg.empty())
    GTEST_SKIP() << "ffmpeg is not installed (./dev installs it)";
  const std::string listen = StartProbe({"--duration=20", "--idle-exit=1.5"});
  ASSERT_FALSE(listen.empty());
  auto sender =
      Subprocess::Start(FfmpegTestPattern(ffmpeg, {"rtp://" + listen}),
                        {Path("ffmpeg.out"), Path("ffmpeg.err")});
  ASSERT_TRUE(sender.ok());
  EXPECT_EQ((*sender)->Wait(absl::Seconds(30)).value_or(-1), 0)
      << ReadFile(Path("ffmpeg.err"));
  const std::string final = ProbeFinal(0);
  EXPECT_EQ(JsonInt(final, "frames_decoded"), 90) << final;
  EXPECT_EQ(JsonInt(final, "decode_errors"), 0);
  EXPECT_EQ(JsonInt(final, "lost"), 0);
  EXPECT_EQ(JsonInt(final, "frames_skipped"), 0);
}

TEST_F(MediaInteropTest, FfmpegAsTheSiteDecodesFromTheSdp) {
  const std::string ffmpeg = FindOnPath("ffmpeg").value_or("");
  if (ffmpeg.empty())
    GTEST_SKIP() << "ffmpeg is not installed (./dev installs it)";
  auto port = FreeLoopbackPortQuad();
  ASSERT_TRUE(port.ok()) << port.status();
  const std::string sdp = Path("stream.sdp");
  auto source = Subprocess::Start(
      {kSource, "--width=320", "--height=240", "--bitrate=500", "--gop=30",
       absl::StrCat("--dest=127.0.0.1:", *port),
       absl::StrCat("--audio-dest=127.0.0.1:", *port + 2), "--sdp=" + sdp,
       "--start-delay=1.5", "--duration=3"},
      {Path("source.out"), Path("source.err")});
  ASSERT_TRUE(source.ok());
  ASSERT_FALSE(WaitForFile(sdp, absl::Seconds(10)).empty());
  // -xerror: any decode error ends ffmpeg with a failure.
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

TEST_F(MediaInteropTest, FileInputIsSentAndDecoded) {
  const std::string ffmpeg = FindOnPath("ffmpeg").value_or("");
  if (ffmpeg.empty())
    GTEST_SKIP() << "ffmpeg is not installed (./dev installs it)";
  // A short clip in a container and codec other than the one sent.
  const std::string clip = Path("clip.mkv");
  auto make = Subprocess::Start(
      {ffmpeg, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
       "testsrc=size=352x288:rate=25:duration=1", "-c:v", "mpeg4", "-y", clip},
      {Path("make.out"), Path("make.err")});
  ASSERT_TRUE(make.ok());
  ASSERT_EQ((*make)->Wait(absl::Seconds(30)).value_or(-1), 0)
      << ReadFile(Path("make.err"));
  const std::string listen = StartProbe({"--duration=20", "--idle-exit=1.5"});
  ASSERT_FALSE(listen.empty());
  // Two seconds of a one-second clip: the input loops.
  const std::string source = RunSource(
      {"--dest=" + listen, "--duration=2", "--input=" + clip, "--audio=false"});
  const std::string final = ProbeFinal(0);
  const int64_t frames = JsonInt(source, "frames").value_or(-1);
  EXPECT_GE(frames, 55);
  EXPECT_EQ(JsonInt(final, "frames_decoded"), frames) << final;
  EXPECT_EQ(JsonInt(final, "decode_errors"), 0);
  // Not the test pattern: no frame number to read.
  EXPECT_NE(final.find("\"last_pattern_frame\":null"), std::string::npos);
}

TEST_F(MediaInteropTest, MissingInputFileFailsClearly) {
  auto source = Subprocess::Start(
      {kSource, "--dest=127.0.0.1:9", "--input=/nonexistent/clip.mp4"},
      {Path("s.out"), Path("s.err")});
  ASSERT_TRUE(source.ok());
  EXPECT_EQ((*source)->Wait(absl::Seconds(10)).value_or(-1), 1);
  EXPECT_NE(ReadFile(Path("s.err")).find("/nonexistent/clip.mp4"),
            std::string::npos);
}

TEST_F(MediaInteropTest, SitesFileGivesEachSiteItsOwnLoopbackAddress) {
  const std::string sites = Path("sites");
  std::ofstream(sites) << "# listen [parent node key]\n127.0.0.2:0\n"
                          "127.0.0.3:0\n";
  const std::string ports =
      StartProbe({"--duration=20", "--idle-exit=1.5", "--sites-file=" + sites,
                  "--decode-sites=2", "--min-frames=0"});
  const std::vector<std::string> addresses = absl::StrSplit(ports, '\n');
  ASSERT_EQ(addresses.size(), 2u) << ports;
  EXPECT_EQ(addresses[0].rfind("127.0.0.2:", 0), 0u);
  EXPECT_EQ(addresses[1].rfind("127.0.0.3:", 0), 0u);
  const std::string source =
      RunSource({"--dest=" + addresses[1], "--duration=1.5"});
  const std::string final = ProbeFinal(0);
  google::protobuf::Struct report;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(final, &report).ok())
      << final;
  // Each site's figures, by the address it listened on.
  auto site =
      [&](const std::string& listen) -> const google::protobuf::Struct* {
    for (const google::protobuf::Value& v :
         report.fields().at("per_site").list_value().values()) {
      const auto& fields = v.struct_value().fields();
      const auto it = fields.find("listen");
      if (it != fields.end() && it->second.string_value() == listen) {
        return &v.struct_value();
      }
    }
    return nullptr;
  };
  const google::protobuf::Struct* first = site(addresses[0]);
  const google::protobuf::Struct* second = site(addresses[1]);
  ASSERT_NE(first, nullptr) << final;
  ASSERT_NE(second, nullptr) << final;
  auto number = [](const google::protobuf::Struct* s, const char* key) {
    return static_cast<int64_t>(s->fields().at(key).number_value());
  };
  EXPECT_EQ(number(first, "packets"), 0);
  EXPECT_EQ(number(second, "packets"), *JsonInt(source, "video_packets") +
                                           *JsonInt(source, "audio_packets"));
  EXPECT_EQ(number(second, "frames_decoded"), JsonInt(source, "frames"));
}

TEST_F(MediaInteropTest, BadSitesFileExitsTwoNamingTheLine) {
  const std::string sites = Path("sites");
  std::ofstream(sites) << "127.0.0.1:0\n127.0.0.1:0 127.0.0.1:9 only-two\n";
  auto probe = Subprocess::Start({kProbe, "--sites-file=" + sites},
                                 {Path("p.out"), Path("p.err")});
  ASSERT_TRUE(probe.ok());
  EXPECT_EQ((*probe)->Wait(absl::Seconds(10)).value_or(-1), 2);
  EXPECT_NE(ReadFile(Path("p.err")).find(sites + ":2"), std::string::npos)
      << ReadFile(Path("p.err"));
}

TEST_F(MediaInteropTest, BadFlagsExitTwoNamingTheFlag) {
  auto source = Subprocess::Start({kSource, "--dest=nonsense"},
                                  {Path("s.out"), Path("s.err")});
  ASSERT_TRUE(source.ok());
  EXPECT_EQ((*source)->Wait(absl::Seconds(10)).value_or(-1), 2);
  EXPECT_NE(ReadFile(Path("s.err")).find("--dest"), std::string::npos);
  auto probe =
      Subprocess::Start({kProbe, "--parent=127.0.0.1:9", "--node-id=x"},
                        {Path("p.out"), Path("p.err")});
  ASSERT_TRUE(probe.ok());
  EXPECT_EQ((*probe)->Wait(absl::Seconds(10)).value_or(-1), 2);
  EXPECT_NE(ReadFile(Path("p.err")).find("--key"), std::string::npos);
}

TEST_F(MediaInteropTest, ProbeExitsOneWhenNothingArrives) {
  StartProbe({"--duration=0.5"});
  const std::string final = ProbeFinal(1);
  EXPECT_NE(final.find("\"broken\":true"), std::string::npos);
  EXPECT_EQ(JsonInt(final, "frames_decoded"), 0);
}

}  // namespace
}  // namespace testing
}  // namespace cascade
