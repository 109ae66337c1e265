// topologyd with mutual TLS as a real process, certificates made by the
// security library: a relay may act only as the node its certificate names,
// operators' certificates may not act as nodes nor nodes' call Admin, and
// connections without a valid client certificate never get in.
#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "base/subprocess.h"
#include "proto/controller.grpc.pb.h"
#include "tests/common/wait.h"
#include "tests/media/process.h"
#include "tests/topology/harness.h"
#include "tests/topology/test_pki.h"

namespace cascade::topology {
namespace {

using cascade::testing::ReadFile;
using cascade::testing::WaitUntil;
using cascade::v1::Event;
using testing::FakeRelay;
using testing::TestPki;
using testing::Topologyd;

constexpr char kTopology[] = R"txt(
nodes { id: "nat" tier: TIER_NATIONAL media_address: "127.1.0.1:5004"
  capacity { max_children: 8 } }
nodes { id: "d1" tier: TIER_DISTRICT parent: "nat" media_address: "127.3.0.1:5004"
  capacity { max_children: 8 } }
nodes { id: "d2" tier: TIER_DISTRICT parent: "nat" media_address: "127.3.0.2:5004"
  capacity { max_children: 8 } }
)txt";

constexpr absl::Duration kCallDeadline = absl::Seconds(10);

// The controller's event feed, read on a thread of its own.
class EventLog {
 public:
  explicit EventLog(std::unique_ptr<cascade::v1::Admin::Stub> admin)
      : admin_(std::move(admin)), thread_([this] { Run(); }) {}
  ~EventLog() {
    context_.TryCancel();
    thread_.join();
  }

  // The KIND_DENIED events so far.
  std::vector<Event> Denied() {
    absl::MutexLock lock(&mu_);
    std::vector<Event> denied;
    for (const Event& event : events_) {
      if (event.kind() == Event::KIND_DENIED) denied.push_back(event);
    }
    return denied;
  }
  // A KIND_DENIED event for `node_id` whose detail holds `says`.
  bool HasDenied(const std::string& node_id, const std::string& says) {
    for (const Event& event : Denied()) {
      if (event.node_id() == node_id && absl::StrContains(event.detail(), says))
        return true;
    }
    return false;
  }

 private:
  void Run() {
    auto reader = admin_->Events(&context_, cascade::v1::EventsRequest());
    Event event;
    while (reader->Read(&event)) {
      absl::MutexLock lock(&mu_);
      events_.push_back(event);
    }
    reader->Finish();
  }

  std::unique_ptr<cascade::v1::Admin::Stub> admin_;
  grpc::ClientContext context_;
  absl::Mutex mu_;
  std::vector<Event> events_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

class IdentityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tmp_ = testing::TestDir();
    auto pki = TestPki::Make(tmp_ + "/pki");
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_ = std::make_unique<TestPki>(*std::move(pki));
    for (const char* id : {"topologyd", "nat", "d1", "d2"}) {
      ASSERT_TRUE(pki_->IssueNode(id).ok());
    }
    ASSERT_TRUE(pki_->IssueOperator("admin", security::Role::kAdmin).ok());
    std::ofstream(tmp_ + "/topology.textproto") << kTopology;
    std::vector<std::string> flags = pki_->ServerFlags("topologyd");
    // Long leases: a node's status changes only when it reports.
    flags.insert(flags.end(), {"--state-dir=" + tmp_ + "/state",
                               "--topology=" + tmp_ + "/topology.textproto",
                               "--lease-timeout=60s"});
    auto daemon = Topologyd::Start(tmp_, "topologyd", flags);
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    controller_ = std::move(*daemon);
  }

  std::shared_ptr<grpc::Channel> Channel(
      std::shared_ptr<grpc::ChannelCredentials> credentials) {
    return grpc::CreateChannel(controller_->address(), credentials);
  }
  std::unique_ptr<cascade::v1::RelayControl::Stub> RelayAs(
      const std::string& name) {
    return cascade::v1::RelayControl::NewStub(Channel(pki_->Credentials(name)));
  }
  std::unique_ptr<cascade::v1::Admin::Stub> AdminAs(const std::string& name) {
    return cascade::v1::Admin::NewStub(Channel(pki_->Credentials(name)));
  }

  static void SetDeadline(grpc::ClientContext* context) {
    context->set_deadline(absl::ToChronoTime(absl::Now() + kCallDeadline));
  }

  grpc::Status Register(cascade::v1::RelayControl::Stub* relay,
                        const std::string& node_id) {
    grpc::ClientContext context;
    SetDeadline(&context);
    cascade::v1::RegisterRequest request;
    request.set_node_id(node_id);
    cascade::v1::RegisterResponse response;
    return relay->Register(&context, request, &response);
  }

  cascade::v1::NodeView Node(const std::string& id) {
    grpc::ClientContext context;
    SetDeadline(&context);
    cascade::v1::GetNodeRequest request;
    request.set_id(id);
    cascade::v1::NodeView view;
    grpc::Status status = AdminAs("admin")->GetNode(&context, request, &view);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return view;
  }

  cascade::testing::CommandResult Relayctl(std::vector<std::string> args) {
    return testing::Relayctl(tmp_, controller_->address(), std::move(args));
  }

  std::string tmp_;
  std::unique_ptr<TestPki> pki_;
  std::unique_ptr<Topologyd> controller_;
};

TEST_F(IdentityTest, ANodeActsOnlyAsTheNodeItsCertificateNames) {
  EventLog events(AdminAs("admin"));
  auto d1 = RelayAs("d1");
  // A refusal, again until the feed (subscribed meanwhile) shows one: from
  // then on every refusal shown is seen. Each claims another node, since
  // one node's refusals are shown only up to a burst (then one a second).
  int primed = 0;
  ASSERT_TRUE(WaitUntil(
      "the event feed shows a refusal", cascade::testing::kWaitTimeout, [&] {
        Register(d1.get(), absl::StrCat("primer-", primed++)).IgnoreError();
        for (const Event& event : events.Denied()) {
          if (absl::StartsWith(event.node_id(), "primer-")) {
            return true;
          }
        }
        return false;
      }));

  grpc::Status registered = Register(d1.get(), "d2");
  EXPECT_EQ(registered.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(registered.error_message(),
            "node d1's certificate may not act as node d2");

  // Watch: refused before anything of d2's is sent.
  {
    grpc::ClientContext context;
    SetDeadline(&context);
    cascade::v1::WatchRequest request;
    request.set_node_id("d2");
    auto reader = d1->Watch(&context, request);
    cascade::v1::Assignment assignment;
    int received = 0;
    while (reader->Read(&assignment)) ++received;
    grpc::Status watched = reader->Finish();
    EXPECT_EQ(received, 0) << assignment.ShortDebugString();
    EXPECT_EQ(watched.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }

  // Report: a stream may renew only its own node's lease, message by
  // message: d1's report is taken, the one claiming d2 ends the stream.
  {
    grpc::ClientContext context;
    SetDeadline(&context);
    cascade::v1::ReportResponse response;
    auto writer = d1->Report(&context, &response);
    cascade::v1::ReportRequest report;
    report.set_node_id("d1");
    ASSERT_TRUE(writer->Write(report));
    ASSERT_TRUE(WaitUntil("d1 is up", cascade::testing::kWaitTimeout, [&] {
      return Node("d1").status() == cascade::v1::STATUS_UP;
    }));
    report.set_node_id("d2");
    writer->Write(report);
    writer->WritesDone();
    grpc::Status reported = writer->Finish();
    EXPECT_EQ(reported.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_EQ(reported.error_message(),
              "node d1's certificate may not act as node d2");
  }

  // Ack: refused, d2 acknowledged nothing.
  {
    grpc::ClientContext context;
    SetDeadline(&context);
    cascade::v1::AckRequest ack;
    ack.set_node_id("d2");
    ack.set_version(1);
    cascade::v1::AckResponse response;
    EXPECT_EQ(d1->Ack(&context, ack, &response).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }

  // An operator's certificate may not act as a node, nor a node's call
  // Admin.
  grpc::Status as_node = Register(RelayAs("admin").get(), "d1");
  EXPECT_EQ(as_node.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(as_node.error_message(),
            "operator admin (admin) may not act as node d1");
  {
    grpc::ClientContext context;
    SetDeadline(&context);
    cascade::v1::StatsResponse stats;
    grpc::Status admin =
        AdminAs("d1")->GetStats(&context, cascade::v1::StatsRequest(), &stats);
    EXPECT_EQ(admin.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_EQ(admin.error_message(),
              "node d1 may not call Admin: it takes an operator's certificate");
  }

  // Each refusal is an event naming the call, who made it and from where.
  for (const char* call : {"Watch", "Report", "Ack"}) {
    EXPECT_TRUE(WaitUntil(absl::StrCat("a KIND_DENIED event for d2's ", call),
                          cascade::testing::kWaitTimeout, [&] {
                            return events.HasDenied(
                                "d2",
                                absl::StrCat(call, " from ipv4:127.0.0.1:"));
                          }));
  }
  EXPECT_TRUE(WaitUntil(
      "the operator's refusal is an event", cascade::testing::kWaitTimeout,
      [&] { return events.HasDenied("d1", "operator admin"); }));
  EXPECT_TRUE(WaitUntil(
      "the node's Admin call is an event", cascade::testing::kWaitTimeout,
      [&] { return events.HasDenied("", "may not call Admin"); }));

  // d2 never renewed its lease nor acknowledged anything; d1, with its own
  // certificate, gets its assignment.
  const cascade::v1::NodeView d2 = Node("d2");
  EXPECT_EQ(d2.status(), cascade::v1::STATUS_UNKNOWN);
  EXPECT_EQ(d2.acked_version(), 0u);
  FakeRelay relay(controller_->address(), "d1", absl::Milliseconds(300),
                  pki_->Credentials("d1"));
  relay.Start();
  EXPECT_TRUE(relay.WaitForParent("nat"));
}

// relayd over mutual TLS: a process running several relays presents one
// certificate naming them all (or one each, {id}); one that presents a
// certificate not naming its node is refused and gets nothing.
TEST_F(IdentityTest, RelaydPresentsItsRelaysCertificates) {
  ASSERT_TRUE(pki_->IssueNodes("pair", {"nat", "d1"}).ok());
  EventLog events(AdminAs("admin"));
  auto start =
      [&](const std::string& name,
          std::vector<std::string> args) -> std::unique_ptr<Subprocess> {
    args.insert(args.begin(),
                {"relay/relayd", "--controller=" + controller_->address(),
                 "--tls-ca=" + pki_->ca()});
    auto process = Subprocess::Start(
        args, {tmp_ + "/" + name + ".out", tmp_ + "/" + name + ".err"});
    EXPECT_TRUE(process.ok()) << process.status();
    return process.ok() ? *std::move(process) : nullptr;
  };
  std::unique_ptr<Subprocess> pair =
      start("pair", {"--relays=nat@127.0.0.1:0,d1@127.0.0.1:0",
                     "--tls-cert=" + pki_->cert("pair"),
                     "--tls-key=" + pki_->key("pair")});
  for (const char* id : {"nat", "d1"}) {
    EXPECT_TRUE(WaitUntil(absl::StrCat(id, " acked an assignment over TLS"),
                          cascade::testing::kWaitTimeout,
                          [&] { return testing::AckedNewerThan(Node(id)); }));
  }
  // The pair's certificate claiming d2: refused, d2 never up.
  {
    std::unique_ptr<Subprocess> impostor =
        start("impostor", {"--id=d2", "--listen=127.0.0.1:0",
                           "--tls-cert=" + pki_->cert("pair"),
                           "--tls-key=" + pki_->key("pair")});
    EXPECT_TRUE(WaitUntil(
        "d2's registration by the pair's certificate is refused",
        cascade::testing::kWaitTimeout, [&] {
          return events.HasDenied(
              "d2", "nodes nat and d1's certificate may not act as node d2");
        }));
    const cascade::v1::NodeView d2 = Node("d2");
    EXPECT_EQ(d2.status(), cascade::v1::STATUS_UNKNOWN);
    EXPECT_EQ(d2.acked_version(), 0u);
  }
  // d2 with its own certificate, found through {id}.
  std::unique_ptr<Subprocess> d2 = start(
      "d2", {"--relays=d2@127.0.0.1:0", "--tls-cert=" + tmp_ + "/pki/{id}.pem",
             "--tls-key=" + tmp_ + "/pki/{id}.key"});
  EXPECT_TRUE(WaitUntil("d2 acked an assignment over TLS",
                        cascade::testing::kWaitTimeout,
                        [&] { return testing::AckedNewerThan(Node("d2")); }));
}

TEST_F(IdentityTest, ConnectionsWithoutAValidCertificateNeverGetIn) {
  // Expired, and another CA's: issued for real, both refused in the
  // handshake.
  ASSERT_TRUE(pki_->IssueOperator("expired", security::Role::kAdmin,
                                  absl::Now() - absl::Hours(48),
                                  absl::Hours(24))
                  .ok());
  auto other = TestPki::Make(tmp_ + "/other");
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(other->IssueOperator("admin", security::Role::kAdmin).ok());
  ASSERT_TRUE(other->IssueNode("d1").ok());

  struct Case {
    std::string what;
    std::vector<std::string> flags;
    std::string hint;
    std::string server_says;
  };
  const std::vector<Case> cases = {
      {"no client certificate",
       {"--tls-ca=" + pki_->ca()},
       "--tls-cert and --tls-key?",
       "peer did not return a certificate"},
      {"an expired certificate", pki_->Flags("expired"), "expired",
       "certificate verify failed"},
      {"another CA's certificate",
       {"--tls-ca=" + pki_->ca(), "--tls-cert=" + other->cert("admin"),
        "--tls-key=" + other->key("admin")},
       "another CA's",
       "certificate verify failed"},
      {"plaintext",
       {"--insecure"},
       "closes plaintext connections",
       "wrong version number"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = c.flags;
    args.insert(args.end(), {"--timeout=5s", "stats"});
    cascade::testing::CommandResult refused = Relayctl(args);
    EXPECT_EQ(refused.code, 1) << c.what << ": " << refused.out;
    EXPECT_TRUE(absl::StrContains(refused.err, "Socket closed"))
        << c.what << ": " << refused.err;
    EXPECT_TRUE(absl::StrContains(refused.err, c.hint))
        << c.what << ": " << refused.err;
    // The controller says why.
    EXPECT_TRUE(WaitUntil(
        absl::StrCat("topologyd logs ", c.server_says, " for ", c.what),
        cascade::testing::kWaitTimeout, [&] {
          return absl::StrContains(ReadFile(controller_->stderr_path()),
                                   c.server_says);
        }));
  }

  // A relay with another CA's certificate for a real node is refused too.
  {
    auto stranger = cascade::v1::RelayControl::NewStub(
        Channel(other->Credentials("d1", pki_->ca())));
    grpc::Status status = Register(stranger.get(), "d1");
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  }
  EXPECT_EQ(Node("d1").status(), cascade::v1::STATUS_UNKNOWN);

  // The client checks the controller's name: dialled as "localhost", a
  // certificate for 127.0.0.1 is refused.
  cascade::testing::CommandResult wrong_name =
      testing::Relayctl(tmp_, absl::StrCat("localhost:", controller_->port()),
                        {pki_->Flags("admin")[0], pki_->Flags("admin")[1],
                         pki_->Flags("admin")[2], "--timeout=5s", "stats"});
  EXPECT_EQ(wrong_name.code, 1);
  EXPECT_TRUE(absl::StrContains(wrong_name.err,
                                "Peer name localhost is not in peer "
                                "certificate"))
      << wrong_name.err;

  // The right certificate gets in.
  std::vector<std::string> args = pki_->Flags("admin");
  args.push_back("stats");
  cascade::testing::CommandResult ok = Relayctl(args);
  EXPECT_EQ(ok.code, 0) << ok.err;
}

}  // namespace
}  // namespace cascade::topology
