// An edge relay decrypts the program for its plain endpoint, with real
// processes: topologyd (mutual TLS) makes and rotates the stream key,
// relay-source (--controller --node cc) encrypts under it, relayd nat only
// forwards and holds no key, relayd p1 is the edge relay of the plain
// endpoint tv (this test, a static push child) and gets the keys in its
// assignment. tv receives RTP that ffmpeg decodes frame for frame, across
// a `relayctl stream-key rotate`; what nat sends its keyed child spy (this
// test too) does not decode.
//
//   relay-source (cc) ─► nat ─► p1 ─► tv (plain endpoint)
//                          └─► spy (a keyed site)
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/files.h"
#include "base/subprocess.h"
#include "control/link_key.h"
#include "media/rtp/rtp.h"
#include "security/identity.h"
#include "tests/common/runfile.h"
#include "tests/common/wait.h"
#include "tests/media/process.h"
#include "tests/relay/relay_harness.h"
#include "tests/relay/rtp_capture.h"
#include "tests/topology/harness.h"
#include "tests/topology/test_pki.h"

namespace cascade::relay::testing {
namespace {

using ::cascade::testing::CommandResult;
using ::cascade::testing::JsonInt;
using ::cascade::testing::kWaitTimeout;
using ::cascade::testing::ReadFile;
using ::cascade::testing::Runfile;
using ::cascade::testing::RunToCompletion;
using ::cascade::testing::WaitUntil;
using ::cascade::topology::testing::TestPki;
using ::cascade::topology::testing::Topologyd;

constexpr uint32_t kVideo = 0x8181;
constexpr uint32_t kAudio = 0x8182;
constexpr char kSpyKey[] = "spy-node-key-0123456789abcdef0123";
constexpr double kSeconds = 12;

// The key ids (the MKI) the packets came under.
std::set<uint32_t> KeyIds(const std::vector<Bytes>& packets) {
  std::set<uint32_t> ids;
  for (const Bytes& packet : packets) ids.insert(KeyIdOf(packet));
  return ids;
}

class EdgeDecryptTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(FindOnPath("ffmpeg").ok()) << "ffmpeg is needed (./dev)";
    dir_ = TempDir("edge-decrypt");
    auto pki = TestPki::Make(dir_ + "/pki");
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_ = std::make_unique<TestPki>(*std::move(pki));
    for (const char* id : {"topologyd", "cc", "nat", "p1"}) {
      ASSERT_TRUE(pki_->IssueNode(id).ok());
    }
    ASSERT_TRUE(pki_->IssueOperator("ada", security::Role::kAdmin).ok());
    std::vector<std::string> flags = pki_->ServerFlags("topologyd");
    flags.insert(flags.end(),
                 {"--state-dir=" + dir_ + "/state", "--lease-timeout=60s",
                  "--restart-learning=1s", "--stream-key-overlap=4s"});
    auto daemon = Topologyd::Start(dir_, "topologyd", flags);
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    topologyd_ = *std::move(daemon);
  }

  CommandResult AsAdmin(std::vector<std::string> args) {
    std::vector<std::string> flags = pki_->Flags("ada");
    args.insert(args.begin(), flags.begin(), flags.end());
    return cascade::topology::testing::Relayctl(dir_, topologyd_->address(),
                                                std::move(args));
  }

  std::unique_ptr<RelayProcess> StartRelay(const std::string& id,
                                           std::vector<std::string> args) {
    std::vector<std::string> tls = pki_->Flags(id);
    args.insert(args.end(), tls.begin(), tls.end());
    args.insert(args.end(), {"--controller=" + topologyd_->address(),
                             "--id=" + id, "--listen=127.0.0.1:0"});
    absl::StatusOr<std::unique_ptr<RelayProcess>> relay =
        RelayProcess::Start(id, "", args);
    EXPECT_TRUE(relay.ok()) << relay.status();
    return relay.ok() ? *std::move(relay) : nullptr;
  }

  void ApplyTopology(const std::string& source, const RelayProcess& nat,
                     const RelayProcess& p1, const media::Endpoint& tv,
                     const media::Endpoint& spy) {
    const std::string text = absl::StrCat(
        "nodes { id: \"cc\" tier: TIER_NATIONAL plain_endpoint: true "
        "media_address: \"",
        source,
        "\" }\n"
        "nodes { id: \"nat\" tier: TIER_NATIONAL media_address: \"",
        nat.address().ToString(),
        "\" capacity { max_children: 4 } }\n"
        "nodes { id: \"p1\" tier: TIER_PROVINCIAL parent: \"nat\" "
        "media_address: \"",
        p1.address().ToString(),
        "\" capacity { max_children: 4 } }\n"
        "nodes { id: \"tv\" tier: TIER_SITE parent: \"p1\" plain_endpoint: "
        "true media_address: \"",
        tv.ToString(),
        "\" }\n"
        "nodes { id: \"spy\" tier: TIER_SITE parent: \"nat\" media_address: "
        "\"",
        spy.ToString(), "\" key: \"", kSpyKey,
        "\" }\n"
        "streams { id: \"program\" direction: DIRECTION_DOWNSTREAM "
        "source_node: \"cc\" bitrate_kbps: 400\n"
        "  tracks { ssrc: ",
        kVideo,
        " media: \"video\" payload_type: 96 encoding: \"H264/90000\" }\n"
        "  tracks { ssrc: ",
        kAudio,
        " media: \"audio\" payload_type: 111 encoding: \"opus/48000/2\" } }\n");
    const std::string file = dir_ + "/topology.textproto";
    std::ofstream(file) << text;
    CommandResult applied = AsAdmin({"apply", file});
    ASSERT_EQ(applied.code, 0) << applied.err;
  }

  std::string dir_;
  std::unique_ptr<TestPki> pki_;
  std::unique_ptr<Topologyd> topologyd_;
};

TEST_F(EdgeDecryptTest, PlainEndpointDecodesEveryFrameAcrossARotation) {
  absl::StatusOr<int> port = cascade::testing::FreeLoopbackPortQuad();
  ASSERT_TRUE(port.ok()) << port.status();
  const std::string source = absl::StrCat("127.0.0.1:", *port);
  std::unique_ptr<RelayProcess> nat = StartRelay("nat", {"--source=" + source});
  std::unique_ptr<RelayProcess> p1 = StartRelay("p1", {});
  ASSERT_TRUE(nat && p1);
  RtpCapture tv(kVideo);
  RtpCapture spy(kVideo, nat->address(),
                 cascade::control::LinkKey(kSpyKey, "nat"));
  ASSERT_NO_FATAL_FAILURE(
      ApplyTopology(source, *nat, *p1, tv.address(), spy.address()));
  // p1 serves tv and holds both tracks' keys; nat serves p1 and spy, and
  // holds none.
  ASSERT_TRUE(p1->WaitForMetric("relay_decrypting_streams", 2, kWaitTimeout));
  ASSERT_TRUE(p1->WaitForMetric("relay_children", 1, kWaitTimeout));
  ASSERT_TRUE(nat->WaitForMetric("relay_children", 2, kWaitTimeout));
  EXPECT_EQ(nat->Metric("relay_decrypting_streams"), 0);

  std::vector<std::string> args = {Runfile("tools/source/relay-source"),
                                   "--json",
                                   "--width=320",
                                   "--height=180",
                                   "--bitrate=300",
                                   "--fps=25",
                                   "--gop=25",
                                   "--bind=" + source,
                                   "--dest=" + nat->address().ToString(),
                                   absl::StrCat("--ssrc=", kVideo),
                                   absl::StrCat("--audio-ssrc=", kAudio),
                                   absl::StrCat("--duration=", kSeconds),
                                   "--controller=" + topologyd_->address(),
                                   "--node=cc"};
  for (const std::string& flag : pki_->Flags("cc")) args.push_back(flag);
  absl::StatusOr<std::unique_ptr<Subprocess>> sending =
      Subprocess::Start(args, {dir_ + "/source.out", dir_ + "/source.err"});
  ASSERT_TRUE(sending.ok()) << sending.status();

  // A rotation a few seconds in: key 2 reaches p1 with its next assignment,
  // ahead of the source's switch an overlap (4 s) later.
  ASSERT_TRUE(WaitUntil("tv receives the stream", kWaitTimeout,
                        [&] { return tv.count() >= 50; }));
  const CommandResult rotate = AsAdmin({"stream-key", "rotate", "program"});
  ASSERT_EQ(rotate.code, 0) << rotate.err;

  ASSERT_EQ((*sending)->Wait(absl::Seconds(kSeconds + 30)).value_or(-1), 0)
      << ReadFile(dir_ + "/source.err");
  const std::string sent = ReadFile(dir_ + "/source.out");
  const int64_t frames = JsonInt(sent, "frames").value_or(-1);
  const int64_t video = JsonInt(sent, "video_packets").value_or(-1);
  const int64_t audio = JsonInt(sent, "audio_packets").value_or(-1);
  ASSERT_TRUE(WaitUntil("tv has every video packet", kWaitTimeout,
                        [&] { return tv.count() >= video; }));
  const std::vector<Bytes> plain = tv.Stop();
  const std::vector<Bytes> cipher = spy.Stop();
  ASSERT_GE(frames, 250) << sent;
  EXPECT_EQ(JsonInt(sent, "key_changes"), 1) << sent;

  // tv got every video packet, decrypted: every frame decodes, the ones
  // under key 1 and under key 2 alike.
  EXPECT_EQ(static_cast<int64_t>(plain.size()), video);
  EXPECT_EQ(WriteAnnexB(plain, dir_ + "/tv.h264"), frames);
  const std::optional<FfmpegResult> tv_decoded =
      FfmpegDecode(dir_ + "/tv.h264");
  ASSERT_TRUE(tv_decoded.has_value())
      << "ffmpeg is missing (./dev installs it)";
  EXPECT_EQ(tv_decoded->exit_code, 0);
  EXPECT_EQ(tv_decoded->frames, frames);
  // Once per packet, video and audio, and nothing refused.
  EXPECT_EQ(p1->Metric("relay_decrypted_packets_total"), video + audio);
  EXPECT_EQ(p1->MetricSum("relay_decrypt_failures_total"), 0);
  EXPECT_EQ(p1->Metric("relay_decrypt_clear_packets_total"), 0);

  // nat's keyed child got the ciphertext, under both keys: no H.264.
  EXPECT_EQ(static_cast<int64_t>(cipher.size()), video);
  EXPECT_EQ(KeyIds(cipher), (std::set<uint32_t>{1, 2}));
  WriteAnnexB(cipher, dir_ + "/spy.h264");
  const std::optional<FfmpegResult> spy_decoded =
      FfmpegDecode(dir_ + "/spy.h264");
  ASSERT_TRUE(spy_decoded.has_value());
  EXPECT_NE(spy_decoded->exit_code, 0)
      << spy_decoded->frames << " frames decoded";
  std::printf(
      "tv: %zu packets, %d of %lld frames decoded by ffmpeg; p1 decrypted "
      "%g packets; ffmpeg on nat's ciphertext: exit %d, %d frames\n",
      plain.size(), tv_decoded->frames, static_cast<long long>(frames),
      p1->Metric("relay_decrypted_packets_total"), spy_decoded->exit_code,
      spy_decoded->frames);
}

}  // namespace
}  // namespace cascade::relay::testing
