// Several topologyd processes on real etcd (issue 9): one leads, the others
// redirect; the leader is killed (-9) under a stream of relayctl changes and
// a follower takes over; no acknowledged change is lost and none is applied
// twice (read back from etcd itself). relayd processes given the controller
// list reconnect to the new leader, keep their assignments, and the sites
// lose no packet. A three-member etcd with one member stopped: the
// controllers carry on. A leader cut off from etcd exits with code 3.
#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/substitute.h"
#include "absl/synchronization/mutex.h"
#include "base/subprocess.h"
#include "control/controllers.h"
#include "google/protobuf/util/json_util.h"
#include "proto/controller.grpc.pb.h"
#include "proto/controller.pb.h"
#include "tests/common/wait.h"
#include "tests/etcd/etcd_harness.h"
#include "tests/media/process.h"
#include "tests/topology/harness.h"
#include "topology/etcd/etcd_client.h"
#include "topology/etcd/etcd_store.h"

namespace cascade::topology {
namespace {

using cascade::testing::CommandResult;
using cascade::testing::EtcdCluster;
using cascade::testing::kWaitTimeout;
using cascade::testing::RunFor;
using cascade::testing::WaitUntil;
using cascade::topology::testing::MediaRun;
using cascade::topology::testing::Topologyd;
using cascade::topology::testing::Udp;

constexpr char kTtl[] = "--leader-ttl=2s";

// A district with room for the sites the tests add.
constexpr char kSmallTopology[] = R"txt(
nodes { id: "nat" tier: TIER_NATIONAL media_address: "127.1.0.1:5004"
  capacity { max_children: 4 } }
nodes { id: "p1" tier: TIER_PROVINCIAL parent: "nat"
  media_address: "127.2.1.1:5004" capacity { max_children: 4 } }
nodes { id: "d1" tier: TIER_DISTRICT parent: "p1"
  media_address: "127.3.0.1:5004" capacity { max_children: 100 } }
)txt";

// GetStats straight to one controller (no redirect followed); `redirect`
// gets what a refusal said.
grpc::Status Stats(const std::string& address,
                   control::Redirect* redirect = nullptr) {
  auto stub = cascade::v1::Admin::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
  cascade::v1::StatsResponse stats;
  grpc::Status status =
      stub->GetStats(&context, cascade::v1::StatsRequest(), &stats);
  if (redirect != nullptr) *redirect = control::RedirectOf(context);
  return status;
}

// grpc.health.v1.Health/Check for `service` on one controller: 1 SERVING,
// 2 NOT_SERVING, -1 no answer. The two messages are encoded by hand (one
// string field out, one enum field back): the health proto has no C++ code
// in Debian's gRPC packages.
int Health(const std::string& address, const std::string& service) {
  auto channel =
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  std::string request = {0x0a, static_cast<char>(service.size())};
  request += service;
  grpc::Slice slice(request);
  grpc::ByteBuffer request_buffer(&slice, 1);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
  grpc::CompletionQueue queue;
  auto call = stub.PrepareUnaryCall(&context, "/grpc.health.v1.Health/Check",
                                    request_buffer, &queue);
  call->StartCall();
  grpc::ByteBuffer response_buffer;
  grpc::Status status;
  call->Finish(&response_buffer, &status, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  if (!queue.Next(&tag, &ok) || !ok || !status.ok()) return -1;
  std::vector<grpc::Slice> slices;
  if (!response_buffer.Dump(&slices).ok()) return -1;
  std::string response;
  for (const grpc::Slice& part : slices) {
    response.append(reinterpret_cast<const char*>(part.begin()), part.size());
  }
  queue.Shutdown();
  while (queue.Next(&tag, &ok)) {
  }
  return response.size() == 2 && response[0] == 0x08 ? response[1] : -1;
}

std::string SiteText(int n) {
  return absl::StrCat("id: \"s", n, "\" tier: TIER_SITE parent: \"d1\" ",
                      "media_address: \"127.10.0.", n, ":5004\"");
}

// A relay tree for the relay test: nat and p1 are relayd processes, s1 a
// plain RTP endpoint (the test's socket). $0..$2: their addresses.
constexpr char kRelayTopology[] = R"txt(
streams { id: "command" direction: DIRECTION_DOWNSTREAM bitrate_kbps: 64
  tracks { ssrc: 1111 media: "audio" payload_type: 111 encoding: "opus/48000/2" } }
nodes { id: "nat" tier: TIER_NATIONAL media_address: "$0"
  capacity { max_children: 4 } }
nodes { id: "p1" tier: TIER_PROVINCIAL parent: "nat" media_address: "$1"
  capacity { max_children: 4 } }
nodes { id: "s1" tier: TIER_SITE parent: "p1" media_address: "$2"
  plain_endpoint: true }
)txt";
constexpr uint8_t kPayloadType = 111;
constexpr uint32_t kSsrc = 1111;

// relayd in controller mode, killed -9 when destroyed.
struct Relayd {
  std::unique_ptr<Subprocess> process;
  int udp_port = 0;
  int metrics_port = 0;
  std::string stderr_path;
  std::string address() const { return absl::StrCat("127.0.0.1:", udp_port); }
  double Metric(const std::string& sample) const {
    return cascade::testing::MetricValue(
        cascade::testing::HttpGet(metrics_port, "/metrics"), sample);
  }
  // Assignments relayd applied (an assignment equal to the running one is
  // acknowledged without being applied again).
  int Applied() const {
    const std::string log = cascade::testing::ReadFile(stderr_path);
    int count = 0;
    for (size_t at = log.find("applied assignment version");
         at != std::string::npos;
         at = log.find("applied assignment version", at + 1)) {
      ++count;
    }
    return count;
  }
};

// A group of topologyd on one etcd (cluster), each on its own port.
class HaTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::TestDir(); }

  void StartEtcd(int members) {
    auto cluster = EtcdCluster::Start(members, dir_ + "/etcd");
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    etcd_ = *std::move(cluster);
  }

  // Starts `count` controllers with `flags` on top of the etcd store flags.
  void StartControllers(int count, const std::vector<std::string>& flags) {
    for (int i = 0; i < count; ++i) {
      std::vector<std::string> all = etcd_->TopologydFlags();
      all.insert(all.end(), {kTtl, "--lease-timeout=3s", "--insecure"});
      all.insert(all.end(), flags.begin(), flags.end());
      auto daemon = Topologyd::Start(dir_, absl::StrCat("topologyd", i), all);
      ASSERT_TRUE(daemon.ok()) << daemon.status();
      addresses_.push_back((*daemon)->address());
      controllers_.push_back(*std::move(daemon));
    }
  }

  // Every controller's address, killed ones included: what clients are
  // configured with.
  std::string List() const { return absl::StrJoin(addresses_, ","); }

  CommandResult Relayctl(const std::string& controllers,
                         std::vector<std::string> args) {
    args.insert(args.begin(), "--insecure");
    return testing::Relayctl(dir_, controllers, std::move(args));
  }

  // The index of the controller that answers as leader (bounded wait), or
  // -1. Followers refuse.
  int WaitForLeader(absl::Duration timeout = absl::Seconds(20)) {
    int leader = -1;
    WaitUntil("a controller answers as leader", timeout, [&] {
      for (size_t i = 0; i < controllers_.size(); ++i) {
        if (controllers_[i] != nullptr && Stats(addresses_[i]).ok()) {
          leader = static_cast<int>(i);
          return true;
        }
      }
      return false;
    });
    return leader;
  }

  // relayd --controller=List() as node `id`.
  void StartRelay(const std::string& id, std::vector<std::string> args) {
    const std::string ports = dir_ + "/" + id + ".ports";
    Relayd& relay = relays_[id];
    relay.stderr_path = dir_ + "/" + id + ".err";
    args.insert(args.begin(),
                {"relay/relayd", "--controller=" + List(), "--insecure",
                 "--id=" + id, "--listen=127.0.0.1:0", "--port-file=" + ports,
                 "--metrics=127.0.0.1:0"});
    auto process =
        Subprocess::Start(args, {dir_ + "/" + id + ".out", relay.stderr_path});
    ASSERT_TRUE(process.ok()) << process.status();
    relay.process = *std::move(process);
    const std::string bound =
        cascade::testing::WaitForFile(ports, absl::Seconds(20));
    for (absl::string_view line : absl::StrSplit(bound, '\n')) {
      std::pair<std::string, std::string> field = absl::StrSplit(line, '=');
      int* port = field.first == "udp"       ? &relay.udp_port
                  : field.first == "metrics" ? &relay.metrics_port
                                             : nullptr;
      if (port != nullptr) {
        ASSERT_TRUE(absl::SimpleAtoi(field.second, port));
      }
    }
    ASSERT_GT(relay.udp_port, 0)
        << cascade::testing::ReadFile(relay.stderr_path);
  }

  cascade::v1::NodeView Show(const std::string& id) {
    return testing::ShowNode(dir_, List(), id);
  }

  // Waits (bounded) until relay `id` acked an assignment newer than
  // `version`, and its newest; returns the node as last seen.
  cascade::v1::NodeView WaitForAck(const std::string& id, uint64_t version) {
    cascade::v1::NodeView view;
    EXPECT_TRUE(testing::WaitForNode(
        dir_, List(), id,
        absl::StrCat("acks an assignment newer than version ", version),
        [&](const cascade::v1::NodeView& v) {
          return testing::AckedNewerThan(v, version);
        },
        &view, absl::Seconds(25)));
    return view;
  }

  // kill -9, as the harness does on destruction.
  void Kill(int index) { controllers_[index].reset(); }

  // The changes etcd holds under topologyd's default prefix.
  std::vector<cascade::v1::Change> StoredChanges() {
    auto client = etcd::EtcdClient::Create(etcd_->ClientOptions());
    EXPECT_TRUE(client.ok()) << client.status();
    if (!client.ok()) return {};
    etcd::EtcdStoreOptions options;
    options.prefix = "/cascade/state/";
    etcd::EtcdStore store(client->get(), options);
    absl::StatusOr<RecoveredState> recovered = store.Recover();
    EXPECT_TRUE(recovered.ok()) << recovered.status();
    if (!recovered.ok()) return {};
    // Snapshots every 1000 records by default: everything is still there.
    EXPECT_EQ(recovered->snapshot.sequence(), 0u);
    return recovered->changes;
  }

  std::string dir_;
  std::unique_ptr<EtcdCluster> etcd_;
  std::vector<std::unique_ptr<Topologyd>> controllers_;
  std::vector<std::string> addresses_;
  std::map<std::string, Relayd> relays_;
};

TEST_F(HaTest, LeaderKilledUnderAdminChangesFollowerTakesOverNothingLost) {
  ASSERT_NO_FATAL_FAILURE(StartEtcd(1));
  const std::string topology = dir_ + "/topology.textproto";
  std::ofstream(topology) << kSmallTopology;
  ASSERT_NO_FATAL_FAILURE(StartControllers(3, {"--topology=" + topology}));
  const int leader = WaitForLeader();
  ASSERT_GE(leader, 0);
  // Followers refuse, naming the leader; relayctl given one follows it.
  for (int follower : {(leader + 1) % 3, (leader + 2) % 3}) {
    control::Redirect redirect;
    grpc::Status refused = Stats(addresses_[follower], &redirect);
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE);
    EXPECT_NE(
        refused.error_message().find("the leader is " + addresses_[leader]),
        std::string::npos)
        << refused.error_message();
    EXPECT_EQ(redirect.leader, addresses_[leader]);
    CommandResult redirected = Relayctl(addresses_[follower], {"stats"});
    EXPECT_EQ(redirected.code, 0) << redirected.err;
    // Health: the process serves, its admin service does not.
    EXPECT_EQ(Health(addresses_[follower], ""), 1);
    EXPECT_EQ(Health(addresses_[follower], "cascade.v1.Admin"), 2);
  }
  EXPECT_EQ(Health(addresses_[leader], "cascade.v1.Admin"), 1);
  EXPECT_EQ(Health(addresses_[leader], "cascade.v1.RelayControl"), 1);

  // The event feed, followed across the takeover.
  auto events =
      Subprocess::Start({"tools/relayctl/relayctl", "--controller=" + List(),
                         "--insecure", "--json", "events"},
                        {dir_ + "/events.out", dir_ + "/events.err"});
  ASSERT_TRUE(events.ok()) << events.status();

  // A stream of changes through the whole list, one relayctl after the
  // other, while the leader is killed.
  constexpr int kChanges = 24;
  struct Outcome {
    int code = -1;
    uint64_t sequence = 0;
    absl::Time done;
    std::string err;
  };
  std::vector<Outcome> outcomes(kChanges + 1);
  absl::Mutex mu;
  int finished = 0;
  std::thread admin([&] {
    for (int n = 1; n <= kChanges; ++n) {
      CommandResult added =
          Relayctl(List(), {"--json", "--timeout=15s", "add", SiteText(n)});
      Outcome outcome;
      outcome.code = added.code;
      outcome.done = absl::Now();
      outcome.err = added.err;
      cascade::v1::ChangeResponse response;
      if (added.code == 0 &&
          google::protobuf::util::JsonStringToMessage(added.out, &response)
              .ok()) {
        outcome.sequence = response.state_sequence();
      }
      absl::MutexLock lock(&mu);
      outcomes[n] = outcome;
      finished = n;
    }
  });
  {
    absl::MutexLock lock(&mu);
    auto some_done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
      return finished >= 5;
    };
    EXPECT_TRUE(
        mu.AwaitWithTimeout(absl::Condition(&some_done), absl::Seconds(30)));
  }
  // The feed runs on the leader before it dies.
  EXPECT_FALSE(
      cascade::testing::WaitForFile(dir_ + "/events.out", absl::Seconds(10))
          .empty());
  Kill(leader);
  const absl::Time killed = absl::Now();
  std::vector<std::string> survivors;
  for (int i = 0; i < 3; ++i) {
    if (i != leader) survivors.push_back(addresses_[i]);
  }
  // Takeover: the first moment a survivor answers as leader.
  const bool led =
      WaitUntil("a survivor answers as leader", absl::Seconds(15), [&] {
        for (const std::string& survivor : survivors) {
          if (Stats(survivor).ok()) return true;
        }
        return false;
      });
  const absl::Duration takeover =
      led ? absl::Now() - killed : absl::InfiniteDuration();
  admin.join();
  std::cerr << "takeover after kill -9 of the leader (--leader-ttl=2s): "
            << absl::ToInt64Milliseconds(takeover) << " ms\n";
  EXPECT_LT(takeover, absl::Seconds(6));
  const int new_leader = WaitForLeader();
  ASSERT_GE(new_leader, 0);
  EXPECT_NE(new_leader, leader);
  EXPECT_EQ(Health(addresses_[new_leader], "cascade.v1.Admin"), 1);

  // What etcd holds: the seeded topology, then the adds, and each leader's
  // record (the first's after the seed, the new one's among the adds).
  std::vector<cascade::v1::Change> changes = StoredChanges();
  ASSERT_FALSE(changes.empty());
  EXPECT_TRUE(changes[0].has_apply());
  std::map<std::string, int> adds;
  int leader_records = 0;
  for (size_t i = 1; i < changes.size(); ++i) {
    if (changes[i].audit().call() == "Lead") {
      ++leader_records;
      continue;
    }
    ASSERT_TRUE(changes[i].has_add()) << changes[i].ShortDebugString();
    ++adds[changes[i].add().node().id()];
  }
  EXPECT_EQ(leader_records, 2);
  int acknowledged = 0, failed = 0;
  std::set<uint64_t> sequences;
  for (int n = 1; n <= kChanges; ++n) {
    const std::string id = absl::StrCat("s", n);
    const Outcome& outcome = outcomes[n];
    // No change is applied twice.
    EXPECT_LE(adds[id], 1) << id;
    if (outcome.code == 0) {
      ++acknowledged;
      // Every acknowledged change is in etcd, at the sequence it was
      // acknowledged with.
      EXPECT_EQ(adds[id], 1) << id << " acknowledged but not stored";
      ASSERT_GT(outcome.sequence, 0u) << id;
      ASSERT_LE(outcome.sequence, changes.size()) << id;
      EXPECT_EQ(changes[outcome.sequence - 1].add().node().id(), id);
      EXPECT_TRUE(sequences.insert(outcome.sequence).second) << id;
    } else {
      ++failed;
      std::cerr << id << " not acknowledged (exit " << outcome.code
                << "): " << outcome.err;
    }
  }
  // relayctl sends a change elsewhere only when it surely was not applied:
  // at most the one in flight at the kill can fail (outcome unknown).
  EXPECT_LE(failed, 1);
  EXPECT_GE(acknowledged, kChanges - 1);
  // The new leader serves them all.
  CommandResult tree = Relayctl(List(), {"--json", "tree"});
  ASSERT_EQ(tree.code, 0) << tree.err;
  cascade::v1::GetTopologyResponse served;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(tree.out, &served).ok());
  EXPECT_EQ(served.state_sequence(), changes.size());
  EXPECT_EQ(served.nodes_size(), 3 + static_cast<int>(adds.size()));

  // The feed moved to the new leader: it carries the last change, which
  // only the new leader made.
  const std::string last_event =
      absl::StrCat("\"state_sequence\":\"", changes.size(), "\"");
  EXPECT_TRUE(WaitUntil(
      "the event feed carries the last change", absl::Seconds(10), [&] {
        return cascade::testing::ReadFile(dir_ + "/events.out")
                   .find(last_event) != std::string::npos;
      }));
  EXPECT_NE(cascade::testing::ReadFile(dir_ + "/events.err")
                .find("following the new leader"),
            std::string::npos)
      << cascade::testing::ReadFile(dir_ + "/events.err");
}

TEST_F(HaTest, RelaysFollowTheNewLeaderKeepAssignmentsAndLoseNoPacket) {
  ASSERT_NO_FATAL_FAILURE(StartEtcd(1));
  // Learning outlasts relayd's reconnect backoff (at most 5 s).
  ASSERT_NO_FATAL_FAILURE(StartControllers(3, {"--restart-learning=6s"}));
  const int leader = WaitForLeader();
  ASSERT_GE(leader, 0);
  Udp source, site;
  ASSERT_NO_FATAL_FAILURE(StartRelay("nat", {"--source=" + source.address()}));
  ASSERT_NO_FATAL_FAILURE(StartRelay("p1", {}));
  const std::string topology = dir_ + "/relays.textproto";
  std::ofstream(topology) << absl::Substitute(
      kRelayTopology, relays_["nat"].address(), relays_["p1"].address(),
      site.address());
  CommandResult applied = Relayctl(List(), {"apply", topology});
  ASSERT_EQ(applied.code, 0) << applied.err;

  MediaRun media(&source, relays_["nat"].udp_port, &site, kPayloadType, kSsrc);
  // The stream's first key comes at a tick after the apply, in a new
  // assignment for p1 (it decrypts for the plain site s1): the tree has
  // settled once p1 holds it.
  ASSERT_TRUE(WaitUntil(
      "p1 holds the first stream key", absl::Seconds(10),
      [&] { return relays_["p1"].Metric("relay_decrypting_streams") > 0; }));
  std::map<std::string, uint64_t> versions;
  std::map<std::string, int> applied_before;
  for (const char* id : {"nat", "p1"}) {
    cascade::v1::NodeView view = WaitForAck(id, 0);
    ASSERT_GT(view.acked_version(), 0u) << id;
    versions[id] = view.acked_version();
    applied_before[id] = relays_[id].Applied();
    EXPECT_GE(applied_before[id], 1) << id;
  }
  ASSERT_TRUE(WaitUntil("s1 gets media", absl::Seconds(10),
                        [&] { return media.Flowing(); }));

  const absl::Time killed = absl::Now();
  Kill(leader);
  // The relays find the new leader by themselves and acknowledge its
  // (equal) assignments: reconnected, registered, watching.
  for (const char* id : {"nat", "p1"}) {
    cascade::v1::NodeView view = WaitForAck(id, versions[id]);
    EXPECT_GT(view.acked_version(), versions[id]) << id;
    EXPECT_EQ(view.acked_version(), view.assignment_version()) << id;
    EXPECT_EQ(view.status(), cascade::v1::STATUS_UP) << id;
    EXPECT_GE(view.last_report_ms_ago(), 0) << id;
    EXPECT_LT(view.last_report_ms_ago(), 1000) << id;
  }
  const absl::Time reconnected = absl::Now();
  std::cerr << "relays acknowledged the new leader's assignments "
            << absl::ToInt64Milliseconds(reconnected - killed)
            << " ms after the kill\n";
  const int new_leader = WaitForLeader();
  EXPECT_NE(new_leader, leader);
  EXPECT_GE(new_leader, 0);

  // They kept their assignments: nothing applied again, no parent change.
  for (const char* id : {"nat", "p1"}) {
    EXPECT_EQ(relays_[id].Applied(), applied_before[id]) << id;
    EXPECT_EQ(relays_[id].Metric("relay_parent_switches_total"), 0) << id;
    EXPECT_EQ(relays_[id].Metric("relay_parent_failovers_total"), 0) << id;
  }
  EXPECT_EQ(Show("s1").parents(0), "p1");
  // And the site lost nothing through it all.
  const MediaRun::Window window = media.Measure(killed, absl::Now());
  EXPECT_GT(window.sent, 200);
  EXPECT_EQ(window.lost, 0) << "of " << window.sent;
  EXPECT_TRUE(media.Flowing());
}

TEST_F(HaTest, BadStoreFlagsExitTwoWithOneLineNamingTheFlag) {
  const std::string bad_topology = dir_ + "/bad.textproto";
  std::ofstream(bad_topology) << "nodes { id: \"x\" tier: TIER_BOGUS }\n";
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--store=consul://h:1"}, "--store must be journal or etcd://"},
      {{"--store=etcd://"}, "--store: "},
      {{"--store=etcd://h:1", "--leader-ttl=1500ms"}, "--leader-ttl"},
      {{"--store=etcd://h:1", "--etcd-prefix="}, "--etcd-prefix"},
      {{"--store=etcd://h:1", "--advertise=nowhere"}, "--advertise"},
      {{"--store=etcd://h:1", "--listen=0.0.0.0:0"}, "--advertise is required"},
      {{"--store=etcd://h:1", "--topology=" + bad_topology}, "TIER_BOGUS"},
  };
  int run = 0;
  for (const auto& [flags, expected] : cases) {
    std::vector<std::string> argv = {"topology/topologyd", "--insecure"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    CommandResult result = cascade::testing::RunToCompletion(
        argv, absl::StrCat(dir_, "/flags", ++run), absl::Seconds(10));
    EXPECT_EQ(result.code, 2) << flags.back() << ": " << result.err;
    EXPECT_EQ(result.err.rfind("topologyd: ", 0), 0u) << result.err;
    EXPECT_NE(result.err.find(expected), std::string::npos) << result.err;
    EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1)
        << result.err;
  }
}

TEST_F(HaTest, EtcdMemberStoppedControllersCarryOn) {
  ASSERT_NO_FATAL_FAILURE(StartEtcd(3));
  const std::string topology = dir_ + "/topology.textproto";
  std::ofstream(topology) << kSmallTopology;
  ASSERT_NO_FATAL_FAILURE(StartControllers(2, {"--topology=" + topology}));
  const int leader = WaitForLeader();
  ASSERT_GE(leader, 0);
  CommandResult added = Relayctl(List(), {"add", SiteText(1)});
  ASSERT_EQ(added.code, 0) << added.err;
  // The member every client tries first.
  etcd_->StopMember(0);
  added = Relayctl(List(), {"--timeout=10s", "add", SiteText(2)});
  EXPECT_EQ(added.code, 0) << added.err;
  // The leader keeps its term through more than two TTLs: the span under
  // test.
  RunFor(absl::Seconds(5));
  EXPECT_EQ(WaitForLeader(absl::Seconds(1)), leader);
  added = Relayctl(List(), {"add", SiteText(3)});
  EXPECT_EQ(added.code, 0) << added.err;
  // And a takeover still works on the two members left.
  Kill(leader);
  added = Relayctl(List(), {"--timeout=15s", "add", SiteText(4)});
  EXPECT_EQ(added.code, 0) << added.err;
  const int new_leader = WaitForLeader();
  EXPECT_GE(new_leader, 0);
  EXPECT_NE(new_leader, leader);
  CommandResult nodes = Relayctl(List(), {"nodes"});
  ASSERT_EQ(nodes.code, 0) << nodes.err;
  for (int n = 1; n <= 4; ++n) {
    EXPECT_NE(nodes.out.find(absl::StrCat("s", n, " ")), std::string::npos)
        << nodes.out;
  }
  // The audit trail is in etcd: the new leader tells who made each change,
  // the old leader's included (Admin is open here, so "anyone"), and who
  // led (two leader records).
  CommandResult history =
      Relayctl(List(), {"events", "--history=6", "--count=6"});
  ASSERT_EQ(history.code, 0) << history.err;
  EXPECT_NE(history.out.find(absl::StrCat(" leader topologyd ",
                                          addresses_[new_leader], " leads")),
            std::string::npos)
      << history.out;
  for (int n = 1; n <= 4; ++n) {
    EXPECT_NE(history.out.find(absl::StrCat(" change add s", n,
                                            " by anyone (Admin is open) "
                                            "from ipv4:127.0.0.1:")),
              std::string::npos)
        << history.out;
  }
}

TEST_F(HaTest, LeaderCutOffFromEtcdExitsThreeAndAFollowerTakesOver) {
  ASSERT_NO_FATAL_FAILURE(StartEtcd(1));
  auto forwarder = cascade::testing::TcpForwarder::Start(etcd_->endpoints()[0]);
  ASSERT_TRUE(forwarder.ok()) << forwarder.status();
  // The first controller reaches etcd only through the forwarder, and is
  // alone at first, so it leads.
  const std::string port_file = dir_ + "/cut.port";
  // TLS through the forwarder; members written without a scheme.
  auto cut = Subprocess::Start(
      {"topology/topologyd", "--insecure", "--listen=127.0.0.1:0",
       "--port-file=" + port_file, "--store=etcd://" + (*forwarder)->endpoint(),
       "--etcd-ca=" + etcd_->pki().ca,
       "--etcd-cert=" + etcd_->pki().client_cert,
       "--etcd-key=" + etcd_->pki().client_key, kTtl},
      {dir_ + "/cut.out", dir_ + "/cut.err"});
  ASSERT_TRUE(cut.ok()) << cut.status();
  const std::string port =
      cascade::testing::WaitForFile(port_file, absl::Seconds(20));
  ASSERT_FALSE(port.empty());
  const std::string cut_address = absl::StrCat("127.0.0.1:", std::stoi(port));
  ASSERT_TRUE(WaitUntil("the first controller leads", kWaitTimeout,
                        [&] { return Stats(cut_address).ok(); }));
  ASSERT_NO_FATAL_FAILURE(StartControllers(1, {}));
  // Once its first campaign has read the leader key, it names the leader.
  control::Redirect redirect;
  EXPECT_TRUE(WaitUntil(
      "the second controller leads or names a leader", kWaitTimeout, [&] {
        return Stats(addresses_[0], &redirect).ok() || !redirect.leader.empty();
      }));
  EXPECT_EQ(redirect.leader, cut_address);

  (*forwarder)->Cut();
  const absl::Time cut_at = absl::Now();
  absl::StatusOr<int> code = (*cut)->Wait(absl::Seconds(10));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 3);
  EXPECT_NE(cascade::testing::ReadFile(dir_ + "/cut.err")
                .find("no longer the leader"),
            std::string::npos);
  EXPECT_EQ(WaitForLeader(), 0);
  std::cerr << "cut off leader exited and the follower leads after "
            << absl::ToInt64Milliseconds(absl::Now() - cut_at) << " ms\n";
}

}  // namespace
}  // namespace cascade::topology
