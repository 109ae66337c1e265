// The command center's program feed reaches both national relays: headless
// Chromium with a fake camera and microphone opens the one URL `relayctl
// url --center --publish` prints, and its publish page sends the same
// tracks over WHIP to the active national relay (nat) and to its mirror,
// the standby root (nat-sb). Both take the program in; after kill -9 of
// nat, p1 fails over to nat-sb, which goes on taking the program in, with
// no new mint and no new session at nat-sb. The district below keeps the
// program only when nat-sb's numbering is not behind nat's: each relay
// passes its own session's RTP sequence numbers through, and a relay drops
// what is older than its ring (too_old) after a failover (docs/webrtc.md,
// "Limits"); the test tells the two cases apart and names which it saw.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "tests/common/wait.h"
#include "tests/webrtc/edge_tree.h"

namespace cascade {
namespace {

using cascade::testing::ConsoleOf;
using cascade::testing::EdgeTree;
using cascade::testing::PageNumber;
using cascade::testing::WaitUntil;

// d1's count of the program's video (the topology's SSRC) from its parent.
constexpr char kProgramVideoIn[] =
    "relay_stream_packets_in_total{ssrc=\"4369\",direction=\"down\"}";
constexpr char kPublished[] = "relay_edge_published_packets_total";
constexpr char kTooOld[] =
    "relay_drops_total{kind=\"relay\",reason=\"too_old\"}";

class CenterPublishTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto tree = EdgeTree::Create({"nat", "nat-sb"});
    ASSERT_TRUE(tree.ok()) << tree.status();
    tree_ = *std::move(tree);
  }

  std::string Logs() const {
    std::string logs;
    for (const char* relay : {"nat", "nat-sb", "p1", "d1"}) {
      absl::StrAppend(&logs, relay, ": ", tree_->Log(relay), "\n");
    }
    return absl::StrCat(logs, "page:\n", page_ ? ConsoleOf(*page_) : "");
  }

  // The mirror's session, as the page reports it.
  std::string MirrorState() {
    auto value = page_->Evaluate(
        "JSON.stringify(cascadePublisher.mirrors.map((m) => "
        "[m.address, m.state, m.sessions, m.lastError]))",
        absl::Seconds(5));
    return value.ok() ? value->string_value() : value.status().ToString();
  }

  // Packets p1 and d1 dropped as older than their rings hold.
  double TooOld() {
    return std::max(0.0, tree_->Metric("p1", kTooOld)) +
           std::max(0.0, tree_->Metric("d1", kTooOld));
  }

  // Waits (bounded) until `relay`'s `sample` exceeds its value now by
  // `more`.
  ::testing::AssertionResult Grows(const std::string& relay,
                                   const std::string& sample, double more) {
    const double from = tree_->Metric(relay, sample);
    return WaitUntil(absl::StrCat(relay, "'s ", sample, " grows by ", more),
                     absl::Seconds(15), [&] {
                       return tree_->Metric(relay, sample) >= from + more;
                     });
  }

  std::unique_ptr<EdgeTree> tree_;
  std::unique_ptr<browser::Chromium> page_;
};

TEST_F(CenterPublishTest, BothNationalRelaysTakeTheFeedAndTheStandbyGoesOn) {
  ASSERT_NO_FATAL_FAILURE(tree_->StartController());
  ASSERT_NO_FATAL_FAILURE(tree_->StartNationalPairTree());

  const cascade::v1::MintEdgeTokenResponse feed =
      tree_->Url({"--center", "--publish"});
  EXPECT_EQ(feed.relay(), "nat");
  EXPECT_EQ(feed.stream(), "program");
  ASSERT_EQ(feed.mirrors_size(), 1) << feed.url();
  EXPECT_EQ(feed.mirrors(0).relay(), "nat-sb");
  EXPECT_EQ(feed.mirrors(0).edge_address(), tree_->relay("nat-sb").edge());

  auto page = testing::OpenBrowser(
      {"--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"});
  ASSERT_TRUE(page.ok()) << page.status();
  page_ = *std::move(page);
  ASSERT_TRUE(page_->Navigate(feed.url(), absl::Seconds(10)).ok()) << Logs();
  absl::Status both = page_->WaitFor(
      "window.cascadePublisher && cascadePublisher.state === 'connected' && "
      "cascadePublisher.mirrors.length === 1 && "
      "cascadePublisher.mirrors[0].state === 'connected'",
      absl::Seconds(20));
  ASSERT_TRUE(both.ok()) << both << "\nmirrors " << MirrorState() << "\n"
                         << Logs();

  // Each national relay takes the program from its own session, and the
  // tree carries nat's down to the district.
  ASSERT_TRUE(Grows("nat", kPublished, 100)) << Logs();
  ASSERT_TRUE(Grows("nat-sb", kPublished, 100)) << Logs();
  ASSERT_TRUE(tree_->WaitReceiving("p1", "nat")) << Logs();
  // From p1, or from nat when d1 took its standby parent as the stream
  // began (a start-up race of the relays' silence timers, seen once).
  ASSERT_TRUE(tree_->WaitReceiving("d1", "")) << Logs();
  ASSERT_TRUE(Grows("d1", kProgramVideoIn, 100)) << Logs();
  EXPECT_EQ(PageNumber(*page_, "cascadePublisher.mirrors[0].sessions"), 1);

  // kill -9 of the active national relay: p1 fails over to nat-sb, which
  // has had the program all along.
  // d1's longest time without a new packet of the program, over the 8 s
  // after the kill.
  const double too_old_before = TooOld();
  double last = tree_->Metric("d1", kProgramVideoIn);
  const absl::Time killed = absl::Now();
  absl::Time changed = killed;
  absl::Duration longest_gap;
  ASSERT_TRUE(tree_->relay("nat").process->Signal(SIGKILL).ok());
  ASSERT_TRUE(
      WaitUntil("8 s of d1's program after the kill", absl::Seconds(20), [&] {
        const absl::Time now = absl::Now();
        const double count = tree_->Metric("d1", kProgramVideoIn);
        if (count != last) {
          longest_gap = std::max(longest_gap, now - changed);
          changed = now;
          last = count;
        }
        return now - killed >= absl::Seconds(8);
      }));
  longest_gap = std::max(longest_gap, absl::Now() - changed);
  const double too_old = TooOld();
  std::cout << "d1's longest gap in the program after the kill of nat: "
            << absl::FormatDuration(longest_gap) << "; p1 and d1 dropped "
            << too_old - too_old_before << " packets as too_old" << std::endl;
  ASSERT_TRUE(tree_->WaitReceiving("p1", "nat-sb")) << Logs();
  ASSERT_TRUE(Grows("nat-sb", kPublished, 100)) << Logs();
  // The subtree goes on: each national relay numbers its own WHIP session,
  // and when nat-sb's numbering is behind nat's, p1 and d1 follow it after
  // a short run of refused packets (RelayCore::Renumbered).
  EXPECT_LT(longest_gap, absl::Seconds(1)) << Logs();
  EXPECT_TRUE(Grows("d1", kProgramVideoIn, 300)) << Logs();
  // The mirror's session never broke; the page still tries nat by itself.
  EXPECT_EQ(PageNumber(*page_, "cascadePublisher.mirrors[0].sessions"), 1)
      << MirrorState();
  EXPECT_EQ(PageNumber(*page_,
                       "cascadePublisher.mirrors[0].state === 'connected' "
                       "? 1 : 0"),
            1)
      << MirrorState();
}

}  // namespace
}  // namespace cascade
