// Link key rotation with real processes (issue 19): topologyd, relayd nat
// and p1 taking their links and keys from it, relay-source at the top and
// relay-probe sites under p1. `relayctl rotate-keys` (every relay, then p1
// alone) mid-stream re-keys the link p1 -> nat; every site still gets every
// packet, and p1 never leaves nat.
//
//   relay-source ─► nat ─► p1 ─► sites (one relay-probe process)
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/subprocess.h"
#include "control/link_key.h"
#include "tests/common/runfile.h"
#include "tests/common/wait.h"
#include "tests/media/process.h"
#include "tests/relay/relay_harness.h"
#include "tests/topology/harness.h"

namespace cascade::relay::testing {
namespace {

using ::cascade::testing::CommandResult;
using ::cascade::testing::FindLine;
using ::cascade::testing::JsonInt;
using ::cascade::testing::kWaitTimeout;
using ::cascade::testing::ReadFile;
using ::cascade::testing::Runfile;
using ::cascade::testing::RunFor;
using ::cascade::testing::WaitUntil;
using ::cascade::topology::testing::AckedNewerThan;
using ::cascade::topology::testing::ShowNode;
using ::cascade::topology::testing::Topologyd;

constexpr uint32_t kVideo = 0x6161;
constexpr uint32_t kAudio = 0x6162;
constexpr int kSites = 4;
// Every site's node key (the sites are configured with their link key, as
// a site without a controller link is).
constexpr char kSiteKey[] = "site-node-key-0123456789abcdef01";

class LinkKeyRotationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir("rotation");
    absl::StatusOr<std::unique_ptr<Topologyd>> daemon = Topologyd::Start(
        dir_, "topologyd",
        {"--insecure", "--state-dir=" + dir_ + "/state", "--lease-timeout=3s"});
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    topologyd_ = *std::move(daemon);
  }

  CommandResult Relayctl(std::vector<std::string> args) {
    args.insert(args.begin(), "--insecure");
    return cascade::topology::testing::Relayctl(dir_, topologyd_->address(),
                                                std::move(args));
  }

  std::unique_ptr<RelayProcess> StartRelay(const std::string& id,
                                           std::vector<std::string> args) {
    args.insert(args.end(),
                {"--controller=" + topologyd_->address(), "--insecure",
                 "--id=" + id, "--listen=127.0.0.1:0"});
    absl::StatusOr<std::unique_ptr<RelayProcess>> relay =
        RelayProcess::Start(id, "", args);
    EXPECT_TRUE(relay.ok()) << relay.status();
    return relay.ok() ? *std::move(relay) : nullptr;
  }

  // nat and p1, then the sites (keyed, with kSiteKey) under p1.
  void ApplyTopology(const RelayProcess& nat, const RelayProcess& p1) {
    std::string text = absl::StrCat(
        "streams { id: \"program\" direction: DIRECTION_DOWNSTREAM "
        "bitrate_kbps: 500\n"
        "  tracks { ssrc: ",
        kVideo,
        " media: \"video\" payload_type: 96 encoding: \"H264/90000\" }\n"
        "  tracks { ssrc: ",
        kAudio,
        " media: \"audio\" payload_type: 111 encoding: \"opus/48000/2\" } }\n"
        "nodes { id: \"nat\" tier: TIER_NATIONAL media_address: \"",
        nat.address().ToString(),
        "\" capacity { max_children: 4 } }\n"
        "nodes { id: \"p1\" tier: TIER_PROVINCIAL parent: \"nat\" "
        "media_address: \"",
        p1.address().ToString(), "\" capacity { max_children: ", kSites,
        " } }\n");
    for (int i = 0; i < kSites; ++i) {
      absl::StrAppend(&text, "nodes { id: \"site-", i,
                      "\" tier: TIER_SITE parent: \"p1\" media_address: "
                      "\"127.0.0.1:",
                      20000 + 2 * i, "\" key: \"", kSiteKey, "\" }\n");
    }
    const std::string file = dir_ + "/topology.textproto";
    std::ofstream(file) << text;
    CommandResult applied = Relayctl({"apply", file});
    ASSERT_EQ(applied.code, 0) << applied.err;
  }

  // p1 acknowledged an assignment newer than `version`; returns the one it
  // acknowledged (0 on timeout).
  uint64_t WaitForAck(uint64_t version) {
    cascade::v1::NodeView view;
    if (!cascade::topology::testing::WaitForNode(
            dir_, topologyd_->address(), "p1", "acks a newer assignment",
            [&](const cascade::v1::NodeView& v) {
              return AckedNewerThan(v, version);
            },
            &view)) {
      return 0;
    }
    return view.acked_version();
  }

  // relay-probe's newest progress line counts both streams at every site.
  bool EverySiteHasBothStreams() const {
    int64_t streams = 0;
    for (absl::string_view line : absl::StrSplit(ReadFile(probe_out_), '\n')) {
      if (absl::StartsWith(line, "{\"type\":\"interval\"")) {
        streams = JsonInt(std::string(line), "streams").value_or(0);
      }
    }
    return streams == 2 * kSites;
  }

  std::string dir_, probe_out_;
  std::unique_ptr<Topologyd> topologyd_;
};

TEST_F(LinkKeyRotationTest, RotatingMidStreamLosesNoPacketAtTheSites) {
  absl::StatusOr<int> port = cascade::testing::FreeLoopbackPortQuad();
  ASSERT_TRUE(port.ok()) << port.status();
  const std::string source = absl::StrCat("127.0.0.1:", *port);
  std::unique_ptr<RelayProcess> nat = StartRelay("nat", {"--source=" + source});
  std::unique_ptr<RelayProcess> p1 = StartRelay("p1", {});
  ASSERT_TRUE(nat && p1);
  ASSERT_NO_FATAL_FAILURE(ApplyTopology(*nat, *p1));
  const uint64_t applied = WaitForAck(0);
  ASSERT_GT(applied, 0u);

  probe_out_ = dir_ + "/probe.out";
  const std::string site_link_key =
      absl::BytesToHexString(cascade::control::LinkKey(kSiteKey, "p1"));
  absl::StatusOr<std::unique_ptr<Subprocess>> probe = Subprocess::Start(
      {Runfile("tools/probe/relay-probe"), "--json", "--duration=40",
       "--idle-exit=2", "--interval=0.1", absl::StrCat("--sites=", kSites),
       "--parent=" + p1->address().ToString(), "--node-id=site",
       "--key=" + site_link_key, "--decode-sites=1"},
      {probe_out_, dir_ + "/probe.err"});
  ASSERT_TRUE(probe.ok()) << probe.status();
  ASSERT_TRUE(nat->WaitForMetric("relay_children", 1, kWaitTimeout));
  ASSERT_TRUE(p1->WaitForMetric("relay_children", kSites, kWaitTimeout));

  const std::string source_out = dir_ + "/source.out";
  constexpr double kSeconds = 10;
  absl::StatusOr<std::unique_ptr<Subprocess>> sending = Subprocess::Start(
      {Runfile("tools/source/relay-source"), "--json", "--width=320",
       "--height=180", "--bitrate=400", "--fps=25", "--gop=50",
       "--bind=" + source, "--dest=" + nat->address().ToString(),
       absl::StrCat("--ssrc=", kVideo), absl::StrCat("--audio-ssrc=", kAudio),
       absl::StrCat("--duration=", kSeconds)},
      {source_out, dir_ + "/source.err"});
  ASSERT_TRUE(sending.ok()) << sending.status();
  const absl::Time started = absl::Now();
  ASSERT_TRUE(WaitUntil("every site receives both streams", kWaitTimeout,
                        [&] { return EverySiteHasBothStreams(); }));

  // Every relay's key, then p1's alone again, each while the stream runs.
  RunFor(started + absl::Seconds(3) - absl::Now());
  const double activations = nat->Metric("relay_activations_total");
  CommandResult every = Relayctl({"rotate-keys"});
  ASSERT_EQ(every.code, 0) << every.err;
  EXPECT_TRUE(absl::StartsWith(every.out, "rotate-keys: done")) << every.out;
  const uint64_t first = WaitForAck(applied);
  ASSERT_GT(first, 0u);
  RunFor(started + absl::Seconds(6) - absl::Now());
  CommandResult one = Relayctl({"rotate-keys", "p1"});
  ASSERT_EQ(one.code, 0) << one.err;
  ASSERT_GT(WaitForAck(first), 0u);
  // A site's key is configured where it runs: not rotated.
  CommandResult site = Relayctl({"rotate-keys", "site-0"});
  EXPECT_EQ(site.code, 4) << site.err;

  ASSERT_EQ((*sending)->Wait(absl::Seconds(kSeconds + 20)).value_or(-1), 0);
  ASSERT_TRUE((*probe)->Wait(absl::Seconds(40)).ok());
  const std::string sent = ReadFile(source_out);
  const std::string got = FindLine(probe_out_, "{\"type\":\"final\"");
  ASSERT_FALSE(got.empty()) << "no final report from relay-probe";
  const int64_t per_site = JsonInt(sent, "video_packets").value_or(-1) +
                           JsonInt(sent, "audio_packets").value_or(-1);
  EXPECT_GT(per_site, 100);
  EXPECT_EQ(JsonInt(got, "packets").value_or(-1) -
                JsonInt(got, "duplicates").value_or(0),
            kSites * per_site)
      << got;
  EXPECT_EQ(JsonInt(got, "lost"), 0) << got;
  EXPECT_EQ(JsonInt(got, "decode_errors"), 0) << got;
  // p1 stayed nat's child throughout, never leaving it for a refused
  // activation. (One signed with the new key can reach nat before nat's
  // own assignment: refused, harmlessly, as p1's other packets keep it.)
  EXPECT_EQ(nat->Metric("relay_children"), 1);
  // nat kept p1 as its child under the new keys: it never had to take it
  // on again (a re-activation would count here).
  EXPECT_EQ(nat->Metric("relay_activations_total"), activations);
  EXPECT_EQ(p1->Metric("relay_parent_switches_total"), 0);
  std::printf(
      "%lld packets per site, longest gap %lld ms, activations nat refused "
      "%g\n",
      static_cast<long long>(per_site),
      static_cast<long long>(JsonInt(got, "longest_gap_ms").value_or(-1)),
      nat->Metric("relay_drops_total{kind=\"activation\",reason=\"bad_mac\"}"));
}

}  // namespace
}  // namespace cascade::relay::testing
