// topologyd's console against real processes. A live tree (relay-source ->
// nat -> p1, p1-sb standing by -> d1 -> s1, every one a relayd) under
// topologyd --console: headless Chromium opens /console with the token and
// shows every node, s1 receiving; kill -9 of p1 turns it red and puts its
// NODE_DOWN in the event feed within 2 s. Without a token the API answers
// 401 and no data. Over HTTPS with operators' signed tokens: a viewer sees
// the tree and its drain is refused 403 by the server (from the page too),
// an operator's drain goes through, and the audit names the browser's
// address.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/substitute.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/json_util.h"
#include "proto/console.pb.h"
#include "proto/controller.pb.h"
#include "security/identity.h"
#include "tests/browser/chromium.h"
#include "tests/common/runfile.h"
#include "tests/common/wait.h"
#include "tests/console/console_page.h"
#include "tests/media/process.h"
#include "tests/topology/harness.h"
#include "tests/topology/test_pki.h"
#include "tests/webrtc/edge_tree.h"

namespace cascade {
namespace {

using cascade::testing::Bearer;
using cascade::testing::ClickNode;
using cascade::testing::CommandResult;
using cascade::testing::ConfirmAction;
using cascade::testing::ConsoleOf;
using cascade::testing::ConsolePort;
using cascade::testing::EdgeTree;
using cascade::testing::FreeUdpPort;
using cascade::testing::kWaitTimeout;
using cascade::testing::OpenWithToken;
using cascade::testing::ReadFile;
using cascade::testing::WaitUntil;

constexpr uint32_t kVideoSsrc = 4369;
constexpr uint32_t kAudioSsrc = 8738;
constexpr char kAdminToken[] = "console-test-admin-token";

// $0..$4: nat, p1, p1-sb, d1, s1 (s1 a relayd at the site tier, so it
// reports what it receives).
constexpr char kTopology[] = R"txt(
streams { id: "program" direction: DIRECTION_DOWNSTREAM bitrate_kbps: 500
  tracks { ssrc: 4369 media: "video" payload_type: 96 encoding: "H264/90000" }
  tracks { ssrc: 8738 media: "audio" payload_type: 111 encoding: "opus/48000/2" } }
nodes { id: "nat" tier: TIER_NATIONAL media_address: "$0"
  capacity { max_children: 8 } }
nodes { id: "p1" tier: TIER_PROVINCIAL parent: "nat" media_address: "$1"
  capacity { max_children: 8 } }
nodes { id: "p1-sb" tier: TIER_PROVINCIAL parent: "nat" role: ROLE_STANDBY
  media_address: "$2" capacity { max_children: 8 } }
nodes { id: "d1" tier: TIER_DISTRICT parent: "p1" media_address: "$3"
  capacity { max_children: 8 } }
nodes { id: "s1" tier: TIER_SITE parent: "d1" media_address: "$4"
  capacity { max_children: 8 } }
)txt";

// Plain endpoints only: the HTTPS test needs no media.
constexpr char kPlainTopology[] = R"txt(
nodes { id: "nat" tier: TIER_NATIONAL media_address: "127.0.0.1:40000"
  capacity { max_children: 8 } }
nodes { id: "p1" tier: TIER_PROVINCIAL parent: "nat"
  media_address: "127.0.0.1:40001" capacity { max_children: 8 } }
nodes { id: "p2" tier: TIER_PROVINCIAL parent: "nat"
  media_address: "127.0.0.1:40002" capacity { max_children: 8 } }
nodes { id: "d1" tier: TIER_DISTRICT parent: "p1" standby_parents: "p2"
  media_address: "127.0.0.1:40003" capacity { max_children: 8 } }
nodes { id: "s1" tier: TIER_SITE parent: "d1" media_address: "127.0.0.1:40004"
  plain_endpoint: true }
)txt";

// The colour drawn at the centre of node `id`'s mark on the map, "#rrggbb".
std::string ColourAt(const std::string& id) {
  return absl::Substitute(
      "(() => { const at = cascadeConsole.state.where.get('$0');"
      " const s = cascadeConsole.state.cell;"
      " const r = window.devicePixelRatio || 1;"
      " const d = document.getElementById('map').getContext('2d')"
      ".getImageData(Math.floor((at.x + s / 2) * r),"
      " Math.floor((at.y + s / 2) * r), 1, 1).data;"
      " return '#' + [d[0], d[1], d[2]].map((v) =>"
      " v.toString(16).padStart(2, '0')).join(''); })()",
      id);
}

size_t Count(absl::string_view text, absl::string_view what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != absl::string_view::npos;
       at = text.find(what, at + 1)) {
    ++n;
  }
  return n;
}

TEST(ConsoleTest, LiveTreeTurnsRedWithinTwoSecondsOfAKill) {
  auto created = EdgeTree::Create({});
  ASSERT_TRUE(created.ok()) << created.status();
  std::unique_ptr<EdgeTree> tree = *std::move(created);
  const std::string token_file = tree->Path("admin.token");
  std::ofstream(token_file) << kAdminToken << "\n";
  ASSERT_NO_FATAL_FAILURE(tree->StartController(
      {"--admin-token-file=" + token_file, "--console=127.0.0.1:0"}));
  const int port = ConsolePort(tree->Path("topologyd.port"));
  ASSERT_GT(port, 0) << ReadFile(tree->Path("topologyd.port"));

  const int source_port = FreeUdpPort();
  ASSERT_NO_FATAL_FAILURE(tree->StartRelay(
      "nat", false, {absl::StrCat("--source=127.0.0.1:", source_port)}));
  for (const char* id : {"p1", "p1-sb", "d1", "s1"}) {
    ASSERT_NO_FATAL_FAILURE(tree->StartRelay(id, false));
  }
  std::ofstream(tree->Path("topology.textproto")) << absl::Substitute(
      kTopology, tree->relay("nat").address(), tree->relay("p1").address(),
      tree->relay("p1-sb").address(), tree->relay("d1").address(),
      tree->relay("s1").address());
  CommandResult applied =
      tree->Relayctl({"--admin-token-file=" + token_file, "apply",
                      tree->Path("topology.textproto")});
  ASSERT_EQ(applied.code, 0) << applied.err;
  ASSERT_NO_FATAL_FAILURE(
      tree->StartSource("nat", source_port, kVideoSsrc, kAudioSsrc));

  httplib::Client http("127.0.0.1", port);
  http.set_read_timeout(10);
  // No token, or a wrong one: refused, and nothing of the tree.
  for (const std::string path : {"/console/api/tree", "/console/api/stream",
                                 "/console/api/node?id=p1"}) {
    auto refused = http.Get(path.c_str());
    ASSERT_TRUE(refused) << path;
    EXPECT_EQ(refused->status, 401) << path << ": " << refused->body;
    EXPECT_FALSE(absl::StrContains(refused->body, "p1-sb")) << refused->body;
  }
  auto wrong = http.Get("/console/api/tree", Bearer("not-the-token"));
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 403) << wrong->body;
  auto drain = http.Post("/console/api/drain?node=p1", "", "text/plain");
  ASSERT_TRUE(drain);
  EXPECT_EQ(drain->status, 401) << drain->body;
  // The page itself is public, and locked down.
  auto page = http.Get("/console");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  // Connections beyond its own origin: HTTPS only (the relays' WHEP).
  EXPECT_EQ(page->get_header_value("Content-Security-Policy"),
            "default-src 'self'; connect-src 'self' https:");

  // The tree as the console serves it: every node, s1 receiving.
  cascade::v1::ConsoleTree served;
  ASSERT_TRUE(WaitUntil("the console shows s1 receiving", kWaitTimeout, [&] {
    auto got = http.Get("/console/api/tree", Bearer(kAdminToken));
    if (!got || got->status != 200) return false;
    served.Clear();
    if (!google::protobuf::util::JsonStringToMessage(got->body, &served).ok()) {
      return false;
    }
    for (const auto& node : served.nodes()) {
      if (node.id() == "s1") return node.receiving() && node.parent() == "d1";
    }
    return false;
  })) << served.DebugString();
  EXPECT_EQ(served.nodes_size(), 5);

  auto chromium = cascade::testing::OpenBrowser();
  ASSERT_TRUE(chromium.ok()) << chromium.status();
  const std::string url = absl::StrCat("http://127.0.0.1:", port, "/console");
  ASSERT_TRUE((*chromium)->Navigate(url, absl::Seconds(10)).ok());
  // The page asks for the token; it keeps it for the tab.
  ASSERT_TRUE((*chromium)
                  ->WaitFor("!document.getElementById('login').hidden",
                            absl::Seconds(10))
                  .ok())
      << ConsoleOf(**chromium);
  ASSERT_NO_FATAL_FAILURE(OpenWithToken(chromium->get(), url, kAdminToken));
  absl::Status shown = (*chromium)->WaitFor(
      "window.cascadeConsole && cascadeConsole.state.drawn === 5 && "
      "['nat', 'p1', 'p1-sb', 'd1', 's1'].every((id) => "
      "cascadeConsole.health(id) !== null) && "
      "cascadeConsole.health('s1') === 'ok' && "
      "cascadeConsole.health('p1') === 'ok' && " +
          ColourAt("p1") + " === '#43a047'",
      kWaitTimeout);
  ASSERT_TRUE(shown.ok()) << shown << "\n" << ConsoleOf(**chromium);

  // kill -9 of p1: red on the map and NODE_DOWN in the feed within 2 s.
  const absl::Time killed = absl::Now();
  ASSERT_TRUE(tree->relay("p1").process->Signal(SIGKILL).ok());
  absl::Status red = (*chromium)->WaitFor(
      "cascadeConsole.health('p1') === 'down' && " + ColourAt("p1") +
          " === '#e53935' && "
          "[...document.querySelectorAll('#events li')].some((li) => "
          "li.textContent.includes('NODE_DOWN p1'))",
      absl::Seconds(2));
  const absl::Duration took = absl::Now() - killed;
  EXPECT_TRUE(red.ok()) << red << " after " << took << "\n"
                        << ConsoleOf(**chromium);
  std::cout << "p1 red with its event on the page " << took
            << " after kill -9\n";
  // Nothing was refused by the page's policy or failed to load.
  EXPECT_FALSE(absl::StrContains(ConsoleOf(**chromium), "Content Security"))
      << ConsoleOf(**chromium);
  EXPECT_FALSE(absl::StrContains(ConsoleOf(**chromium), "uncaught"))
      << ConsoleOf(**chromium);
}

class ConsoleRolesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = topology::testing::TestDir();
    auto pki = topology::testing::TestPki::Make(dir_ + "/pki");
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_ = std::make_unique<topology::testing::TestPki>(*std::move(pki));
    ASSERT_TRUE(pki_->IssueNode("topologyd").ok());
    std::ofstream(dir_ + "/topology.textproto") << kPlainTopology;
    std::vector<std::string> flags = pki_->ServerFlags("topologyd");
    flags.insert(flags.end(),
                 {"--state-dir=" + dir_ + "/state",
                  "--topology=" + dir_ + "/topology.textproto",
                  "--client-cert=optional", "--console=127.0.0.1:0"});
    auto daemon = topology::testing::Topologyd::Start(dir_, "topologyd", flags);
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    controller_ = *std::move(daemon);
    port_ = ConsolePort(dir_ + "/topologyd.port");
    ASSERT_GT(port_, 0) << ReadFile(dir_ + "/topologyd.port");
  }

  // relayctl token issue: the token's text.
  std::string Issue(const std::string& name, const std::string& role) {
    const std::string file = absl::StrCat(dir_, "/", name, ".token");
    CommandResult issued = topology::testing::Relayctl(
        dir_, "127.0.0.1:1",
        {"token", "issue", "--operator=" + name, "--role=" + role, "--ttl=1h",
         "--ca=" + dir_ + "/pki", "--out=" + file});
    EXPECT_EQ(issued.code, 0) << issued.err;
    return std::string(absl::StripAsciiWhitespace(ReadFile(file)));
  }

  // An HTTPS client, presenting the certificate of `name` if given.
  std::unique_ptr<httplib::SSLClient> Https(const std::string& name = "") {
    auto client =
        name.empty()
            ? std::make_unique<httplib::SSLClient>("127.0.0.1", port_)
            : std::make_unique<httplib::SSLClient>(
                  "127.0.0.1", port_, pki_->cert(name), pki_->key(name));
    client->enable_server_certificate_verification(false);
    client->set_read_timeout(10);
    return client;
  }

  std::string dir_;
  std::unique_ptr<topology::testing::TestPki> pki_;
  std::unique_ptr<topology::testing::Topologyd> controller_;
  int port_ = 0;
};

TEST_F(ConsoleRolesTest, AViewersDrainIsRefusedByTheServer) {
  const std::string viewer = Issue("vera", "viewer");
  const std::string operator_token = Issue("oscar", "operator");
  auto https = Https();

  auto anonymous = https->Get("/console/api/tree");
  ASSERT_TRUE(anonymous) << "no HTTPS answer";
  EXPECT_EQ(anonymous->status, 401) << anonymous->body;
  auto seen = https->Get("/console/api/tree", Bearer(viewer));
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->status, 200) << seen->body;
  EXPECT_TRUE(absl::StrContains(seen->body, "\"id\":\"d1\"")) << seen->body;

  auto refused = https->Post("/console/api/drain?node=p1", Bearer(viewer), "",
                             "text/plain");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 403);
  EXPECT_TRUE(absl::StrContains(refused->body,
                                "permission denied: viewer may not drain"))
      << refused->body;
  auto node = https->Get("/console/api/node?id=p1", Bearer(viewer));
  ASSERT_TRUE(node);
  EXPECT_FALSE(absl::StrContains(node->body, "STATUS_DRAINING")) << node->body;

  auto drained = https->Post("/console/api/drain?node=p1",
                             Bearer(operator_token), "", "text/plain");
  ASSERT_TRUE(drained);
  EXPECT_EQ(drained->status, 200) << drained->body;
  node = https->Get("/console/api/node?id=p1", Bearer(viewer));
  ASSERT_TRUE(node);
  EXPECT_TRUE(absl::StrContains(node->body, "STATUS_DRAINING")) << node->body;

  // The stream starts with the audit trail: the refusal and the drain,
  // each from the browser's address through the console.
  std::string received;
  auto stream =
      https->Get("/console/api/stream", Bearer(viewer),
                 [&](const char* data, size_t length) {
                   received.append(data, length);
                   // Both drains, the refused one and the operator's.
                   return Count(received, "\"command\":\"drain\"") < 2;
                 });
  EXPECT_TRUE(absl::StrContains(received, "event: tree")) << received;
  EXPECT_TRUE(absl::StrContains(received, "\"operator\":\"vera\"")) << received;
  EXPECT_TRUE(absl::StrContains(received, "\"operator\":\"oscar\""))
      << received;
  EXPECT_TRUE(absl::StrContains(received, "\"peer\":\"console 127.0.0.1:"))
      << received;

  // The page over HTTPS, as the viewer: its drain is refused by the server.
  auto chromium = cascade::testing::OpenBrowser();
  ASSERT_TRUE(chromium.ok()) << chromium.status();
  const std::string url = absl::StrCat("https://127.0.0.1:", port_, "/console");
  ASSERT_NO_FATAL_FAILURE(OpenWithToken(chromium->get(), url, viewer));
  absl::Status shown = (*chromium)->WaitFor(
      "window.cascadeConsole && cascadeConsole.state.drawn === 5 && "
      "cascadeConsole.health('p1') === 'busy'",
      kWaitTimeout);
  ASSERT_TRUE(shown.ok()) << shown << "\n" << ConsoleOf(**chromium);
  // The viewer clicks p1 on the map, then restore, and confirms.
  absl::Status clicked = ClickNode(chromium->get(), "p1");
  ASSERT_TRUE(clicked.ok()) << clicked << "\n" << ConsoleOf(**chromium);
  absl::Status confirmed = ConfirmAction(chromium->get(), "restore");
  ASSERT_TRUE(confirmed.ok()) << confirmed;
  absl::Status refused_in_page = (*chromium)->WaitFor(
      "cascadeConsole.state.lastAction && "
      "cascadeConsole.state.lastAction.status === 403 && "
      "document.getElementById('action-result').textContent.includes("
      "'viewer may not restore')",
      absl::Seconds(10));
  EXPECT_TRUE(refused_in_page.ok()) << refused_in_page << "\n"
                                    << ConsoleOf(**chromium);
}

// Move and failover: a viewer's are refused by the server; an operator's,
// from the page's detail pane (the move's parent chosen in its dialog),
// apply and show in the feed with who made them.
TEST_F(ConsoleRolesTest, MoveAndFailoverFromThePageNeedAnOperator) {
  const std::string viewer = Issue("vera", "viewer");
  const std::string operator_token = Issue("oscar", "operator");
  auto https = Https();
  for (const auto& [path, refusal] :
       std::vector<std::pair<std::string, std::string>>{
           {"move?node=d1&parent=p2", "viewer may not move"},
           {"failover?node=p1", "viewer may not failover"}}) {
    auto refused =
        https->Post("/console/api/" + path, Bearer(viewer), "", "text/plain");
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 403) << path;
    EXPECT_TRUE(absl::StrContains(refused->body, refusal)) << refused->body;
  }
  auto no_parent = https->Post("/console/api/move?node=d1",
                               Bearer(operator_token), "", "text/plain");
  ASSERT_TRUE(no_parent);
  EXPECT_EQ(no_parent->status, 400) << no_parent->body;

  auto chromium = cascade::testing::OpenBrowser();
  ASSERT_TRUE(chromium.ok()) << chromium.status();
  const std::string url = absl::StrCat("https://127.0.0.1:", port_, "/console");
  ASSERT_NO_FATAL_FAILURE(OpenWithToken(chromium->get(), url, operator_token));
  ASSERT_TRUE((*chromium)
                  ->WaitFor("window.cascadeConsole && "
                            "cascadeConsole.state.drawn === 5",
                            kWaitTimeout)
                  .ok())
      << ConsoleOf(**chromium);
  auto applied = [&](const std::string& action) {
    return (*chromium)->WaitFor(
        absl::Substitute("cascadeConsole.state.lastAction && "
                         "cascadeConsole.state.lastAction.action === '$0' && "
                         "cascadeConsole.state.lastAction.status === 200 && "
                         "[...document.querySelectorAll('#events li')].some("
                         "(li) => li.textContent.includes('by operator oscar')"
                         " && li.textContent.includes('$0'))",
                         action),
        absl::Seconds(10));
  };
  // d1 under p2: the dialog offers the provincial relays but d1's parent.
  absl::Status step = ClickNode(chromium->get(), "d1");
  ASSERT_TRUE(step.ok()) << step << "\n" << ConsoleOf(**chromium);
  step = ConfirmAction(
      chromium->get(), "move",
      "if ([...document.getElementById('confirm-parent').options].map((o) => "
      "o.value).join() !== 'p2') throw new Error('parents offered'); "
      "document.getElementById('confirm-parent').value = 'p2'");
  ASSERT_TRUE(step.ok()) << step;
  step = applied("move");
  EXPECT_TRUE(step.ok()) << step << "\n" << ConsoleOf(**chromium);
  auto node = https->Get("/console/api/node?id=d1", Bearer(viewer));
  ASSERT_TRUE(node);
  EXPECT_TRUE(absl::StrContains(node->body, "\"desiredParent\":\"p2\""))
      << node->body;

  step = ClickNode(chromium->get(), "p1");
  ASSERT_TRUE(step.ok()) << step << "\n" << ConsoleOf(**chromium);
  step = ConfirmAction(chromium->get(), "failover");
  ASSERT_TRUE(step.ok()) << step;
  step = applied("failover");
  EXPECT_TRUE(step.ok()) << step << "\n" << ConsoleOf(**chromium);
  node = https->Get("/console/api/node?id=p1", Bearer(viewer));
  ASSERT_TRUE(node);
  EXPECT_TRUE(absl::StrContains(node->body, "STATUS_FAILED")) << node->body;
}

// With mutual TLS a browser's operator certificate is its credential, as
// for relayctl: its role applies; a node's certificate is refused.
TEST_F(ConsoleRolesTest, AnOperatorsCertificateStandsForAToken) {
  ASSERT_TRUE(pki_->IssueOperator("vera", security::Role::kViewer).ok());
  ASSERT_TRUE(pki_->IssueOperator("oscar", security::Role::kOperator).ok());

  auto vera = Https("vera");
  auto seen = vera->Get("/console/api/tree");
  ASSERT_TRUE(seen) << "no HTTPS answer with a client certificate";
  EXPECT_EQ(seen->status, 200) << seen->body;
  auto refused = vera->Post("/console/api/drain?node=p1", "", "text/plain");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 403);
  EXPECT_TRUE(absl::StrContains(refused->body,
                                "permission denied: viewer may not drain"))
      << refused->body;

  auto drained =
      Https("oscar")->Post("/console/api/drain?node=p1", "", "text/plain");
  ASSERT_TRUE(drained);
  EXPECT_EQ(drained->status, 200) << drained->body;

  auto node = Https("topologyd")->Get("/console/api/tree");
  ASSERT_TRUE(node);
  EXPECT_EQ(node->status, 403) << node->body;
  EXPECT_TRUE(
      absl::StrContains(node->body, "node topologyd may not call Admin"))
      << node->body;
}

// A page open with a token that is then revoked stops getting the tree:
// its stream is checked again through the gate and ends.
TEST_F(ConsoleRolesTest, ARevokedTokensStreamEnds) {
  ASSERT_TRUE(pki_->IssueOperator("ada", security::Role::kAdmin).ok());
  const std::string token = Issue("tom", "operator");
  absl::Mutex mu;
  std::string received;
  bool ended = false;
  std::thread page([&] {
    auto https = Https();
    https->set_read_timeout(60);
    https->Get("/console/api/stream", Bearer(token),
               [&](const char* data, size_t length) {
                 absl::MutexLock lock(&mu);
                 received.append(data, length);
                 return true;
               });
    absl::MutexLock lock(&mu);
    ended = true;
  });
  auto read = [&](bool* done) {
    absl::MutexLock lock(&mu);
    *done = ended;
    return received;
  };
  bool done = false;
  EXPECT_TRUE(WaitUntil("the stream sends the tree", kWaitTimeout, [&] {
    return absl::StrContains(read(&done), "event: tree");
  }));
  std::vector<std::string> ada = pki_->Flags("ada");
  ada.insert(ada.end(), {"token", "revoke", "--operator=tom"});
  CommandResult revoked =
      topology::testing::Relayctl(dir_, controller_->address(), ada);
  EXPECT_EQ(revoked.code, 0) << revoked.err;
  const absl::Time at = absl::Now();
  EXPECT_TRUE(
      WaitUntil("the revoked token's stream ends", absl::Seconds(30), [&] {
        read(&done);
        return done;
      }));
  std::cout << "stream ended " << absl::Now() - at << " after revocation\n";
  page.join();
  auto refused = Https()->Get("/console/api/tree", Bearer(token));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 401);
  EXPECT_TRUE(absl::StrContains(refused->body, "revoked")) << refused->body;
}

// The national reference topology (10,600 sites, 11,428 nodes): the page
// draws every node within 2 s of opening, in under 200 MB of script heap.
TEST(ConsoleScaleTest, TheNationalTreeIsDrawnWithinTwoSeconds) {
  const std::string dir = topology::testing::TestDir();
  std::ofstream(dir + "/admin.token") << kAdminToken << "\n";
  auto controller = topology::testing::Topologyd::Start(
      dir, "topologyd",
      {"--insecure", "--state-dir=" + dir + "/state",
       "--topology=" +
           cascade::testing::Runfile("topology/reference/national.textproto"),
       "--admin-token-file=" + dir + "/admin.token", "--console=127.0.0.1:0"});
  ASSERT_TRUE(controller.ok()) << controller.status();
  const int port = ConsolePort(dir + "/topologyd.port");
  ASSERT_GT(port, 0);
  httplib::Client http("127.0.0.1", port);
  http.set_read_timeout(30);
  auto tree = http.Get("/console/api/tree", Bearer(kAdminToken));
  ASSERT_TRUE(tree);
  ASSERT_EQ(tree->status, 200);
  cascade::v1::ConsoleTree served;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(tree->body, &served).ok());
  ASSERT_EQ(served.nodes_size(), 11428);
  std::cout << "the national tree: " << tree->body.size() << " bytes of JSON\n";

  // A command center's screen.
  auto chromium = cascade::testing::OpenBrowser({"--window-size=1600,1000"});
  ASSERT_TRUE(chromium.ok()) << chromium.status();
  const std::string url = absl::StrCat("http://127.0.0.1:", port, "/console");
  ASSERT_NO_FATAL_FAILURE(OpenWithToken(chromium->get(), url, kAdminToken));
  ASSERT_TRUE(
      (*chromium)
          ->WaitFor("cascadeConsole.state.drawn === 11428", kWaitTimeout)
          .ok());
  // Timed: a fresh load of the page to every node drawn.
  const absl::Time opened = absl::Now();
  ASSERT_TRUE((*chromium)->Navigate(url, absl::Seconds(10)).ok());
  absl::Status drawn = (*chromium)->WaitFor(
      "cascadeConsole.state.drawn === 11428", absl::Seconds(10));
  const absl::Duration took = absl::Now() - opened;
  ASSERT_TRUE(drawn.ok()) << drawn << "\n" << ConsoleOf(**chromium);
  EXPECT_LT(took, absl::Seconds(2));
  auto heap = (*chromium)->Evaluate("performance.memory.usedJSHeapSize",
                                    absl::Seconds(5));
  ASSERT_TRUE(heap.ok()) << heap.status();
  EXPECT_LT(heap->number_value(), 200e6);
  std::cout << "11,428 nodes drawn " << took << " after opening the page; "
            << heap->number_value() / 1e6 << " MB of script heap\n";
  // The map as drawn, for a person to look at (the test's outputs).
  auto png = (*chromium)->Evaluate(
      "document.getElementById('map').toDataURL('image/png').split(',')[1]",
      absl::Seconds(10));
  ASSERT_TRUE(png.ok()) << png.status();
  std::string bytes;
  ASSERT_TRUE(absl::Base64Unescape(png->string_value(), &bytes));
  if (const char* out = getenv("TEST_UNDECLARED_OUTPUTS_DIR")) {
    std::ofstream(absl::StrCat(out, "/national-map.png"), std::ios::binary)
        << bytes;
  }
  // Search by province: its nodes are outlined and listed.
  auto matches = (*chromium)->Evaluate(
      "(() => { const box = document.getElementById('search');"
      " box.value = 'nat-1'; box.dispatchEvent(new Event('input'));"
      " return cascadeConsole.state.matches.size; })()",
      absl::Seconds(5));
  ASSERT_TRUE(matches.ok()) << matches.status();
  EXPECT_GT(matches->number_value(), 0);
}

}  // namespace
}  // namespace cascade
