// Headless Chromium publishes a site's fake camera and microphone with WHIP
// to its district relay (relayctl url s1 --publish), in a tree nat -> p1 ->
// d1 fed by relay-source. After relayctl select, a second browser, the
// command center's, watches the site's stream at the national relay
// (relayctl url --center s1) and decodes it; after relayctl release,
// nothing of it leaves the district.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tests/common/wait.h"
#include "tests/webrtc/edge_tree.h"

namespace cascade {
namespace {

using cascade::testing::CommandResult;
using cascade::testing::ConsoleOf;
using cascade::testing::EdgeTree;
using cascade::testing::PageNumber;
using cascade::testing::WaitUntil;

constexpr uint32_t kSiteVideoSsrc = 500;

// The center's page: frames decoded of what it watches.
constexpr char kFramesDecoded[] = R"js((async () => {
  let frames = 0;
  const pc = window.cascadeViewer && window.cascadeViewer.pc;
  if (!pc) return 0;
  (await pc.getStats()).forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === 'video') {
      frames = s.framesDecoded || 0;
    }
  });
  return frames;
})())js";

class BrowserPublishTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto tree = EdgeTree::Create({"nat", "d1"});
    ASSERT_TRUE(tree.ok()) << tree.status();
    tree_ = *std::move(tree);
  }

  std::string Logs() const {
    return absl::StrCat("d1: ", tree_->Log("d1"), "\nnat: ", tree_->Log("nat"),
                        "\nsite page:\n", site_ ? ConsoleOf(*site_) : "",
                        "\ncenter page:\n", center_ ? ConsoleOf(*center_) : "");
  }

  // d1's count of the camera's video sent to its parent.
  double CameraSentUp() {
    return tree_->Metric("d1",
                         absl::StrCat("relay_stream_packets_out_total{ssrc=\"",
                                      kSiteVideoSsrc, "\",direction=\"up\"}"));
  }

  std::unique_ptr<EdgeTree> tree_;
  std::unique_ptr<browser::Chromium> site_, center_;
};

TEST_F(BrowserPublishTest,
       SelectedSiteCameraReachesTheCenterAndStopsOnRelease) {
  ASSERT_NO_FATAL_FAILURE(tree_->StartController());
  ASSERT_NO_FATAL_FAILURE(tree_->StartPublishingSiteTree({}));
  ASSERT_TRUE(tree_->WaitReceiving("d1", "p1")) << tree_->Log("d1");

  // The site publishes its camera at d1.
  const cascade::v1::MintEdgeTokenResponse publish =
      tree_->Url({"s1", "--publish"});
  EXPECT_EQ(publish.relay(), "d1");
  EXPECT_EQ(publish.stream(), "s1-camera");
  auto site = testing::OpenBrowser(
      {"--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"});
  ASSERT_TRUE(site.ok()) << site.status();
  site_ = *std::move(site);
  ASSERT_TRUE(site_->Navigate(publish.url(), absl::Seconds(10)).ok()) << Logs();
  absl::Status publishing = site_->WaitFor(
      "window.cascadePublisher && cascadePublisher.state === 'connected'",
      absl::Seconds(20));
  ASSERT_TRUE(publishing.ok()) << publishing << "\n" << Logs();
  ASSERT_TRUE(WaitUntil(
      "d1 takes the camera's packets", absl::Seconds(10),
      [&] {
        return tree_->Metric("d1", "relay_edge_published_packets_total") > 0;
      }))
      << Logs();
  // Not selected: nothing goes up.
  EXPECT_EQ(CameraSentUp(), 0) << Logs();

  // The center selects the site and watches it at the national relay.
  CommandResult selected = tree_->Relayctl({"select", "s1"});
  ASSERT_EQ(selected.code, 0) << selected.err;
  const cascade::v1::MintEdgeTokenResponse watch =
      tree_->Url({"--center", "s1"});
  EXPECT_EQ(watch.relay(), "nat");
  auto center = testing::OpenBrowser();
  ASSERT_TRUE(center.ok()) << center.status();
  center_ = *std::move(center);
  ASSERT_TRUE(center_->Navigate(watch.url(), absl::Seconds(10)).ok()) << Logs();
  ASSERT_TRUE(
      WaitUntil("the center decodes the site's camera", absl::Seconds(20),
                [&] { return PageNumber(*center_, kFramesDecoded) >= 30; }))
      << Logs();
  EXPECT_GT(CameraSentUp(), 0);
  EXPECT_EQ(PageNumber(*site_, "cascadePublisher.sessions"), 1);

  // Released: after the deselection's grace nothing of it leaves d1.
  CommandResult released = tree_->Relayctl({"release", "s1"});
  ASSERT_EQ(released.code, 0) << released.err;
  double last = CameraSentUp();
  absl::Time still_since = absl::Now();
  ASSERT_TRUE(WaitUntil("d1 stops sending the camera up", absl::Seconds(15),
                        [&] {
                          const double now = CameraSentUp();
                          if (now != last) {
                            last = now;
                            still_since = absl::Now();
                          }
                          return absl::Now() - still_since >= absl::Seconds(2);
                        }))
      << Logs();
  // The site still publishes to d1, which keeps it.
  const double published =
      tree_->Metric("d1", "relay_edge_published_packets_total");
  ASSERT_TRUE(WaitUntil("the site still publishes", absl::Seconds(5), [&] {
    return tree_->Metric("d1", "relay_edge_published_packets_total") >
           published;
  }));
  EXPECT_EQ(CameraSentUp(), last);
}

}  // namespace
}  // namespace cascade
