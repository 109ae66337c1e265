// ffplay interop: the meeting, picture and sound, played by ffmpeg's RTP
// demuxer (what ffplay uses) from an SDP, as a new user would:
//   - relay-source -> relayd (assigned by topologyd) -> a plain endpoint with
//     a video and an audio port, described by `relayctl sdp SITE`;
//   - relay-source straight to ffmpeg with its default --sdp.
// ffmpeg decodes into framecrc lines (one per decoded video frame or audio
// packet, with its duration in samples), which the test counts: it fails
// when either kind does not decode.
#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/strings/substitute.h"
#include "base/subprocess.h"
#include "tests/common/runfile.h"
#include "tests/common/wait.h"
#include "tests/media/process.h"
#include "tests/topology/harness.h"

namespace cascade::testing {
namespace {

using cascade::topology::testing::Topologyd;

constexpr uint32_t kVideoSsrc = 4369;
constexpr uint32_t kAudioSsrc = 8738;

// $0: nat's address; $1, $2: s1's video and audio ports.
constexpr char kTopology[] = R"txt(
streams { id: "command" direction: DIRECTION_DOWNSTREAM bitrate_kbps: 600
  tracks { ssrc: 4369 media: "video" payload_type: 96 encoding: "H264/90000" }
  tracks { ssrc: 8738 media: "audio" payload_type: 111 encoding: "opus/48000/2" } }
nodes { id: "nat" tier: TIER_NATIONAL media_address: "$0"
  capacity { max_children: 4 } }
nodes { id: "s1" tier: TIER_SITE parent: "nat" plain_endpoint: true
  media_address: "127.0.0.1:$1" audio_address: "127.0.0.1:$2" }
nodes { id: "s2" tier: TIER_SITE parent: "nat" plain_endpoint: true
  media_address: "127.0.0.2:5004" }
)txt";

// What ffmpeg decoded: framecrc's lines "INDEX, DTS, PTS, DURATION, SIZE,
// CRC", stream 0 video (a frame a line), 1 audio (DURATION samples).
struct Decoded {
  int video_frames = 0;
  int64_t audio_samples = 0;
};

Decoded CountFrames(const std::string& framecrc) {
  Decoded decoded;
  for (absl::string_view line : absl::StrSplit(framecrc, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    const std::vector<std::string> fields = absl::StrSplit(line, ',');
    int64_t duration = 0;
    if (fields.size() < 6 ||
        !absl::SimpleAtoi(absl::StripAsciiWhitespace(fields[3]), &duration)) {
      continue;
    }
    if (fields[0] == "0") ++decoded.video_frames;
    if (fields[0] == "1") decoded.audio_samples += duration;
  }
  return decoded;
}

// Whether something has bound UDP `port` on any local address (ffmpeg binds
// the wildcard), read from /proc/net/udp without touching the port, so the
// player's own bind never races ours.
bool Bound(int port) {
  const std::string suffix = absl::StrFormat(":%04X", port);
  for (absl::string_view line :
       absl::StrSplit(ReadFile("/proc/net/udp"), '\n')) {
    // "  sl  local_address rem_address ...": the local address is second.
    const std::vector<absl::string_view> fields =
        absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (fields.size() > 1 && absl::EndsWith(fields[1], suffix)) return true;
  }
  return false;
}

// A UDP port on 127.0.0.1 the kernel just handed out and took back: where
// relay-source sends from (the relay accepts its parent's address only).
int FreeUdpPort() {
  cascade::topology::testing::Udp udp;
  return udp.port();
}

class FfplayInteropTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ffmpeg_ = FindOnPath("ffmpeg").value_or("");
    dir_ = cascade::topology::testing::TestDir();
  }

  std::string Path(const std::string& name) { return dir_ + "/" + name; }

  // ffmpeg as ffplay opens the SDP, decoding 3 s of each stream; returns
  // once it has bound the ports (video and audio) the SDP names.
  void StartPlayer(const std::string& sdp, int video_port, int audio_port) {
    auto player = Subprocess::Start(
        {ffmpeg_, "-hide_banner", "-nostats", "-loglevel", "error",
         "-protocol_whitelist", "file,udp,rtp", "-i", sdp, "-map", "0:v",
         "-map", "0:a", "-t", "3", "-f", "framecrc", Path("decoded.crc")},
        {Path("ffmpeg.out"), Path("ffmpeg.err")});
    ASSERT_TRUE(player.ok()) << player.status();
    player_ = std::move(*player);
    ASSERT_TRUE(WaitUntil("ffmpeg binds the SDP's ports", kWaitTimeout, [&] {
      return Bound(video_port) && Bound(audio_port);
    })) << ReadFile(Path("ffmpeg.err"));
  }

  // Waits (bounded) for the player to end; what it decoded.
  Decoded PlayerResult() {
    EXPECT_EQ(player_->Wait(absl::Seconds(40)).value_or(-1), 0)
        << ReadFile(Path("ffmpeg.err"));
    return CountFrames(ReadFile(Path("decoded.crc")));
  }

  std::string ffmpeg_, dir_;
  std::unique_ptr<Subprocess> player_;
};

TEST_F(FfplayInteropTest, RelayedPlainEndpointPlaysPictureAndSound) {
  if (ffmpeg_.empty()) GTEST_SKIP() << "ffmpeg is not installed (./dev does)";
  auto controller = Topologyd::Start(
      dir_, "topologyd", {"--insecure", "--state-dir=" + dir_ + "/state"});
  ASSERT_TRUE(controller.ok()) << controller.status();
  const std::string address = (*controller)->address();
  auto relayctl = [&](std::vector<std::string> args) {
    args.insert(args.begin(), "--insecure");
    return cascade::topology::testing::Relayctl(dir_, address, std::move(args));
  };

  const int source_port = FreeUdpPort();
  auto relay =
      Subprocess::Start({Runfile("relay/relayd"), "--controller=" + address,
                         "--insecure", "--id=nat", "--listen=127.0.0.1:0",
                         absl::StrCat("--source=127.0.0.1:", source_port),
                         "--port-file=" + Path("nat.ports")},
                        {Path("nat.out"), Path("nat.err")});
  ASSERT_TRUE(relay.ok()) << relay.status();
  std::string ports = WaitForFile(Path("nat.ports"), absl::Seconds(10));
  int relay_port = 0;
  for (absl::string_view line : absl::StrSplit(ports, '\n')) {
    if (absl::ConsumePrefix(&line, "udp=")) {
      ASSERT_TRUE(absl::SimpleAtoi(line, &relay_port)) << ports;
    }
  }
  ASSERT_GT(relay_port, 0) << ReadFile(Path("nat.err"));

  // Video on P, audio on P + 2: the player also binds P + 1 and P + 3.
  absl::StatusOr<int> player_port = FreeLoopbackPortQuad();
  ASSERT_TRUE(player_port.ok()) << player_port.status();
  const std::string topology = Path("topology.textproto");
  std::ofstream(topology) << absl::Substitute(
      kTopology, absl::StrCat("127.0.0.1:", relay_port), *player_port,
      *player_port + 2);
  CommandResult applied = relayctl({"apply", topology});
  ASSERT_EQ(applied.code, 0) << applied.err;
  ASSERT_TRUE(cascade::topology::testing::WaitForNode(
      dir_, address, "nat", "pushes to s1 and acks",
      [](const cascade::v1::NodeView& v) {
        return cascade::topology::testing::AckedNewerThan(v) &&
               absl::c_linear_search(v.active_children(), "s1");
      }))
      << ReadFile(Path("nat.err"));

  const std::string sdp = Path("s1.sdp");
  CommandResult written = relayctl({"sdp", "s1", "--out=" + sdp});
  ASSERT_EQ(written.code, 0) << written.err;
  const std::string description = ReadFile(sdp);
  EXPECT_TRUE(absl::StrContains(
      description, absl::StrCat("m=video ", *player_port, " RTP/AVP 96\r\n")))
      << description;
  EXPECT_TRUE(absl::StrContains(
      description,
      absl::StrCat("m=audio ", *player_port + 2, " RTP/AVP 111\r\n")))
      << description;

  StartPlayer(sdp, *player_port, *player_port + 2);
  CommandResult source = RunToCompletion(
      {Runfile("tools/source/relay-source"), "--json", "--width=320",
       "--height=240", "--bitrate=400", "--gop=30",
       absl::StrCat("--bind=127.0.0.1:", source_port),
       absl::StrCat("--dest=127.0.0.1:", relay_port),
       absl::StrCat("--ssrc=", kVideoSsrc),
       absl::StrCat("--audio-ssrc=", kAudioSsrc), "--duration=5"},
      Path("source"), absl::Seconds(30));
  ASSERT_EQ(source.code, 0) << source.err;
  const Decoded decoded = PlayerResult();
  // 3 s at 30 fps, and at least a second of sound.
  EXPECT_GE(decoded.video_frames, 60) << ReadFile(Path("ffmpeg.err"));
  EXPECT_GE(decoded.audio_samples, 48000) << ReadFile(Path("ffmpeg.err"));

  // The site without an audio port, a relay, and no node at all.
  CommandResult refused = relayctl({"sdp", "s2"});
  EXPECT_EQ(refused.code, 4);
  EXPECT_TRUE(absl::StrContains(refused.err, "\"s2\" has no audio_address"))
      << refused.err;
  refused = relayctl({"sdp", "nat"});
  EXPECT_EQ(refused.code, 4);
  EXPECT_TRUE(absl::StrContains(refused.err, "is not a plain endpoint"))
      << refused.err;
  refused = relayctl({"sdp", "nowhere"});
  EXPECT_EQ(refused.code, 3) << refused.err;
}

TEST_F(FfplayInteropTest, SourceDefaultSdpPlaysPictureAndSound) {
  if (ffmpeg_.empty()) GTEST_SKIP() << "ffmpeg is not installed (./dev does)";
  absl::StatusOr<int> port = FreeLoopbackPortQuad();
  ASSERT_TRUE(port.ok()) << port.status();
  // Only --dest and --sdp: the SDP and the audio's port follow from them.
  const std::string sdp = Path("stream.sdp");
  auto source = Subprocess::Start(
      {Runfile("tools/source/relay-source"), "--width=320", "--height=240",
       "--bitrate=400", "--gop=30", absl::StrCat("--dest=127.0.0.1:", *port),
       "--sdp=" + sdp, "--start-delay=2", "--duration=5"},
      {Path("source.out"), Path("source.err")});
  ASSERT_TRUE(source.ok()) << source.status();
  ASSERT_FALSE(WaitForFile(sdp, absl::Seconds(10)).empty())
      << ReadFile(Path("source.err"));
  // The player is ready before the first packet (--start-delay); were it
  // late, it would still decode from the next keyframe, a second later.
  StartPlayer(sdp, *port, *port + 2);
  const Decoded decoded = PlayerResult();
  EXPECT_GE(decoded.video_frames, 60) << ReadFile(Path("ffmpeg.err"));
  EXPECT_GE(decoded.audio_samples, 48000) << ReadFile(Path("ffmpeg.err"));
  EXPECT_EQ((*source)->Wait(absl::Seconds(30)).value_or(-1), 0)
      << ReadFile(Path("source.err"));
}

}  // namespace
}  // namespace cascade::testing
