#include "tests/webrtc/edge_tree.h"

#include <gtest/gtest.h>

#include <fstream>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/substitute.h"
#include "google/protobuf/util/json_util.h"
#include "tests/common/runfile.h"

namespace cascade::testing {
namespace {

// nat -> p1 -> d1 -> s1 with edges at nat and d1, and s1's camera as an
// upstream stream (absl::Substitute: $0..$2 the media addresses of nat, p1,
// d1; $3, $4 nat's and d1's edges; $5 s1, a plain site whose camera is a
// browser publishing to d1).
constexpr char kPublishingSiteTopology[] = R"txt(
streams { id: "program" direction: DIRECTION_DOWNSTREAM bitrate_kbps: 500
  tracks { ssrc: 4369 media: "video" payload_type: 96 encoding: "H264/90000" }
  tracks { ssrc: 8738 media: "audio" payload_type: 111 encoding: "opus/48000/2" } }
streams { id: "s1-camera" direction: DIRECTION_UPSTREAM source_node: "s1"
  bitrate_kbps: 1500
  tracks { ssrc: 500 media: "video" payload_type: 96 encoding: "H264/90000" }
  tracks { ssrc: 501 media: "audio" payload_type: 111 encoding: "opus/48000/2" } }
nodes { id: "nat" tier: TIER_NATIONAL media_address: "$0" edge_address: "$3"
  capacity { max_children: 8 } }
nodes { id: "p1" tier: TIER_PROVINCIAL parent: "nat" media_address: "$1"
  capacity { max_children: 8 } }
nodes { id: "d1" tier: TIER_DISTRICT parent: "p1" media_address: "$2"
  edge_address: "$4" capacity { max_children: 8 } }
nodes { id: "s1" tier: TIER_SITE parent: "d1" media_address: "$5"
  plain_endpoint: true }
)txt";

// Two national roots with edges, nat active and nat-sb standing by, and
// nat -> p1 (nat-sb its standby parent) -> d1 -> s1, a plain site
// (absl::Substitute: $0..$3 the media addresses of nat, nat-sb, p1, d1; $4,
// $5 nat's and nat-sb's edges; $6 s1).
constexpr char kNationalPairTopology[] = R"txt(
streams { id: "program" direction: DIRECTION_DOWNSTREAM bitrate_kbps: 1500
  tracks { ssrc: 4369 media: "video" payload_type: 96 encoding: "H264/90000" }
  tracks { ssrc: 8738 media: "audio" payload_type: 111 encoding: "opus/48000/2" } }
nodes { id: "nat" tier: TIER_NATIONAL role: ROLE_ACTIVE media_address: "$0"
  edge_address: "$4" capacity { max_children: 8 } }
nodes { id: "nat-sb" tier: TIER_NATIONAL role: ROLE_STANDBY media_address: "$1"
  edge_address: "$5" capacity { max_children: 8 } }
nodes { id: "p1" tier: TIER_PROVINCIAL parent: "nat" standby_parents: "nat-sb"
  media_address: "$2" capacity { max_children: 8 } }
nodes { id: "d1" tier: TIER_DISTRICT parent: "p1" media_address: "$3"
  capacity { max_children: 8 } }
nodes { id: "s1" tier: TIER_SITE parent: "d1" media_address: "$6"
  plain_endpoint: true }
)txt";

}  // namespace

std::string Relayd::address() const {
  return absl::StrCat("127.0.0.1:", udp_port);
}

std::string Relayd::edge() const {
  return absl::StrCat("127.0.0.1:", edge_port);
}

int FreeUdpPort() {
  topology::testing::Udp udp;
  return udp.port();
}

absl::StatusOr<std::unique_ptr<EdgeTree>> EdgeTree::Create(
    const std::vector<std::string>& edge_relays) {
  std::unique_ptr<EdgeTree> tree(new EdgeTree(topology::testing::TestDir()));
  auto pki = topology::testing::TestPki::Make(tree->Path("pki"));
  if (!pki.ok()) return pki.status();
  tree->pki_ = std::make_unique<topology::testing::TestPki>(*std::move(pki));
  for (const std::string& id : edge_relays) {
    if (absl::Status s = tree->pki_->IssueNode(id); !s.ok()) return s;
  }
  return tree;
}

std::string EdgeTree::Path(const std::string& name) const {
  return dir_ + "/" + name;
}

std::string EdgeTree::controller_address() const {
  return controller_ == nullptr ? "" : controller_->address();
}

std::string EdgeTree::Log(const std::string& relay) const {
  return ReadFile(Path(relay + ".err"));
}

void EdgeTree::StartController(std::vector<std::string> flags) {
  flags.insert(flags.begin(), {"--insecure", "--state-dir=" + Path("state")});
  auto controller =
      topology::testing::Topologyd::Start(dir_, "topologyd", flags);
  ASSERT_TRUE(controller.ok()) << controller.status();
  controller_ = *std::move(controller);
}

void EdgeTree::StartRelay(const std::string& id, bool edge,
                          std::vector<std::string> args) {
  const std::string ports = Path(id + ".ports");
  args.insert(args.begin(),
              {Runfile("relay/relayd"), "--controller=" + controller_address(),
               "--insecure", "--id=" + id, "--listen=127.0.0.1:0",
               "--port-file=" + ports, "--metrics=127.0.0.1:0"});
  if (edge) {
    // The node's certificate: the test's browsers accept any.
    args.insert(args.end(),
                {"--edge=127.0.0.1:0", "--edge_tls_cert=" + pki_->cert(id),
                 "--edge_tls_key=" + pki_->key(id)});
  }
  auto process =
      Subprocess::Start(args, {Path(id + ".out"), Path(id + ".err")});
  ASSERT_TRUE(process.ok()) << process.status();
  Relayd& relay = relays_[id];
  relay.process = std::move(*process);
  const std::string bound = WaitForFile(ports, absl::Seconds(20));
  for (absl::string_view line : absl::StrSplit(bound, '\n')) {
    std::pair<std::string, std::string> kv = absl::StrSplit(line, '=');
    int* port = kv.first == "udp"       ? &relay.udp_port
                : kv.first == "metrics" ? &relay.metrics_port
                : kv.first == "edge"    ? &relay.edge_port
                                        : nullptr;
    if (port != nullptr) {
      ASSERT_TRUE(absl::SimpleAtoi(kv.second, port)) << bound;
    }
  }
  ASSERT_GT(relay.udp_port, 0) << Log(id);
  if (edge) {
    ASSERT_GT(relay.edge_port, 0) << Log(id);
  }
}

void EdgeTree::StartSource(const std::string& relay, int bind_port,
                           uint32_t video_ssrc, uint32_t audio_ssrc) {
  auto source = Subprocess::Start(
      {Runfile("tools/source/relay-source"), "--width=320", "--height=240",
       "--fps=30", "--bitrate=400", "--gop=30",
       absl::StrCat("--bind=127.0.0.1:", bind_port),
       "--dest=" + relays_[relay].address(),
       absl::StrCat("--ssrc=", video_ssrc),
       absl::StrCat("--audio-ssrc=", audio_ssrc), "--duration=0"},
      {Path("source.out"), Path("source.err")});
  ASSERT_TRUE(source.ok()) << source.status();
  sources_.push_back(*std::move(source));
}

void EdgeTree::StartPublishingSiteTree(
    const std::vector<std::string>& relayctl_flags) {
  const int source_port = FreeUdpPort();
  ASSERT_NO_FATAL_FAILURE(StartRelay(
      "nat", true, {absl::StrCat("--source=127.0.0.1:", source_port)}));
  ASSERT_NO_FATAL_FAILURE(StartRelay("p1", false));
  ASSERT_NO_FATAL_FAILURE(StartRelay("d1", true));
  std::ofstream(Path("topology.textproto")) << absl::Substitute(
      kPublishingSiteTopology, relay("nat").address(), relay("p1").address(),
      relay("d1").address(), relay("nat").edge(), relay("d1").edge(),
      absl::StrCat("127.0.0.1:", FreeUdpPort()));
  std::vector<std::string> apply = relayctl_flags;
  apply.insert(apply.end(), {"apply", Path("topology.textproto")});
  CommandResult applied = Relayctl(std::move(apply));
  ASSERT_EQ(applied.code, 0) << applied.err;
  ASSERT_NO_FATAL_FAILURE(StartSource("nat", source_port, 4369, 8738));
}

void EdgeTree::StartNationalPairTree() {
  ASSERT_NO_FATAL_FAILURE(StartRelay("nat", true));
  ASSERT_NO_FATAL_FAILURE(StartRelay("nat-sb", true));
  ASSERT_NO_FATAL_FAILURE(StartRelay("p1", false));
  ASSERT_NO_FATAL_FAILURE(StartRelay("d1", false));
  std::ofstream(Path("topology.textproto")) << absl::Substitute(
      kNationalPairTopology, relay("nat").address(), relay("nat-sb").address(),
      relay("p1").address(), relay("d1").address(), relay("nat").edge(),
      relay("nat-sb").edge(), absl::StrCat("127.0.0.1:", FreeUdpPort()));
  CommandResult applied = Relayctl({"apply", Path("topology.textproto")});
  ASSERT_EQ(applied.code, 0) << applied.err;
}

CommandResult EdgeTree::Relayctl(std::vector<std::string> args) {
  args.insert(args.begin(), "--insecure");
  return topology::testing::Relayctl(dir_, controller_address(),
                                     std::move(args));
}

cascade::v1::MintEdgeTokenResponse EdgeTree::Url(
    std::vector<std::string> args) {
  args.insert(args.begin(), {"--json", "url"});
  CommandResult minted = Relayctl(std::move(args));
  EXPECT_EQ(minted.code, 0) << minted.err;
  cascade::v1::MintEdgeTokenResponse response;
  EXPECT_TRUE(
      google::protobuf::util::JsonStringToMessage(minted.out, &response).ok())
      << minted.out;
  return response;
}

::testing::AssertionResult EdgeTree::WaitReceiving(const std::string& id,
                                                   const std::string& parent) {
  return topology::testing::WaitForNode(
      dir_, controller_address(), id,
      absl::StrCat("acks its assignment and receives from ",
                   parent.empty() ? "its parent" : parent),
      [&](const cascade::v1::NodeView& v) {
        return topology::testing::AckedNewerThan(v) &&
               (parent.empty() ? !v.stats().receiving_from().empty()
                               : v.stats().receiving_from() == parent);
      });
}

double EdgeTree::Metric(const std::string& relay, const std::string& sample) {
  return MetricValue(HttpGet(relays_[relay].metrics_port, "/metrics"), sample);
}

absl::StatusOr<std::unique_ptr<browser::Chromium>> OpenBrowser(
    std::vector<std::string> flags) {
  browser::ChromiumOptions options;
  options.extra_flags = std::move(flags);
  options.extra_flags.push_back("--ignore-certificate-errors");
  // Chromium hides its host candidates behind mDNS names and its
  // connection state waits for their registration (about a second here,
  // with no multicast): a machine's artefact, not the relay's. The relay
  // is ICE-lite and needs none of the browser's candidates.
  options.extra_flags.push_back(
      "--disable-features=WebRtcHideLocalIpsWithMdns");
  return browser::Chromium::Launch(options);
}

std::string ConsoleOf(const browser::Chromium& chromium) {
  std::string log;
  for (const std::string& line : chromium.ConsoleLog()) {
    absl::StrAppend(&log, line, "\n");
  }
  return log;
}

double PageNumber(browser::Chromium& chromium, const std::string& expression) {
  auto value = chromium.Evaluate(expression, absl::Seconds(5));
  EXPECT_TRUE(value.ok()) << expression << ": " << value.status();
  return value.ok() ? value->number_value() : -1;
}

}  // namespace cascade::testing
