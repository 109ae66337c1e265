// Debian's real Prometheus against a live network: topologyd and three
// relayd (nat -> p1 -> s1, s1 a relayd at TIER_SITE that reports to the
// controller), each with --metrics, scraped through the configuration
// `relayctl prometheus` writes with observability/rules.yml. Every target is
// up, relayd's and topologyd's series answer queries, and a kill -9 of p1
// fires CascadeRelayDown (its lease, from topologyd) and CascadeTargetDown
// (its scrape) for p1 alone. Skipped when `prometheus` is not on PATH
// (./dev installs it).
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/substitute.h"
#include "base/subprocess.h"
#include "tests/common/runfile.h"
#include "tests/common/wait.h"
#include "tests/media/process.h"
#include "tests/topology/harness.h"

namespace cascade {
namespace {

using cascade::testing::kWaitTimeout;
using cascade::testing::ReadFile;
using cascade::testing::WaitUntil;
using google::protobuf::Struct;
using google::protobuf::Value;
using topology::testing::Topologyd;
using topology::testing::Udp;

// $0..$2: the relays' media addresses; $3..$5: their metrics addresses.
constexpr char kTopology[] = R"txt(
streams { id: "command" direction: DIRECTION_DOWNSTREAM bitrate_kbps: 64
  tracks { ssrc: 1111 media: "audio" payload_type: 111 encoding: "opus/48000/2" } }
nodes { id: "nat" tier: TIER_NATIONAL media_address: "$0" metrics_address: "$3"
  capacity { max_children: 8 } }
nodes { id: "p1" tier: TIER_PROVINCIAL parent: "nat" media_address: "$1"
  metrics_address: "$4" capacity { max_children: 8 } }
nodes { id: "s1" tier: TIER_SITE parent: "p1" media_address: "$2"
  metrics_address: "$5" capacity { max_children: 8 } }
)txt";

// A TCP port on 127.0.0.1 that was free just now: bound to port 0, closed.
int FreeTcpPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

// The value of `key=N` in a port file's lines, or 0.
int PortLine(const std::string& text, absl::string_view key) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    std::pair<std::string, std::string> kv = absl::StrSplit(line, '=');
    int port = 0;
    if (kv.first == key && absl::SimpleAtoi(kv.second, &port)) return port;
  }
  return 0;
}

// Field `name` of `s`, or a null Value.
const Value& Field(const Struct& s, const std::string& name) {
  static const Value* const kNull = new Value();
  auto it = s.fields().find(name);
  return it == s.fields().end() ? *kNull : it->second;
}

// Label `name` in the `labels` ("labels" or "metric") of an object
// Prometheus's API returns, or "".
std::string Label(const Value& object, const std::string& labels,
                  const std::string& name) {
  return Field(Field(object.struct_value(), labels).struct_value(), name)
      .string_value();
}

struct Relayd {
  std::unique_ptr<Subprocess> process;
  int udp_port = 0;
  int metrics_port = 0;
};

class PrometheusLiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!FindOnPath("prometheus").ok()) {
      GTEST_SKIP() << "prometheus is not on PATH (./dev installs Debian's "
                      "prometheus package)";
    }
    dir_ = topology::testing::TestDir();
  }

  void StartController() {
    auto daemon =
        Topologyd::Start(dir_, "topologyd",
                         {"--insecure", "--state-dir=" + dir_ + "/state",
                          "--lease-timeout=1s", "--metrics=127.0.0.1:0"});
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    controller_ = std::move(*daemon);
    controller_metrics_port_ =
        PortLine(ReadFile(dir_ + "/topologyd.port"), "metrics");
    ASSERT_GT(controller_metrics_port_, 0)
        << ReadFile(dir_ + "/topologyd.port");
  }

  void StartRelay(const std::string& id, std::vector<std::string> args) {
    const std::string ports = dir_ + "/" + id + ".ports";
    args.insert(args.begin(),
                {"relay/relayd", "--controller=" + controller_->address(),
                 "--insecure", "--id=" + id, "--listen=127.0.0.1:0",
                 "--port-file=" + ports, "--metrics=127.0.0.1:0"});
    auto process = Subprocess::Start(
        args, {dir_ + "/" + id + ".out", dir_ + "/" + id + ".err"});
    ASSERT_TRUE(process.ok()) << process.status();
    Relayd& relay = relays_[id];
    relay.process = std::move(*process);
    const std::string bound =
        cascade::testing::WaitForFile(ports, absl::Seconds(20));
    relay.udp_port = PortLine(bound, "udp");
    relay.metrics_port = PortLine(bound, "metrics");
    ASSERT_GT(relay.udp_port, 0) << ReadFile(dir_ + "/" + id + ".err");
    ASSERT_GT(relay.metrics_port, 0) << bound;
  }

  // GET `path` of Prometheus's API: true with its "data", or false with the
  // reason in `error` while Prometheus does not answer successfully.
  bool Api(const std::string& path, const httplib::Params& params, Value* data,
           std::string* error) {
    httplib::Client client("127.0.0.1", prometheus_port_);
    client.set_connection_timeout(2);
    client.set_read_timeout(5);
    auto response = client.Get(path, params, httplib::Headers());
    if (!response || response->status != 200) {
      *error = response ? absl::StrCat("HTTP ", response->status, ": ",
                                       response->body)
                        : "no answer";
      return false;
    }
    Struct body;
    if (!google::protobuf::util::JsonStringToMessage(response->body, &body)
             .ok() ||
        Field(body, "status").string_value() != "success") {
      *error = response->body;
      return false;
    }
    *data = Field(body, "data");
    return true;
  }

  // The series of an instant query.
  std::vector<Value> Query(const std::string& expr) {
    Value data;
    std::string error;
    if (!Api("/api/v1/query", {{"query", expr}}, &data, &error)) return {};
    const auto& result = Field(data.struct_value(), "result").list_value();
    return {result.values().begin(), result.values().end()};
  }

  // alertname -> nodes whose alert of that name is in `state`.
  std::map<std::string, std::set<std::string>> Alerts(
      const std::string& state) {
    std::map<std::string, std::set<std::string>> alerts;
    Value data;
    std::string error;
    if (!Api("/api/v1/alerts", {}, &data, &error)) return alerts;
    for (const Value& alert :
         Field(data.struct_value(), "alerts").list_value().values()) {
      if (Field(alert.struct_value(), "state").string_value() == state) {
        alerts[Label(alert, "labels", "alertname")].insert(
            Label(alert, "labels", "node"));
      }
    }
    return alerts;
  }

  std::string dir_;
  Udp source_, site_;
  std::unique_ptr<Topologyd> controller_;
  int controller_metrics_port_ = 0;
  std::map<std::string, Relayd> relays_;
  int prometheus_port_ = 0;
};

TEST_F(PrometheusLiveTest, ScrapesTheTreeAndAlertsOnAKilledRelay) {
  ASSERT_NO_FATAL_FAILURE(StartController());
  ASSERT_NO_FATAL_FAILURE(StartRelay("nat", {"--source=" + source_.address()}));
  ASSERT_NO_FATAL_FAILURE(StartRelay("p1", {}));
  ASSERT_NO_FATAL_FAILURE(StartRelay("s1", {}));
  auto metrics = [&](const std::string& id) {
    return absl::StrCat("127.0.0.1:", relays_[id].metrics_port);
  };
  auto media = [&](const std::string& id) {
    return absl::StrCat("127.0.0.1:", relays_[id].udp_port);
  };
  std::ofstream(dir_ + "/topology.textproto")
      << absl::Substitute(kTopology, media("nat"), media("p1"), media("s1"),
                          metrics("nat"), metrics("p1"), metrics("s1"));
  auto applied = topology::testing::Relayctl(
      dir_, controller_->address(),
      {"--insecure", "apply", dir_ + "/topology.textproto"});
  ASSERT_EQ(applied.code, 0) << applied.err;
  // RTP into nat; s1 has no children, so site_ only completes the run.
  topology::testing::MediaRun run(&source_, relays_["nat"].udp_port, &site_,
                                  111, 1111);

  const std::string out = dir_ + "/prometheus";
  auto written = topology::testing::Relayctl(
      dir_, controller_->address(),
      {"--insecure", "prometheus", "--out=" + out,
       absl::StrCat("--controller-metrics=127.0.0.1:",
                    controller_metrics_port_),
       "--scrape-interval=1s",
       "--rules=" + cascade::testing::Runfile("observability/rules.yml")});
  ASSERT_EQ(written.code, 0) << written.err;

  prometheus_port_ = FreeTcpPort();
  ASSERT_GT(prometheus_port_, 0);
  auto prometheus = Subprocess::Start(
      {"prometheus", "--config.file=" + out + "/prometheus.yml",
       "--storage.tsdb.path=" + dir_ + "/tsdb",
       absl::StrCat("--web.listen-address=127.0.0.1:", prometheus_port_)},
      {dir_ + "/prometheus.out", dir_ + "/prometheus.err"});
  ASSERT_TRUE(prometheus.ok()) << prometheus.status();

  // Every target (three relays, one controller) scraped and up.
  std::string targets;
  ASSERT_TRUE(
      WaitUntil("Prometheus has 4 targets, all up", kWaitTimeout,
                [&] {
                  Value data;
                  if (!Api("/api/v1/targets", {}, &data, &targets))
                    return false;
                  const auto& active =
                      Field(data.struct_value(), "activeTargets").list_value();
                  std::set<std::string> up;
                  targets.clear();
                  for (const Value& target : active.values()) {
                    const std::string job = Label(target, "labels", "job");
                    const std::string node = Label(target, "labels", "node");
                    const std::string health =
                        Field(target.struct_value(), "health").string_value();
                    absl::StrAppend(&targets, job, "/", node, ":", health, " ");
                    if (health == "up") up.insert(job + "/" + node);
                  }
                  return active.values_size() == 4 &&
                         up == std::set<std::string>{
                                   "cascade-relays/nat", "cascade-relays/p1",
                                   "cascade-relays/s1", "cascade-controllers/"};
                }))
      << targets << ReadFile(dir_ + "/prometheus.err");

  // relayd's own series, under the node label relayctl gave its target, and
  // topologyd's report of what the site relay receives.
  ASSERT_TRUE(
      WaitUntil("relay_stream_packets_in_total of s1 > 0", kWaitTimeout, [&] {
        return Query(
                   "sum by (node) (relay_stream_packets_in_"
                   "total{node=\"s1\"}) > 0")
                   .size() == 1;
      }));
  ASSERT_TRUE(WaitUntil(
      "topology_node_packets_in_total of site s1 > 0", kWaitTimeout, [&] {
        return Query(
                   "topology_node_packets_in_total{node=\"s1\","
                   "tier=\"site\"} > 0")
                   .size() == 1;
      }));
  std::vector<Value> up = Query("topology_node_up == 1");
  std::set<std::string> up_nodes;
  for (const Value& series : up)
    up_nodes.insert(Label(series, "metric", "node"));
  EXPECT_EQ(up_nodes, (std::set<std::string>{"nat", "p1", "s1"}));

  // Nothing alerts yet about the relays.
  std::map<std::string, std::set<std::string>> before = Alerts("firing");
  EXPECT_EQ(before.count("CascadeRelayDown"), 0u);
  EXPECT_EQ(before.count("CascadeTargetDown"), 0u);

  // Kill() reports a signal's end as an error: the signal is what counts.
  (void)relays_["p1"].process->Kill();
  ASSERT_EQ(relays_["p1"].process->termination_signal(), SIGKILL);
  std::map<std::string, std::set<std::string>> firing;
  EXPECT_TRUE(WaitUntil("CascadeRelayDown and CascadeTargetDown fire for p1",
                        kWaitTimeout, [&] {
                          firing = Alerts("firing");
                          return firing["CascadeRelayDown"].count("p1") == 1 &&
                                 firing["CascadeTargetDown"].count("p1") == 1;
                        }));
  // For p1 alone: nat and s1 hold their leases and answer scrapes.
  EXPECT_EQ(firing["CascadeRelayDown"], std::set<std::string>{"p1"});
  EXPECT_EQ(firing["CascadeTargetDown"], std::set<std::string>{"p1"});
}

}  // namespace
}  // namespace cascade
