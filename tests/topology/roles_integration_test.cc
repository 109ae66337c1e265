// Roles, tokens, the audit trail and the gRPC limits of a real topologyd
// with mutual TLS (certificates and tokens made by the security library and
// relayctl): a viewer may not drain nor an operator apply; revoked, expired
// and foreign tokens are refused; every refusal and every change is in
// `relayctl events --history` with who made it, also after a restart; one
// caller's flood is rate limited while another gets through; a message over
// the receive limit is refused; a flood of unauthenticated handshakes
// leaves live relays' leases and pushes alone.
#include <glog/logging.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "proto/controller.grpc.pb.h"
#include "security/pki.h"
#include "security/pki_files.h"
#include "security/token.h"
#include "tests/common/wait.h"
#include "tests/media/process.h"
#include "tests/topology/harness.h"
#include "tests/topology/test_pki.h"

namespace cascade::topology {
namespace {

using cascade::testing::CommandResult;
using cascade::testing::WaitUntil;
using security::Role;
using testing::FakeRelay;
using testing::TestPki;
using testing::Topologyd;

constexpr char kTopology[] = R"txt(
nodes { id: "nat" tier: TIER_NATIONAL media_address: "127.1.0.1:5004"
  capacity { max_children: 8 } }
nodes { id: "p1" tier: TIER_PROVINCIAL parent: "nat" media_address: "127.2.1.1:5004"
  capacity { max_children: 8 } }
nodes { id: "p2" tier: TIER_PROVINCIAL parent: "nat" media_address: "127.2.2.1:5004"
  capacity { max_children: 8 } }
nodes { id: "d1" tier: TIER_DISTRICT parent: "p1" standby_parents: "p2"
  media_address: "127.3.0.1:5004" capacity { max_children: 8 } }
)txt";

constexpr absl::Duration kCallDeadline = absl::Seconds(10);

class RolesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tmp_ = testing::TestDir();
    auto pki = TestPki::Make(tmp_ + "/pki");
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_ = std::make_unique<TestPki>(*std::move(pki));
    for (const char* id : {"topologyd", "nat", "p1", "p2", "d1"}) {
      ASSERT_TRUE(pki_->IssueNode(id).ok());
    }
    ASSERT_TRUE(pki_->IssueOperator("vera", Role::kViewer).ok());
    ASSERT_TRUE(pki_->IssueOperator("oscar", Role::kOperator).ok());
    ASSERT_TRUE(pki_->IssueOperator("ada", Role::kAdmin).ok());
    topology_file_ = tmp_ + "/topology.textproto";
    std::ofstream(topology_file_) << kTopology;
  }

  // topologyd on the test's state; clients without a certificate may
  // connect (for tokens), every certificate presented is verified.
  void StartController(std::vector<std::string> extra = {}) {
    controller_.reset();  // kill -9 of the one before, if any
    std::vector<std::string> flags = pki_->ServerFlags("topologyd");
    flags.insert(
        flags.end(),
        {"--state-dir=" + tmp_ + "/state", "--topology=" + topology_file_,
         "--lease-timeout=60s", "--client-cert=optional"});
    flags.insert(flags.end(), extra.begin(), extra.end());
    auto daemon =
        Topologyd::Start(tmp_, absl::StrCat("topologyd", ++starts_), flags);
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    controller_ = std::move(*daemon);
  }

  // relayctl as operator `name` (its certificate).
  CommandResult As(const std::string& name, std::vector<std::string> args) {
    std::vector<std::string> flags = pki_->Flags(name);
    args.insert(args.begin(), flags.begin(), flags.end());
    return testing::Relayctl(tmp_, controller_->address(), std::move(args));
  }
  // relayctl with a token file and no client certificate.
  CommandResult WithToken(const std::string& file,
                          std::vector<std::string> args) {
    args.insert(args.begin(),
                {"--tls-ca=" + pki_->ca(), "--token-file=" + file});
    return testing::Relayctl(tmp_, controller_->address(), std::move(args));
  }
  // relayctl token issue; returns the token's file, `*id` its id.
  std::string Issue(const std::string& name, const std::string& role,
                    std::string* id = nullptr) {
    const std::string file =
        absl::StrCat(tmp_, "/", name, "-", ++tokens_, ".token");
    CommandResult issued = testing::Relayctl(
        tmp_, "127.0.0.1:1",
        {"--json", "token", "issue", "--operator=" + name, "--role=" + role,
         "--ttl=1h", "--ca=" + tmp_ + "/pki", "--out=" + file});
    EXPECT_EQ(issued.code, 0) << issued.err;
    google::protobuf::Struct json;
    EXPECT_TRUE(
        google::protobuf::util::JsonStringToMessage(issued.out, &json).ok())
        << issued.out;
    if (id != nullptr) *id = json.fields().at("token_id").string_value();
    return file;
  }
  // Exactly `count` events of the audit trail, as relayctl prints them.
  std::vector<std::string> History(int count) {
    CommandResult events =
        As("ada", {"events", absl::StrCat("--history=", count),
                   absl::StrCat("--count=", count)});
    EXPECT_EQ(events.code, 0) << events.err;
    return absl::StrSplit(events.out, '\n', absl::SkipEmpty());
  }

  // relayctl --json show ID as the viewer.
  cascade::v1::NodeView Show(const std::string& id) {
    CommandResult shown = As("vera", {"--json", "show", id});
    EXPECT_EQ(shown.code, 0) << shown.err;
    cascade::v1::NodeView view;
    EXPECT_TRUE(
        google::protobuf::util::JsonStringToMessage(shown.out, &view).ok())
        << shown.out;
    return view;
  }

  std::unique_ptr<cascade::v1::Admin::Stub> AdminAs(const std::string& name) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    return cascade::v1::Admin::NewStub(grpc::CreateCustomChannel(
        controller_->address(), pki_->Credentials(name), args));
  }
  static grpc::Status Stats(cascade::v1::Admin::Stub* admin) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kCallDeadline));
    cascade::v1::StatsResponse stats;
    return admin->GetStats(&context, cascade::v1::StatsRequest(), &stats);
  }

  std::string tmp_;
  std::string topology_file_;
  std::unique_ptr<TestPki> pki_;
  std::unique_ptr<Topologyd> controller_;
  int starts_ = 0;
  int tokens_ = 0;
};

// Each line names what happened, who did it, from where.
::testing::AssertionResult Says(const std::string& line,
                                const std::string& kind,
                                const std::string& what) {
  const std::string prefix = line.substr(0, line.find(' ') + 1);
  const std::string rest = line.substr(prefix.size());
  if (absl::StartsWith(rest, kind + " " + what) &&
      absl::StrContains(rest, " from ipv4:127.0.0.1:")) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "\"" << line << "\" is not " << kind << " " << what;
}

TEST_F(RolesTest, ViewerMayNotDrainNorOperatorApplyAndTheAuditSurvives) {
  ASSERT_NO_FATAL_FAILURE(StartController());
  EXPECT_EQ(As("vera", {"show", "d1"}).code, 0);
  CommandResult drain = As("vera", {"drain", "p1", "--wait=false"});
  EXPECT_EQ(drain.code, 6);
  EXPECT_EQ(drain.err,
            "relayctl: drain: permission denied: viewer may not drain\n");
  CommandResult apply = As("oscar", {"apply", topology_file_});
  EXPECT_EQ(apply.code, 6);
  EXPECT_EQ(apply.err,
            "relayctl: apply: permission denied: operator may not apply\n");
  // Nothing was drained.
  EXPECT_EQ(Show("p1").status(), cascade::v1::STATUS_UNKNOWN);
  // Their own roles' calls go through.
  CommandResult drained = As("oscar", {"drain", "p1", "--wait=false"});
  EXPECT_EQ(drained.code, 0) << drained.err;
  CommandResult applied = As("ada", {"apply", topology_file_});
  EXPECT_EQ(applied.code, 0) << applied.err;

  // relayctl events, after a kill -9 and a restart, says who did what,
  // then that the restarted controller leads.
  ASSERT_NO_FATAL_FAILURE(StartController());
  const std::vector<std::string> history = History(5);
  ASSERT_EQ(history.size(), 5u);
  EXPECT_TRUE(absl::StrContains(
      history[4], " leads (single controller, journal, restarted)"))
      << history[4];
  EXPECT_TRUE(
      Says(history[0], "denied", "drain p1 by operator vera (viewer) from"));
  EXPECT_TRUE(absl::EndsWith(history[0],
                             ": refused: permission denied: viewer may not "
                             "drain"))
      << history[0];
  EXPECT_TRUE(Says(history[1], "denied",
                   absl::StrCat("apply ", topology_file_,
                                " (4 nodes) by operator oscar (operator)")));
  EXPECT_TRUE(
      Says(history[2], "change", "drain p1 by operator oscar (operator)"));
  EXPECT_TRUE(Says(history[3], "change",
                   absl::StrCat("apply ", topology_file_,
                                " (4 nodes) by operator ada (admin)")));
}

TEST_F(RolesTest, TokensRevokedExpiredOrForeignAreRefused) {
  ASSERT_NO_FATAL_FAILURE(StartController());
  const std::string tom = Issue("tom", "operator");
  // A token alone (no client certificate) over TLS.
  CommandResult drained = WithToken(tom, {"drain", "p1", "--wait=false"});
  EXPECT_EQ(drained.code, 0) << drained.err;
  // Never over plaintext, unless asked for.
  CommandResult plaintext = testing::Relayctl(
      tmp_, controller_->address(), {"--token-file=" + tom, "show", "p1"});
  EXPECT_EQ(plaintext.code, 2);
  EXPECT_TRUE(absl::StrContains(plaintext.err,
                                "refusing to send a token over plaintext"))
      << plaintext.err;
  // A viewer's token may look, not drain.
  const std::string vicky = Issue("vicky", "viewer");
  EXPECT_EQ(WithToken(vicky, {"show", "p1"}).code, 0);
  CommandResult viewer = WithToken(vicky, {"drain", "p1", "--wait=false"});
  EXPECT_EQ(viewer.code, 6);
  EXPECT_EQ(viewer.err,
            "relayctl: drain: permission denied: viewer may not drain\n");

  // Revoked by name: every token of tom's so far; one issued later works.
  CommandResult revoked = As("ada", {"token", "revoke", "--operator=tom"});
  EXPECT_EQ(revoked.code, 0) << revoked.err;
  CommandResult refused = WithToken(tom, {"drain", "p1", "--wait=false"});
  EXPECT_EQ(refused.code, 6);
  EXPECT_TRUE(absl::StrContains(refused.err, "of operator tom was revoked"))
      << refused.err;
  const std::string tom_again = Issue("tom", "operator");
  CommandResult again = WithToken(tom_again, {"drain", "p1", "--wait=false"});
  EXPECT_EQ(again.code, 0) << again.err;

  // Revoked by id.
  std::string id;
  const std::string tina = Issue("tina", "viewer", &id);
  EXPECT_EQ(As("ada", {"token", "revoke", id}).code, 0);
  CommandResult by_id = WithToken(tina, {"show", "p1"});
  EXPECT_EQ(by_id.code, 6);
  EXPECT_EQ(by_id.err, absl::StrCat("relayctl: show: token ", id,
                                    " of operator tina was revoked\n"));

  // Expired: minted an hour and a half ago for an hour.
  auto ca = security::ReadCredentials(tmp_ + "/pki", security::kCaName);
  ASSERT_TRUE(ca.ok());
  security::Token old;
  old.operator_name = "olga";
  old.role = Role::kAdmin;
  old.issued = absl::Now() - absl::Minutes(90);
  old.expires = old.issued + absl::Hours(1);
  auto minted = security::MintToken(*ca, old);
  ASSERT_TRUE(minted.ok());
  std::ofstream(tmp_ + "/olga.token") << *minted << "\n";
  CommandResult expired = WithToken(tmp_ + "/olga.token", {"show", "p1"});
  EXPECT_EQ(expired.code, 6);
  EXPECT_TRUE(absl::StrContains(expired.err, "of operator olga expired at"))
      << expired.err;

  // Another CA's token.
  auto other = security::MakeCa(security::CaOptions{});
  ASSERT_TRUE(other.ok());
  old.issued = absl::Now();
  old.expires = old.issued + absl::Hours(1);
  auto foreign = security::MintToken(*other, old);
  ASSERT_TRUE(foreign.ok());
  std::ofstream(tmp_ + "/foreign.token") << *foreign << "\n";
  CommandResult stranger = WithToken(tmp_ + "/foreign.token", {"show", "p1"});
  EXPECT_EQ(stranger.code, 6);
  EXPECT_EQ(stranger.err,
            "relayctl: show: token not signed by this controller's CA\n");

  // Only an admin revokes; without a certificate or a token, nothing.
  CommandResult not_admin = As("oscar", {"token", "revoke", "--operator=ada"});
  EXPECT_EQ(not_admin.code, 6);
  EXPECT_EQ(not_admin.err,
            "relayctl: token revoke: permission denied: operator may not "
            "revoke tokens\n");
  CommandResult nobody = testing::Relayctl(
      tmp_, controller_->address(), {"--tls-ca=" + pki_->ca(), "show", "p1"});
  EXPECT_EQ(nobody.code, 6);
  EXPECT_EQ(nobody.err, "relayctl: show: no client certificate and no token\n");

  // Every change and every refusal, after a restart, says who; the
  // revocations still hold. The restarted controller's lead comes last.
  ASSERT_NO_FATAL_FAILURE(StartController());
  const std::vector<std::string> history = History(12);
  ASSERT_EQ(history.size(), 12u);
  EXPECT_TRUE(absl::StrContains(
      history[11], " leads (single controller, journal, restarted)"))
      << history[11];
  EXPECT_TRUE(
      Says(history[0], "change", "drain p1 by operator tom (operator)"));
  EXPECT_TRUE(
      Says(history[1], "denied", "drain p1 by operator vicky (viewer)"));
  EXPECT_TRUE(Says(history[2], "change",
                   "revoke tokens of operator tom by operator ada (admin)"));
  EXPECT_TRUE(Says(history[3], "denied", "drain p1 by operator tom"));
  EXPECT_TRUE(absl::StrContains(history[3], "was revoked")) << history[3];
  EXPECT_TRUE(
      Says(history[4], "change", "drain p1 by operator tom (operator)"));
  EXPECT_TRUE(Says(
      history[5], "change",
      absl::StrCat("revoke tokens with id ", id, " by operator ada (admin)")));
  EXPECT_TRUE(Says(history[6], "denied", "show p1 by operator tina"));
  EXPECT_TRUE(Says(history[7], "denied", "show p1 by operator olga (admin)"));
  EXPECT_TRUE(absl::StrContains(history[7], "expired")) << history[7];
  EXPECT_TRUE(Says(history[8], "denied", "show p1 by unknown caller"));
  EXPECT_TRUE(Says(history[9], "denied",
                   "revoke tokens of operator ada by operator oscar"));
  EXPECT_TRUE(Says(history[10], "denied", "show p1 by unknown caller"));
  EXPECT_EQ(WithToken(tom, {"show", "p1"}).code, 6);
  EXPECT_EQ(WithToken(tina, {"show", "p1"}).code, 6);
  EXPECT_EQ(WithToken(tom_again, {"show", "p1"}).code, 0);
}

TEST_F(RolesTest, OneCallersFloodIsRateLimitedAnotherGetsThrough) {
  ASSERT_NO_FATAL_FAILURE(
      StartController({"--admin-rate=0.5", "--admin-burst=5"}));
  auto vera = AdminAs("vera");
  auto oscar = AdminAs("oscar");
  int limited = 0;
  std::string message;
  for (int i = 0; i < 50; ++i) {
    grpc::Status status = Stats(vera.get());
    if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      ++limited;
      message = status.error_message();
    }
  }
  // The burst went through, the rest (but what the rate refilled) did not.
  EXPECT_GE(limited, 40);
  EXPECT_EQ(message,
            "rate limited: operator vera (viewer) made more than 0.5 Admin "
            "calls a second; retry later");
  // Another caller, at once.
  grpc::Status other = Stats(oscar.get());
  EXPECT_TRUE(other.ok()) << other.error_message();
  // relayctl waits as long as the refusal says (2 s here) when its
  // --timeout leaves room, and fails at once otherwise.
  CommandResult hurried = As("vera", {"--timeout=1s", "stats"});
  EXPECT_EQ(hurried.code, 1);
  EXPECT_TRUE(absl::StrContains(hurried.err, "rate limited")) << hurried.err;
  CommandResult patient = As("vera", {"stats"});
  EXPECT_EQ(patient.code, 0) << patient.err;
}

TEST_F(RolesTest, AMessageOverTheReceiveLimitIsRefused) {
  ASSERT_NO_FATAL_FAILURE(StartController({"--max-receive-bytes=65536"}));
  // south19 is about 300 KB of protobuf.
  CommandResult apply =
      As("ada", {"apply", "topology/reference/south19.textproto"});
  EXPECT_EQ(apply.code, 1);
  EXPECT_TRUE(absl::StrContains(apply.err, "larger than max")) << apply.err;
  // Nothing applied; the controller still serves.
  CommandResult stats = As("ada", {"--json", "stats"});
  ASSERT_EQ(stats.code, 0) << stats.err;
  cascade::v1::StatsResponse parsed;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(stats.out, &parsed).ok());
  EXPECT_EQ(parsed.nodes(), 4u);
}

// One attempt at a TLS connection without a client certificate, on a
// connection of its own: true if it got in.
bool ConnectsWithoutCertificate(const std::string& address,
                                const std::string& ca_pem) {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ca_pem;
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto channel =
      grpc::CreateCustomChannel(address, grpc::SslCredentials(ssl), args);
  const auto deadline = absl::ToChronoTime(absl::Now() + absl::Seconds(10));
  grpc_connectivity_state state = channel->GetState(/*try_to_connect=*/true);
  while (state != GRPC_CHANNEL_READY &&
         state != GRPC_CHANNEL_TRANSIENT_FAILURE &&
         channel->WaitForStateChange(state, deadline)) {
    state = channel->GetState(/*try_to_connect=*/false);
  }
  return state == GRPC_CHANNEL_READY;
}

// A thousand TLS handshakes without a client certificate, refused, while a
// tree of relays (the relay client library, each with its node's
// certificate) is live: no lease expires, and every assignment push during
// the flood reaches its relay within a second of the change being durable.
TEST_F(RolesTest, AThousandUnauthenticatedHandshakesLeaveRelaysAlone) {
  ASSERT_NO_FATAL_FAILURE(
      StartController({"--client-cert=required", "--lease-timeout=1s"}));
  std::map<std::string, std::unique_ptr<FakeRelay>> relays;
  for (const char* id : {"nat", "p1", "p2", "d1"}) {
    relays[id] = std::make_unique<FakeRelay>(controller_->address(), id,
                                             absl::Milliseconds(300),
                                             pki_->Credentials(id));
    relays[id]->Start();
  }
  ASSERT_TRUE(relays["d1"]->WaitForParent("p1"));
  ASSERT_TRUE(
      WaitUntil("every relay is up", cascade::testing::kWaitTimeout, [&] {
        for (const auto& [id, relay] : relays) {
          if (Show(id).status() != cascade::v1::STATUS_UP) {
            return false;
          }
        }
        return true;
      }));

  const std::string ca_pem = cascade::testing::ReadFile(pki_->ca());
  constexpr int kThreads = 4;
  constexpr int kHandshakes = 1000;
  std::atomic<int> attempted{0};
  std::atomic<int> got_in{0};
  std::vector<std::thread> flood;
  for (int t = 0; t < kThreads; ++t) {
    flood.emplace_back([&] {
      for (int i = 0; i < kHandshakes / kThreads; ++i) {
        got_in += ConnectsWithoutCertificate(controller_->address(), ca_pem);
        ++attempted;
      }
    });
  }

  // Drain and restore p1 while the flood lasts: d1 moves to p2 and back.
  auto admin = AdminAs("ada");
  absl::Duration slowest;
  int pushes = 0;
  auto change_and_time = [&](bool drain, const std::string& parent) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kCallDeadline));
    cascade::v1::ChangeResponse response;
    grpc::Status status;
    if (drain) {
      cascade::v1::DrainNodeRequest request;
      request.set_id("p1");
      status = admin->DrainNode(&context, request, &response);
    } else {
      cascade::v1::RestoreRequest request;
      request.set_id("p1");
      status = admin->Restore(&context, request, &response);
    }
    ASSERT_TRUE(status.ok()) << status.error_message();
    const absl::Time durable = absl::Now();
    ASSERT_TRUE(relays["d1"]->WaitForParent(parent))
        << "d1 never on " << parent;
    slowest = std::max(slowest, absl::Now() - durable);
    ++pushes;
  };
  while (attempted < kHandshakes || pushes < 4) {
    ASSERT_NO_FATAL_FAILURE(change_and_time(true, "p2"));
    ASSERT_NO_FATAL_FAILURE(change_and_time(false, "p1"));
  }
  for (std::thread& thread : flood) thread.join();

  EXPECT_EQ(attempted, kHandshakes);
  EXPECT_EQ(got_in, 0);
  LOG(INFO) << pushes << " pushes during " << kHandshakes
            << " refused handshakes, slowest " << slowest;
  EXPECT_LT(slowest, absl::Seconds(1));
  for (const auto& [id, relay] : relays) {
    const cascade::v1::NodeView view = Show(id);
    EXPECT_EQ(view.status(), cascade::v1::STATUS_UP) << id;
    EXPECT_EQ(view.recent_expiries(), 0u) << id << ": a lease expired";
  }
}

}  // namespace
}  // namespace cascade::topology
