// Headless Chromium watches an encrypted program at a browser edge:
// relay-source (--controller --node cc) encrypts under topologyd's stream
// key, nat forwards the ciphertext without a key, d1 (an edge_address, so
// its assignment has the keys) decrypts and protects each packet again for
// the browser under its DTLS-SRTP keys, through a udp-impair proxy that
// loses 2% of it. The page decodes the picture from the cached keyframe on
// at the source's pace, NACKed losses repaired: both decrypted a second
// time from what d1 holds.
//
//   relay-source (cc) ─► nat ─► d1 (browser edge) ─► 2% loss ─► Chromium
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/substitute.h"
#include "base/subprocess.h"
#include "tests/browser/chromium.h"
#include "tests/common/runfile.h"
#include "tests/common/wait.h"
#include "tests/media/process.h"
#include "tests/webrtc/edge_tree.h"

namespace cascade {
namespace {

using cascade::testing::CommandResult;
using cascade::testing::ConsoleOf;
using cascade::testing::EdgeTree;
using cascade::testing::FreeUdpPort;
using cascade::testing::ReadFile;
using cascade::testing::Runfile;
using cascade::testing::WaitUntil;

// $0 cc (relay-source), $1 nat, $2 d1, $3 d1's edge, $4 s1 (a plain site
// under d1, to mint the page's URL for).
constexpr char kTopology[] = R"txt(
streams { id: "program" direction: DIRECTION_DOWNSTREAM bitrate_kbps: 500
  source_node: "cc"
  tracks { ssrc: 4369 media: "video" payload_type: 96 encoding: "H264/90000" }
  tracks { ssrc: 8738 media: "audio" payload_type: 111 encoding: "opus/48000/2" } }
nodes { id: "cc" tier: TIER_NATIONAL media_address: "$0" plain_endpoint: true }
nodes { id: "nat" tier: TIER_NATIONAL media_address: "$1"
  capacity { max_children: 8 } }
nodes { id: "d1" tier: TIER_DISTRICT parent: "nat" media_address: "$2"
  edge_address: "$3" capacity { max_children: 8 } }
nodes { id: "s1" tier: TIER_SITE parent: "d1" media_address: "$4"
  plain_endpoint: true }
)txt";

TEST(EdgeBrowserDecryptTest, BrowserPlaysTheEncryptedProgram) {
  auto created = EdgeTree::Create({"d1"});
  ASSERT_TRUE(created.ok()) << created.status();
  EdgeTree& tree = **created;
  ASSERT_NO_FATAL_FAILURE(tree.StartController());
  const std::string source = absl::StrCat("127.0.0.1:", FreeUdpPort());
  ASSERT_NO_FATAL_FAILURE(
      tree.StartRelay("nat", false, {"--source=" + source}));
  const int proxy_port = FreeUdpPort();
  ASSERT_NO_FATAL_FAILURE(tree.StartRelay(
      "d1", true, {absl::StrCat("--edge_candidates=127.0.0.1:", proxy_port)}));
  auto proxy =
      Subprocess::Start({Runfile("tools/impair/udp-impair"),
                         absl::StrCat("--listen=127.0.0.1:", proxy_port),
                         "--forward=" + tree.relay("d1").address(),
                         "--direction=reverse", "--loss=0.02"},
                        {tree.Path("impair.out"), tree.Path("impair.err")});
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  std::ofstream(tree.Path("topology.textproto"))
      << absl::Substitute(kTopology, source, tree.relay("nat").address(),
                          tree.relay("d1").address(), tree.relay("d1").edge(),
                          absl::StrCat("127.0.0.1:", FreeUdpPort()));
  const CommandResult applied =
      tree.Relayctl({"apply", tree.Path("topology.textproto")});
  ASSERT_EQ(applied.code, 0) << applied.err;
  ASSERT_TRUE(tree.WaitReceiving("d1", "nat")) << tree.Log("d1");
  ASSERT_TRUE(WaitUntil("d1 holds both tracks' keys", absl::Seconds(20), [&] {
    return tree.Metric("d1", "relay_decrypting_streams") == 2;
  })) << tree.Log("d1");
  EXPECT_EQ(tree.Metric("nat", "relay_decrypting_streams"), 0);

  auto sending = Subprocess::Start(
      {Runfile("tools/source/relay-source"), "--width=320", "--height=240",
       "--fps=30", "--bitrate=400", "--gop=30", "--bind=" + source,
       "--dest=" + tree.relay("nat").address(), "--ssrc=4369",
       "--audio-ssrc=8738", "--duration=0",
       "--controller=" + tree.controller_address(), "--insecure", "--node=cc"},
      {tree.Path("source.out"), tree.Path("source.err")});
  ASSERT_TRUE(sending.ok()) << sending.status();
  ASSERT_TRUE(WaitUntil(
      "d1 decrypts", absl::Seconds(20),
      [&] { return tree.Metric("d1", "relay_decrypted_packets_total") > 60; }))
      << tree.Log("d1") << ReadFile(tree.Path("source.err"));

  auto chromium = testing::OpenBrowser();
  ASSERT_TRUE(chromium.ok()) << chromium.status();
  const std::string url = tree.Url({"s1"}).url();
  ASSERT_TRUE((*chromium)->Navigate(url, absl::Seconds(10)).ok());
  const absl::Status playing = (*chromium)->WaitFor(
      "window.cascadeViewer && cascadeViewer.state === 'connected' && "
      "cascadeViewer.firstFrameAt > 0",
      absl::Seconds(20));
  ASSERT_TRUE(playing.ok()) << playing << "\nd1: " << tree.Log("d1")
                            << "\npage: " << ConsoleOf(**chromium);

  // Three seconds of playing at the source's pace (30 fps), losses
  // repaired.
  constexpr char kFrames[] = R"js((async () => {
    let frames = 0;
    (await cascadeViewer.pc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') {
        frames = s.framesDecoded || 0;
      }
    });
    return frames;
  })())js";
  const double before = testing::PageNumber(**chromium, kFrames);
  const absl::Time start = absl::Now();
  ASSERT_TRUE(WaitUntil("three seconds pass", absl::Seconds(5), [&] {
    return absl::Now() - start >= absl::Seconds(3);
  }));
  const double after = testing::PageNumber(**chromium, kFrames);
  const double fps =
      (after - before) / absl::ToDoubleSeconds(absl::Now() - start);
  EXPECT_GE(fps, 20) << ConsoleOf(**chromium);
  // The first picture came from the keyframe cache, lost packets from the
  // ring: each decrypted again.
  ASSERT_TRUE(WaitUntil("d1 answers a NACK", absl::Seconds(10), [&] {
    return tree.Metric("d1", "relay_edge_resent_total") > 0;
  }));
  const double cached =
      tree.Metric("d1", "relay_edge_keyframe_packets_sent_total");
  const double resent = tree.Metric("d1", "relay_edge_resent_total");
  EXPECT_GT(cached, 0);
  EXPECT_GE(tree.Metric("d1", "relay_decrypted_resent_packets_total"),
            cached + resent);
  EXPECT_EQ(tree.Metric("d1", "relay_decrypt_clear_packets_total"), 0);
  std::cout << "browser decodes the encrypted program at " << fps
            << " fps; d1 decrypted "
            << tree.Metric("d1", "relay_decrypted_packets_total")
            << " packets, again for the browser "
            << tree.Metric("d1", "relay_decrypted_resent_packets_total") << " ("
            << cached << " cached, " << resent << " NACKed)\n";
}

}  // namespace
}  // namespace cascade
