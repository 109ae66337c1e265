// relayctl render's output runs as the package's unit would run it: a CA
// from relayctl pki init, topologyd with mutual TLS on 127.0.0.1, then the
// root relay's NODE.env and certificate from relayctl render --ca; the
// unit's ExecStart= line, expanded with that file as systemd expands it
// (%i, ${VAR} within a word, $VAR alone split at spaces), starts relayd,
// which gets its assignment (relayctl show) and forwards the command
// center's stream (the SOURCE render found in the topology) to a site.
// nat has a browser edge on loopback: RELAYD_OPTS carries --edge, and the
// edge serves its player page.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/strings/substitute.h"
#include "base/subprocess.h"
#include "google/protobuf/util/json_util.h"
#include "proto/controller.pb.h"
#include "tests/common/runfile.h"
#include "tests/common/wait.h"
#include "tests/media/process.h"
#include "tests/topology/harness.h"

namespace cascade::topology {
namespace {

using cascade::testing::kWaitTimeout;
using cascade::testing::ReadFile;
using cascade::testing::WaitUntil;
using testing::AckedNewerThan;
using testing::MediaRun;
using testing::Topologyd;
using testing::Udp;

constexpr char kUnit[] = "packaging/systemd/cascade-relayd@.service";
constexpr char kRelayd[] = "relay/relayd";

// $0: the command center (a plain source), $1 nat's media address, $2 its
// metrics address, $3 the plain site s1, $4 nat's browser edge.
constexpr char kTopology[] = R"txt(
streams { id: "command" direction: DIRECTION_DOWNSTREAM bitrate_kbps: 64
  source_node: "center"
  tracks { ssrc: 4242 media: "audio" payload_type: 111 encoding: "opus/48000/2" } }
nodes { id: "center" tier: TIER_NATIONAL plain_endpoint: true media_address: "$0" }
nodes { id: "nat" tier: TIER_NATIONAL media_address: "$1" metrics_address: "$2"
  edge_address: "$4" capacity { max_children: 8 } }
nodes { id: "s1" tier: TIER_SITE parent: "nat" media_address: "$3"
  plain_endpoint: true }
)txt";

// A port of `type` (SOCK_DGRAM, SOCK_STREAM) free on 127.0.0.1 just now,
// for an address the topology names before relayd binds it.
int FreePort(int type) {
  const int fd = socket(AF_INET, type, 0);
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), length), 0);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

// systemd's EnvironmentFile=: KEY=VALUE lines, '#' and ';' comments,
// whitespace around both trimmed, one pair of enclosing quotes removed.
std::map<std::string, std::string> ReadEnvironmentFile(
    const std::string& text) {
  std::map<std::string, std::string> variables;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    const size_t equals = line.find('=');
    EXPECT_NE(equals, absl::string_view::npos) << line;
    if (equals == absl::string_view::npos) continue;
    absl::string_view value =
        absl::StripAsciiWhitespace(line.substr(equals + 1));
    if (value.size() >= 2 && (value[0] == '"' || value[0] == '\'') &&
        value.back() == value[0]) {
      value = value.substr(1, value.size() - 2);
    }
    variables[std::string(absl::StripAsciiWhitespace(line.substr(0, equals)))] =
        std::string(value);
  }
  return variables;
}

// The unit's ExecStart= as systemd runs it for instance `instance`: words
// split at spaces (the line has no quotes), %i the instance, a word that
// is only $VAR split at spaces into zero or more words, ${VAR} replaced
// within a word.
std::vector<std::string> ExpandExecStart(
    const std::string& unit, const std::string& instance,
    const std::map<std::string, std::string>& env) {
  std::string line;
  for (absl::string_view l : absl::StrSplit(unit, '\n')) {
    if (absl::ConsumePrefix(&l, "ExecStart=")) line = std::string(l);
  }
  EXPECT_FALSE(line.empty()) << "no ExecStart= in the unit";
  EXPECT_FALSE(absl::StrContains(line, '"') || absl::StrContains(line, '\''))
      << "quotes: this expansion does not handle them: " << line;
  std::vector<std::string> argv;
  for (absl::string_view word :
       absl::StrSplit(line, ' ', absl::SkipWhitespace())) {
    std::string expanded = absl::StrReplaceAll(word, {{"%i", instance}});
    if (absl::StartsWith(expanded, "$") && !absl::StartsWith(expanded, "${")) {
      auto it = env.find(expanded.substr(1));
      if (it == env.end()) continue;
      for (absl::string_view part :
           absl::StrSplit(it->second, ' ', absl::SkipWhitespace())) {
        argv.emplace_back(part);
      }
      continue;
    }
    for (const auto& [name, value] : env) {
      absl::StrReplaceAll({{absl::StrCat("${", name, "}"), value}}, &expanded);
    }
    EXPECT_FALSE(absl::StrContains(expanded, '$'))
        << "a variable the environment file does not set: " << expanded;
    argv.push_back(expanded);
  }
  return argv;
}

TEST(RenderIntegrationTest, RenderedUnitRunsRelaydUnderItsController) {
  const std::string dir = testing::TestDir();
  const std::string pki = dir + "/pki";
  auto relayctl = [&](std::vector<std::string> args) {
    static int runs = 0;
    args.insert(args.begin(), "tools/relayctl/relayctl");
    return cascade::testing::RunToCompletion(
        args, absl::StrCat(dir, "/relayctl", ++runs), absl::Seconds(60));
  };
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{
           {"pki", "init", "--out=" + pki},
           {"pki", "issue", "topologyd", "--ca=" + pki, "--out=" + pki,
            "--ip=127.0.0.1"},
           {"pki", "issue", "--operator=admin", "--role=admin", "--ca=" + pki,
            "--out=" + pki}}) {
    cascade::testing::CommandResult made = relayctl(args);
    ASSERT_EQ(made.code, 0) << made.err;
  }

  Udp source, site;
  const std::string nat = absl::StrCat("127.0.0.1:", FreePort(SOCK_DGRAM));
  const int edge_port = FreePort(SOCK_STREAM);
  const std::string topology = dir + "/topology.textproto";
  std::ofstream(topology) << absl::Substitute(
      kTopology, source.address(), nat,
      absl::StrCat("127.0.0.1:", FreePort(SOCK_STREAM)), site.address(),
      absl::StrCat("127.0.0.1:", edge_port));
  auto controller = Topologyd::Start(
      dir, "topologyd",
      {"--tls-cert=" + pki + "/topologyd.pem",
       "--tls-key=" + pki + "/topologyd.key",
       "--tls-client-ca=" + pki + "/ca.pem", "--state-dir=" + dir + "/state",
       "--topology=" + topology});
  ASSERT_TRUE(controller.ok()) << controller.status();

  // /etc of the relay machine, its certificates where the file says.
  const std::string etc = dir + "/etc";
  cascade::testing::CommandResult rendered =
      relayctl({"render", "--topology=" + topology,
                "--controller=" + (*controller)->address(), "--out=" + etc,
                "--ca=" + pki, "--certs-dir=" + etc + "/certs", "nat"});
  ASSERT_EQ(rendered.code, 0) << rendered.err;
  const std::map<std::string, std::string> env =
      ReadEnvironmentFile(ReadFile(etc + "/relayd/nat.env"));
  EXPECT_EQ(env.at("LISTEN"), nat);
  EXPECT_EQ(env.at("SOURCE"), source.address());
  EXPECT_EQ(env.at("RELAYD_OPTS"),
            absl::StrCat("--edge=127.0.0.1:", edge_port));

  std::vector<std::string> argv =
      ExpandExecStart(ReadFile(cascade::testing::Runfile(kUnit)), "nat", env);
  ASSERT_FALSE(argv.empty());
  const std::string command = absl::StrJoin(argv, " ");
  for (const std::string& arg :
       {std::string("--id=nat"), "--listen=" + nat,
        "--source=" + source.address(), std::string("--config="),
        "--tls-cert=" + etc + "/certs/nat.pem",
        absl::StrCat("--edge=127.0.0.1:", edge_port)}) {
    EXPECT_NE(std::find(argv.begin(), argv.end(), arg), argv.end())
        << arg << " is not in " << command;
  }
  // The one substitution: the packaged binary is this test's.
  ASSERT_EQ(argv[0], "/usr/bin/relayd");
  argv[0] = kRelayd;
  auto relayd =
      Subprocess::Start(argv, {dir + "/relayd.out", dir + "/relayd.err"});
  ASSERT_TRUE(relayd.ok()) << relayd.status();

  // relayctl as the operator, over mutual TLS.
  cascade::v1::NodeView view;
  EXPECT_TRUE(WaitUntil(
      "relayctl show nat: its assignment acknowledged", kWaitTimeout,
      [&] {
        cascade::testing::CommandResult shown = relayctl(
            {"--controller=" + (*controller)->address(),
             "--tls-ca=" + pki + "/ca.pem", "--tls-cert=" + pki + "/admin.pem",
             "--tls-key=" + pki + "/admin.key", "--json", "show", "nat"});
        return shown.code == 0 &&
               google::protobuf::util::JsonStringToMessage(shown.out, &view)
                   .ok() &&
               AckedNewerThan(view);
      }))
      << view.ShortDebugString() << "\n"
      << command << "\nrelayd: " << ReadFile(dir + "/relayd.err");

  // SOURCE is the root's parent: the command center's stream reaches s1.
  const int port = std::stoi(nat.substr(nat.rfind(':') + 1));
  MediaRun media(&source, port, &site, 111, 4242);
  EXPECT_TRUE(WaitUntil("s1 receives the command center's stream", kWaitTimeout,
                        [&] { return media.Flowing(); }))
      << ReadFile(dir + "/relayd.err");
  EXPECT_TRUE((*relayd)->Running()) << command;

  // The browser edge the topology declares serves its player page.
  httplib::Client edge("127.0.0.1", edge_port);
  edge.set_connection_timeout(2);
  edge.set_read_timeout(5);
  const httplib::Result page = edge.Get("/watch");
  ASSERT_TRUE(page) << "no answer from the edge: " << command;
  EXPECT_EQ(page->status, 200);
  EXPECT_TRUE(absl::StrContains(page->body, "<video")) << page->body;
}

}  // namespace
}  // namespace cascade::topology
