// relayd --threads with real children: a relay whose fan-out is split
// between its loop and a send thread serves activated sites (relay-probe,
// each a keyed child that joins, keeps alive and NACKs) every packet the
// source sent, as one thread does.
//
//   relay-source ─► N (relayd --threads=2) ─► 40 sites (one relay-probe)
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/files.h"
#include "base/subprocess.h"
#include "tests/common/runfile.h"
#include "tests/common/wait.h"
#include "tests/media/process.h"
#include "tests/relay/relay_harness.h"

namespace cascade::relay::testing {
namespace {

using ::cascade::testing::FindLine;
using ::cascade::testing::JsonInt;
using ::cascade::testing::kWaitTimeout;
using ::cascade::testing::ReadFile;
using ::cascade::testing::Runfile;

constexpr uint32_t kVideo = 0x5151;
constexpr uint32_t kAudio = 0x5152;
constexpr int kSites = 40;

std::string SiteId(int i) { return absl::StrCat("s", i); }

TEST(ThreadedRelayTest, EverySiteGetsEveryPacketFromASplitFanout) {
  const std::string dir = TempDir("threaded");
  absl::StatusOr<int> port = cascade::testing::FreeLoopbackPortQuad();
  ASSERT_TRUE(port.ok()) << port.status();
  const media::Endpoint source =
      media::Endpoint::Parse(absl::StrCat("127.0.0.1:", *port)).value();
  std::string config = absl::StrCat(
      "node_id: \"N\" listen: \"127.0.0.1:0\"\n", "parents { id: \"source\" ",
      "address: \"", source.ToString(), "\" }\n", "streams { ssrc: ", kVideo,
      " direction: DOWN h264: true }\nstreams { ssrc: ", kAudio,
      " direction: DOWN }\n");
  std::string sites;
  for (int i = 0; i < kSites; ++i) {
    absl::StrAppend(&config, "children { id: \"", SiteId(i), "\" key_hex: \"",
                    TestLinkKey(SiteId(i)), "\" }\n");
  }
  absl::StatusOr<std::unique_ptr<RelayProcess>> relay = RelayProcess::Start(
      "N", config, {"--threads=2", "--threads_min_children=1"});
  ASSERT_TRUE(relay.ok()) << relay.status();
  RelayProcess& n = **relay;
  for (int i = 0; i < kSites; ++i) {
    absl::StrAppend(&sites, "127.0.0.1:0 ", n.address().ToString(), " ",
                    SiteId(i), " ", TestLinkKey(SiteId(i)), "\n");
  }
  ASSERT_TRUE(WriteFileAtomically(dir + "/sites", sites).ok());
  const std::string probe_out = dir + "/probe.out";
  absl::StatusOr<std::unique_ptr<Subprocess>> probe = Subprocess::Start(
      {Runfile("tools/probe/relay-probe"), "--json", "--duration=60",
       "--idle-exit=2", "--interval=0.2", "--sites-file=" + dir + "/sites"},
      {probe_out, dir + "/probe.err"});
  ASSERT_TRUE(probe.ok()) << probe.status();
  ASSERT_TRUE(n.WaitForMetric("relay_children", kSites, kWaitTimeout));
  EXPECT_EQ(n.Metric("relay_send_threads"), 2);

  const std::string source_out = dir + "/source.out";
  absl::StatusOr<std::unique_ptr<Subprocess>> stream = Subprocess::Start(
      {Runfile("tools/source/relay-source"), "--json", "--width=320",
       "--height=180", "--bitrate=400", "--fps=25", "--gop=50",
       "--bind=" + source.ToString(), "--dest=" + n.address().ToString(),
       absl::StrCat("--ssrc=", kVideo), absl::StrCat("--audio-ssrc=", kAudio),
       "--duration=4"},
      {source_out, dir + "/source.err"});
  ASSERT_TRUE(stream.ok()) << stream.status();
  ASSERT_EQ((*stream)->Wait(absl::Seconds(30)).value_or(-1), 0)
      << ReadFile(dir + "/source.err");
  ASSERT_TRUE((*probe)->Wait(absl::Seconds(30)).ok());

  const std::string sent = ReadFile(source_out);
  const std::string got = FindLine(probe_out, "{\"type\":\"final\"");
  ASSERT_FALSE(got.empty()) << "no final report from relay-probe";
  const int64_t per_site = JsonInt(sent, "video_packets").value_or(-1) +
                           JsonInt(sent, "audio_packets").value_or(-1);
  const int64_t distinct = JsonInt(got, "packets").value_or(-1) -
                           JsonInt(got, "duplicates").value_or(0);
  EXPECT_GT(per_site, 100) << sent;
  EXPECT_EQ(distinct, kSites * per_site) << got;
  EXPECT_EQ(JsonInt(got, "lost"), 0) << got;
  // Half of every fan-out left from the send thread.
  EXPECT_GE(n.Metric("relay_send_thread_datagrams_total"),
            kSites / 2 * per_site)
      << "the send thread sent less than its share";
}

}  // namespace
}  // namespace cascade::relay::testing
