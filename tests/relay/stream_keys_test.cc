// The program stream encrypted under topologyd's stream keys (issue 19,
// stage 2), with real processes on loopback and mutual TLS throughout:
// topologyd makes the keys, relay-source (--controller, as the stream's
// source_node) encrypts under them, a relayd that holds no key forwards the
// ciphertext, and relay-probe's two sites (--controller, one certificate
// naming both) decrypt. An admin's RotateStreamKey mid-stream moves the
// source to the next key once its overlap is over; the sites, given the key
// ahead of its use, lose nothing. A relay's certificate gets no key.
//
//   relay-source (cc) ─► N ─► s1, s2 (relay-probe)
//                          └─► capture (a static push child: this test)
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/files.h"
#include "base/subprocess.h"
#include "media/rtp/rtp.h"
#include "proto/controller.grpc.pb.h"
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

using ::cascade::testing::FindLine;
using ::cascade::testing::JsonInt;
using ::cascade::testing::kWaitTimeout;
using ::cascade::testing::ReadFile;
using ::cascade::testing::Runfile;
using ::cascade::testing::WaitUntil;
using ::cascade::topology::testing::TestPki;
using ::cascade::topology::testing::Topologyd;

constexpr uint32_t kVideo = 0x5151;
constexpr uint32_t kAudio = 0x5152;
constexpr absl::Duration kCallDeadline = absl::Seconds(10);
// topologyd's --stream-key-overlap here (its smallest).
constexpr absl::Duration kOverlap = absl::Seconds(4);

// "cc" sends the program into nat, whose children are the sites s1 and s2.
constexpr char kTopology[] = R"txt(
nodes { id: "cc" tier: TIER_NATIONAL media_address: "127.0.0.9:5000"
  plain_endpoint: true }
nodes { id: "nat" tier: TIER_NATIONAL media_address: "127.1.0.1:5004"
  capacity { max_children: 8 } }
nodes { id: "s1" tier: TIER_SITE parent: "nat" media_address: "127.10.0.1:5004" }
nodes { id: "s2" tier: TIER_SITE parent: "nat" media_address: "127.10.0.2:5004" }
streams { id: "program" direction: DIRECTION_DOWNSTREAM source_node: "cc"
  tracks { ssrc: 20817 media: "video" payload_type: 96 encoding: "H264/90000" }
  tracks { ssrc: 20818 media: "audio" payload_type: 111 encoding: "opus/48000/2" } }
)txt";

class StreamKeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir("stream-keys");
    auto pki = TestPki::Make(dir_ + "/pki");
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_ = std::make_unique<TestPki>(*std::move(pki));
    for (const char* id : {"topologyd", "cc", "nat"}) {
      ASSERT_TRUE(pki_->IssueNode(id).ok());
    }
    // relay-probe's one certificate for both of its sites.
    ASSERT_TRUE(pki_->IssueNodes("sites", {"s1", "s2"}).ok());
    ASSERT_TRUE(pki_->IssueOperator("ada", security::Role::kAdmin).ok());
    const std::string topology = dir_ + "/topology.textproto";
    std::ofstream(topology) << kTopology;
    std::vector<std::string> flags = pki_->ServerFlags("topologyd");
    flags.insert(flags.end(),
                 {"--state-dir=" + dir_ + "/state", "--topology=" + topology,
                  "--lease-timeout=60s", "--restart-learning=1s",
                  "--stream-key-overlap=4s"});
    auto controller = Topologyd::Start(dir_, "topologyd", flags);
    ASSERT_TRUE(controller.ok()) << controller.status();
    controller_ = *std::move(controller);
  }

  // GetStreamKeys for `nodes` with the certificate `holder`.
  grpc::Status Keys(const std::string& holder,
                    const std::vector<std::string>& nodes,
                    cascade::v1::GetStreamKeysResponse* response) {
    return topology::testing::GetStreamKeysAs(*pki_, controller_->address(),
                                              holder, nodes, response);
  }

  std::vector<std::string> TlsFlags(const std::string& name) {
    return {"--controller=" + controller_->address(), "--tls-ca=" + pki_->ca(),
            "--tls-cert=" + pki_->cert(name), "--tls-key=" + pki_->key(name)};
  }

  std::string dir_;
  std::unique_ptr<TestPki> pki_;
  std::unique_ptr<Topologyd> controller_;
};

TEST_F(StreamKeysTest, SitesDecodeAcrossARotationAndRelaysGetNoKey) {
  cascade::v1::GetStreamKeysResponse first;
  ASSERT_TRUE(WaitUntil("topologyd made the first key", kWaitTimeout, [&] {
    return Keys("cc", {"cc"}, &first).ok() && first.keys_size() == 1;
  }));

  // A relay's certificate is refused, for itself and for a site it does
  // not name.
  cascade::v1::GetStreamKeysResponse refused;
  EXPECT_EQ(Keys("nat", {"nat"}, &refused).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Keys("nat", {"s1"}, &refused).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(refused.keys_size(), 0);

  absl::StatusOr<int> port = cascade::testing::FreeLoopbackPortQuad();
  ASSERT_TRUE(port.ok()) << port.status();
  const media::Endpoint source =
      media::Endpoint::Parse(absl::StrCat("127.0.0.1:", *port)).value();
  RtpCapture capture(kVideo);
  // The relay is told nothing of the encryption: it has no key to be told.
  std::string config = absl::StrCat(
      "node_id: \"nat\" listen: \"127.0.0.1:0\"\n",
      "parents { id: \"source\" address: \"", source.ToString(), "\" }\n");
  for (const char* site : {"s1", "s2"}) {
    absl::StrAppend(&config, "children { id: \"", site, "\" key_hex: \"",
                    TestLinkKey(site), "\" }\n");
  }
  absl::StrAppend(&config, "children { id: \"capture\" address: \"",
                  capture.address().ToString(), "\" static_push: true }\n",
                  "streams { ssrc: ", kVideo,
                  " direction: DOWN h264: true }\nstreams { ssrc: ", kAudio,
                  " direction: DOWN }\n");
  auto relay = RelayProcess::Start("nat", config);
  ASSERT_TRUE(relay.ok()) << relay.status();
  RelayProcess& nat = **relay;

  // Both sites in one relay-probe, keys from topologyd (no srtp_key_file=).
  const std::string sites = dir_ + "/sites";
  std::string lines;
  for (const char* site : {"s1", "s2"}) {
    absl::StrAppend(&lines, "127.0.0.1:0 ", nat.address().ToString(), " ", site,
                    " ", TestLinkKey(site), "\n");
  }
  ASSERT_TRUE(WriteFileAtomically(sites, lines).ok());
  std::vector<std::string> probe_args = {Runfile("tools/probe/relay-probe"),
                                         "--json",
                                         "--duration=60",
                                         "--idle-exit=2",
                                         "--interval=0.1",
                                         "--decode-sites=2",
                                         "--sites-file=" + sites};
  for (std::string& flag : TlsFlags("sites")) probe_args.push_back(flag);
  auto probe =
      Subprocess::Start(probe_args, {dir_ + "/probe.out", dir_ + "/probe.err"});
  ASSERT_TRUE(probe.ok()) << probe.status();
  ASSERT_TRUE(nat.WaitForMetric("relay_children", 2, kWaitTimeout));
  ASSERT_TRUE(WaitUntil("the sites have the key", kWaitTimeout, [&] {
    return absl::StrContains(ReadFile(dir_ + "/probe.err"),
                             "stream keys for s1,s2");
  })) << ReadFile(dir_ + "/probe.err");

  std::vector<std::string> source_args = {Runfile("tools/source/relay-source"),
                                          "--json",
                                          "--width=320",
                                          "--height=180",
                                          "--bitrate=300",
                                          "--fps=25",
                                          "--gop=25",
                                          "--bind=" + source.ToString(),
                                          "--dest=" + nat.address().ToString(),
                                          absl::StrCat("--ssrc=", kVideo),
                                          absl::StrCat("--audio-ssrc=", kAudio),
                                          "--duration=12",
                                          "--node=cc"};
  for (std::string& flag : TlsFlags("cc")) source_args.push_back(flag);
  auto stream = Subprocess::Start(source_args,
                                  {dir_ + "/source.out", dir_ + "/source.err"});
  ASSERT_TRUE(stream.ok()) << stream.status();
  ASSERT_TRUE(WaitUntil("the source sends under key 1", kWaitTimeout, [&] {
    return absl::StrContains(ReadFile(dir_ + "/source.err"),
                             "stream key 00000001 from topologyd");
  })) << ReadFile(dir_ + "/source.err");
  ASSERT_TRUE(
      nat.WaitForMetric(absl::StrCat("relay_stream_packets_in_total{ssrc=\"",
                                     kVideo, "\",direction=\"down\"}"),
                        50, kWaitTimeout));

  // The rotation, by an admin: key 2, used from the end of the overlap.
  auto admin = cascade::v1::Admin::NewStub(
      grpc::CreateChannel(controller_->address(), pki_->Credentials("ada")));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kCallDeadline));
  cascade::v1::RotateStreamKeyRequest rotate;
  rotate.set_stream("program");
  cascade::v1::ChangeResponse changed;
  const grpc::Status rotated =
      admin->RotateStreamKey(&context, rotate, &changed);
  ASSERT_TRUE(rotated.ok()) << rotated.error_message();
  ASSERT_TRUE(WaitUntil("the source moves to key 2", kOverlap + kWaitTimeout,
                        [&] {
                          return absl::StrContains(
                              ReadFile(dir_ + "/source.err"),
                              "stream key 00000002 from now on");
                        }))
      << ReadFile(dir_ + "/source.err");

  ASSERT_EQ((*stream)->Wait(absl::Seconds(40)).value_or(-1), 0)
      << ReadFile(dir_ + "/source.err");
  ASSERT_EQ((*probe)->Wait(absl::Seconds(30)).value_or(-1), 0)
      << ReadFile(dir_ + "/probe.out") << ReadFile(dir_ + "/probe.err");
  std::vector<uint32_t> key_ids;
  for (const Bytes& packet : capture.Stop()) key_ids.push_back(KeyIdOf(packet));

  const std::string sent = ReadFile(dir_ + "/source.out");
  const std::string got = FindLine(dir_ + "/probe.out", "{\"type\":\"final\"");
  ASSERT_FALSE(got.empty()) << ReadFile(dir_ + "/probe.err");
  const int64_t frames = JsonInt(sent, "frames").value_or(-1);
  const int64_t packets = JsonInt(sent, "video_packets").value_or(-1) +
                          JsonInt(sent, "audio_packets").value_or(-1);
  ASSERT_GE(frames, 200) << sent;
  EXPECT_TRUE(absl::StrContains(sent, "\"key_id\":\"00000002\"")) << sent;
  EXPECT_EQ(JsonInt(sent, "key_changes"), 1) << sent;
  // Both sites took every packet and decoded every frame: none lost to the
  // rotation, none rejected.
  EXPECT_EQ(JsonInt(got, "packets").value_or(-1) -
                JsonInt(got, "duplicates").value_or(0),
            2 * packets)
      << got;
  EXPECT_EQ(JsonInt(got, "lost"), 0) << got;
  EXPECT_EQ(JsonInt(got, "frames_decoded"), 2 * frames) << got;
  EXPECT_EQ(JsonInt(got, "decode_errors"), 0) << got;
  EXPECT_EQ(JsonInt(got, "bad_packets"), 0) << got;

  // On the wire: key 1, then key 2 from one packet on, never back.
  ASSERT_EQ(static_cast<int64_t>(key_ids.size()),
            JsonInt(sent, "video_packets").value_or(-1));
  int64_t switches = 0;
  ASSERT_FALSE(key_ids.empty());
  uint32_t previous = key_ids.front();
  EXPECT_EQ(previous, 1u);
  for (const uint32_t id : key_ids) {
    if (id != previous) ++switches;
    previous = id;
  }
  EXPECT_EQ(previous, 2u);
  EXPECT_EQ(switches, 1);
  int64_t under_first = 0;
  for (const uint32_t id : key_ids) under_first += id == 1 ? 1 : 0;
  std::printf(
      "%lld video packets under key 1, %lld under key 2; each site decoded "
      "%lld frames\n",
      static_cast<long long>(under_first),
      static_cast<long long>(key_ids.size() - under_first),
      static_cast<long long>(frames));
}

}  // namespace
}  // namespace cascade::relay::testing
