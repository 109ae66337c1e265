// Certificate revocation against a real topologyd with mutual TLS, through
// `relayctl pki revoke`: a revoked site gets no stream key and the keys are
// replaced ahead of their use; a revoked relay is refused message by
// message, so its lease lapses; a revoked operator is refused on Admin; and
// the revocations, being journaled, hold after a kill -9 and a restart,
// while a newly issued certificate for the same node is taken.
#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "proto/controller.grpc.pb.h"
#include "security/identity.h"
#include "tests/common/wait.h"
#include "tests/media/process.h"
#include "tests/topology/harness.h"
#include "tests/topology/tls_controller.h"

namespace cascade::topology {
namespace {

using cascade::testing::CommandResult;
using cascade::testing::ReadFile;
using cascade::testing::WaitUntil;
using cascade::v1::GetStreamKeysResponse;
using security::Role;
using testing::FakeRelay;

constexpr absl::Duration kCallDeadline = absl::Seconds(10);

// "cc" sends the program into nat; d1 forwards it to the sites s1 and s2.
constexpr char kTopology[] = R"txt(
nodes { id: "cc" tier: TIER_NATIONAL media_address: "127.0.0.9:5000"
  plain_endpoint: true }
nodes { id: "nat" tier: TIER_NATIONAL media_address: "127.1.0.1:5004"
  capacity { max_children: 8 } }
nodes { id: "d1" tier: TIER_DISTRICT parent: "nat" media_address: "127.3.0.1:5004"
  capacity { max_children: 8 } }
nodes { id: "s1" tier: TIER_SITE parent: "d1" media_address: "127.10.0.1:5004" }
nodes { id: "s2" tier: TIER_SITE parent: "d1" media_address: "127.10.0.2:5004" }
streams { id: "program" direction: DIRECTION_DOWNSTREAM source_node: "cc"
  tracks { ssrc: 1111 media: "video" payload_type: 96 encoding: "H264/90000" } }
)txt";

class RevocationTest : public testing::TlsControllerTest {
 protected:
  void SetUp() override {
    // Short leases: a relay whose reports are refused is down within 3 s.
    ASSERT_NO_FATAL_FAILURE(
        StartTls({.topology = kTopology,
                  .nodes = {"cc", "nat", "d1", "s1", "s2"},
                  .operators = {{"vera", Role::kViewer}, {"ada", Role::kAdmin}},
                  .flags = {"--lease-timeout=3s", "--restart-learning=1s",
                            "--stream-key-overlap=4s"}}));
  }

  // The id of the newest key `holder` gets; 0 on a refusal.
  uint32_t NewestKey(const std::string& holder) {
    GetStreamKeysResponse response;
    if (!Keys(holder, {holder}, &response).ok() || response.keys_size() == 0) {
      return 0;
    }
    return response.keys(0).id();
  }

  cascade::v1::NodeView Node(const std::string& id) {
    auto admin = cascade::v1::Admin::NewStub(
        grpc::CreateChannel(controller_->address(), pki_->Credentials("ada")));
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kCallDeadline));
    cascade::v1::GetNodeRequest request;
    request.set_id(id);
    cascade::v1::NodeView view;
    grpc::Status status = admin->GetNode(&context, request, &view);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return view;
  }

  std::string SerialOf(const std::string& name) {
    absl::StatusOr<security::CertificateInfo> info =
        security::CertificateInfoFromPem(ReadFile(pki_->cert(name)));
    EXPECT_TRUE(info.ok()) << info.status();
    return info.ok() ? info->serial : "";
  }
};

TEST_F(RevocationTest, ARevokedSiteGetsNoKeyAndTheKeysAreReplaced) {
  ASSERT_TRUE(
      WaitUntil("the sites have the first key", cascade::testing::kWaitTimeout,
                [&] { return NewestKey("s1") == 1 && NewestKey("s2") == 1; }));
  // Only an admin revokes; a file that is not a certificate is refused.
  EXPECT_EQ(As("vera", {"pki", "revoke", pki_->cert("s2")}).code, 6);
  std::ofstream(tmp_ + "/junk.pem") << "not a certificate\n";
  CommandResult junk = As("ada", {"pki", "revoke", tmp_ + "/junk.pem"});
  EXPECT_EQ(junk.code, 4) << junk.err;
  EXPECT_EQ(NewestKey("s2"), 1u);

  const absl::Time revoked = absl::Now();
  CommandResult revoke = As("ada", {"pki", "revoke", pki_->cert("s2")});
  ASSERT_EQ(revoke.code, 0) << revoke.err;
  GetStreamKeysResponse refused;
  grpc::Status s2 = Keys("s2", {"s2"}, &refused);
  EXPECT_EQ(s2.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(absl::StrContains(s2.error_message(), "is revoked"))
      << s2.error_message();
  EXPECT_EQ(refused.keys_size(), 0);

  // The next key comes within a tick, handed out ahead of its use; s2,
  // shut out, never gets it.
  ASSERT_TRUE(WaitUntil("s1 gets a new key", cascade::testing::kWaitTimeout,
                        [&] { return NewestKey("s1") == 2; }));
  GetStreamKeysResponse s1;
  ASSERT_TRUE(Keys("s1", {"s1"}, &s1).ok());
  EXPECT_GT(absl::FromUnixMillis(s1.keys(0).send_from_unix_ms()), revoked);
  EXPECT_EQ(s1.keys(1).id(), 1u) << "the key in use stays until then";

  // kill -9 and a restart: still revoked. A new certificate for s2 is
  // taken, and gets the new key.
  ASSERT_NO_FATAL_FAILURE(StartController("topologyd-2", controller_->port()));
  EXPECT_EQ(Keys("s2", {"s2"}, &refused).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(pki_->IssueNode("s2").ok());
  EXPECT_EQ(NewestKey("s2"), 2u);
}

TEST_F(RevocationTest, ARevokedRelayIsRefusedAndLosesItsLease) {
  FakeRelay d1(controller_->address(), "d1", absl::Milliseconds(300),
               pki_->Credentials("d1"));
  d1.Start();
  ASSERT_TRUE(d1.WaitForParent("nat"));
  ASSERT_TRUE(WaitUntil("d1 is up", cascade::testing::kWaitTimeout, [&] {
    return Node("d1").status() == cascade::v1::STATUS_UP;
  }));

  // By serial, as when the file is lost; colons and capitals as openssl
  // prints them.
  std::string serial = SerialOf("d1");
  std::string typed;
  for (size_t i = 0; i < serial.size(); ++i) {
    if (i > 0 && (serial.size() - i) % 2 == 0) typed += ':';
    typed += absl::ascii_toupper(static_cast<unsigned char>(serial[i]));
  }
  CommandResult revoke = As("ada", {"pki", "revoke", "--serial=" + typed});
  ASSERT_EQ(revoke.code, 0) << revoke.err;

  // Its reports are refused from the next message on: the lease lapses.
  EXPECT_TRUE(WaitUntil("d1 is down", cascade::testing::kWaitTimeout, [&] {
    return Node("d1").status() == cascade::v1::STATUS_DOWN;
  }));
  CommandResult events = As("ada", {"events", "--history=1", "--count=1"});
  EXPECT_TRUE(absl::StrContains(events.out, "pki revoke")) << events.out;

  // A new certificate for d1 brings it back.
  d1.Stop();
  ASSERT_TRUE(pki_->IssueNode("d1").ok());
  FakeRelay renewed(controller_->address(), "d1", absl::Milliseconds(300),
                    pki_->Credentials("d1"));
  renewed.Start();
  EXPECT_TRUE(WaitUntil("d1 is up again", cascade::testing::kWaitTimeout, [&] {
    return Node("d1").status() == cascade::v1::STATUS_UP;
  }));
}

TEST_F(RevocationTest, ARevokedOperatorIsRefusedOnAdmin) {
  CommandResult before = As("vera", {"nodes"});
  ASSERT_EQ(before.code, 0) << before.err;
  CommandResult revoke = As("ada", {"pki", "revoke", pki_->cert("vera")});
  ASSERT_EQ(revoke.code, 0) << revoke.err;
  CommandResult after = As("vera", {"nodes"});
  EXPECT_EQ(after.code, 6) << after.err;
  EXPECT_TRUE(absl::StrContains(after.err, "operator vera (viewer) is revoked"))
      << after.err;
  // An operator's revocation leaves the stream keys as they are.
  ASSERT_TRUE(WaitUntil("s1 has the first key", cascade::testing::kWaitTimeout,
                        [&] { return NewestKey("s1") == 1; }));
  EXPECT_EQ(NewestKey("s1"), 1u);
}

}  // namespace
}  // namespace cascade::topology
