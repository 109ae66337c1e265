// The console's view wall against real processes: nat (with its HTTPS
// edge) -> p1 -> d1 (edge) -> s1, a site whose camera is a headless
// Chromium publishing with WHIP at d1. An operator's select of s1 from the
// console (its detail pane, confirmed) makes the site's stream play in the
// console's own view, over WHEP from the national relay's edge
// (framesDecoded grows); its release from the view takes the view away.
#include <gtest/gtest.h>
#include <httplib.h>

#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/substitute.h"
#include "tests/common/wait.h"
#include "tests/console/console_page.h"
#include "tests/webrtc/edge_tree.h"

namespace cascade {
namespace {

using cascade::testing::Bearer;
using cascade::testing::ClickNode;
using cascade::testing::ConfirmAction;
using cascade::testing::ConsoleOf;
using cascade::testing::ConsolePort;
using cascade::testing::EdgeTree;
using cascade::testing::kWaitTimeout;
using cascade::testing::OpenWithToken;
using cascade::testing::PageNumber;
using cascade::testing::ReadFile;
using cascade::testing::WaitUntil;

constexpr char kAdminToken[] = "console-watch-test-admin-token";

// Video frames the console's view of $0 ('' is the program's) decoded.
constexpr char kFramesDecoded[] = R"js((async () => {
  const view = cascadeConsole.state.wall.views.get('$0');
  const pc = view && view.status.pc;
  let frames = 0;
  if (!pc) return 0;
  (await pc.getStats()).forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === 'video') {
      frames = s.framesDecoded || 0;
    }
  });
  return frames;
})())js";

TEST(ConsoleWatchTest, AnOperatorsSelectPlaysTheSiteInTheConsole) {
  auto created = EdgeTree::Create({"nat", "d1"});
  ASSERT_TRUE(created.ok()) << created.status();
  std::unique_ptr<EdgeTree> tree = *std::move(created);
  const std::string token_file = tree->Path("admin.token");
  std::ofstream(token_file) << kAdminToken << "\n";
  const std::string token_flag = "--admin-token-file=" + token_file;
  ASSERT_NO_FATAL_FAILURE(
      tree->StartController({token_flag, "--console=127.0.0.1:0"}));
  const int port = ConsolePort(tree->Path("topologyd.port"));
  ASSERT_GT(port, 0) << ReadFile(tree->Path("topologyd.port"));
  ASSERT_NO_FATAL_FAILURE(tree->StartPublishingSiteTree({token_flag}));
  // (relayctl show, which WaitReceiving uses, would need the token too.)
  httplib::Client http("127.0.0.1", port);
  http.set_read_timeout(10);
  ASSERT_TRUE(WaitUntil("d1 receives from p1", kWaitTimeout, [&] {
    auto got = http.Get("/console/api/node?id=d1", Bearer(kAdminToken));
    return got && got->status == 200 &&
           absl::StrContains(got->body, "\"receivingFrom\":\"p1\"");
  })) << tree->Log("d1");

  // The site's camera, published at d1.
  const cascade::v1::MintEdgeTokenResponse publish =
      tree->Url({token_flag, "s1", "--publish"});
  auto site = testing::OpenBrowser(
      {"--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"});
  ASSERT_TRUE(site.ok()) << site.status();
  ASSERT_TRUE((*site)->Navigate(publish.url(), absl::Seconds(10)).ok());
  absl::Status publishing = (*site)->WaitFor(
      "window.cascadePublisher && cascadePublisher.state === 'connected'",
      absl::Seconds(20));
  ASSERT_TRUE(publishing.ok()) << publishing << "\n" << ConsoleOf(**site);

  // The console: s1 is on the map, nothing on the wall.
  auto console = testing::OpenBrowser({"--window-size=1400,900"});
  ASSERT_TRUE(console.ok()) << console.status();
  browser::Chromium* page = console->get();
  const std::string url = absl::StrCat("http://127.0.0.1:", port, "/console");
  ASSERT_NO_FATAL_FAILURE(OpenWithToken(page, url, kAdminToken));
  ASSERT_TRUE(page->WaitFor("window.cascadeConsole && "
                            "cascadeConsole.state.drawn === 4 && "
                            "document.getElementById('wall').hidden",
                            kWaitTimeout)
                  .ok())
      << ConsoleOf(*page);

  const std::string s1_frames = absl::Substitute(kFramesDecoded, "s1");
  const std::string program_frames = absl::Substitute(kFramesDecoded, "");
  // Selected from its detail pane: its view plays.
  absl::Status step = ClickNode(page, "s1");
  ASSERT_TRUE(step.ok()) << step << "\n" << ConsoleOf(*page);
  step = ConfirmAction(page, "select");
  ASSERT_TRUE(step.ok()) << step;
  const absl::Time confirmed = absl::Now();
  ASSERT_TRUE(page->WaitFor("cascadeConsole.state.lastAction && "
                            "cascadeConsole.state.lastAction.status === 200",
                            absl::Seconds(10))
                  .ok())
      << ConsoleOf(*page);
  ASSERT_TRUE(WaitUntil("the console decodes s1's camera", kWaitTimeout,
                        [&] { return PageNumber(*page, s1_frames) > 0; }))
      << ConsoleOf(*page) << "\nnat: " << tree->Log("nat");
  const absl::Duration first_frame = absl::Now() - confirmed;
  const double frames = PageNumber(*page, s1_frames);
  // Generous: CI runs this beside other browsers on two cores.
  ASSERT_TRUE(WaitUntil("s1's frames keep coming", kWaitTimeout, [&] {
    return PageNumber(*page, s1_frames) >= frames + 30;
  })) << ConsoleOf(*page);
  std::cout << "s1 decoded in the console " << first_frame
            << " after the select was confirmed\n";
  // Beside it, the program as the sites see it, from the same edge.
  ASSERT_TRUE(WaitUntil("the console decodes the program", kWaitTimeout, [&] {
    return PageNumber(*page, program_frames) > 0;
  })) << ConsoleOf(*page);
  auto program = page->Evaluate(
      "cascadeConsole.state.wall.views.get('').endpoint", absl::Seconds(5));
  ASSERT_TRUE(program.ok()) << program.status();
  EXPECT_EQ(
      program->string_value(),
      absl::StrCat("https://", tree->relay("nat").edge(), "/whep/program"));
  // Over WHEP at the national relay's edge, with the center's link.
  auto endpoint = page->Evaluate(
      "document.getElementById('wall').hidden ? '' : "
      "cascadeConsole.state.wall.views.get('s1').endpoint",
      absl::Seconds(5));
  ASSERT_TRUE(endpoint.ok()) << endpoint.status();
  EXPECT_EQ(
      endpoint->string_value(),
      absl::StrCat("https://", tree->relay("nat").edge(), "/whep/s1-camera"));

  // Released from the view (confirmed): the view goes, the wall with it.
  ASSERT_TRUE(page->Evaluate("document.querySelector('#wall "
                             "button[data-action=release]').click(); "
                             "document.getElementById('confirm-ok').click(); "
                             "true",
                             absl::Seconds(5))
                  .ok());
  step = page->WaitFor(
      "cascadeConsole.state.lastAction.action === 'release' && "
      "cascadeConsole.state.lastAction.status === 200 && "
      "cascadeConsole.state.wall.views.size === 0 && "
      "document.getElementById('wall').hidden",
      absl::Seconds(10));
  EXPECT_TRUE(step.ok()) << step << "\n" << ConsoleOf(*page);
  EXPECT_FALSE(absl::StrContains(ConsoleOf(*page), "Content Security"))
      << ConsoleOf(*page);
}

}  // namespace
}  // namespace cascade
