// Certificate revocation on the controller's side: a revocation resolves
// from the certificate, is journaled and survives a restart, is named to
// the listener, prunes expired entries, and a node's revocation replaces
// the stream keys at the next tick (an operator's does not).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "security/identity.h"
#include "security/pki.h"
#include "topology/certificate_revocation.h"
#include "topology/controller.h"
#include "topology/controller_fixture.h"

namespace cascade::topology {
namespace {

using cascade::v1::Change;

constexpr absl::Duration kRotation = absl::Hours(24);
constexpr absl::Duration kOverlap = absl::Minutes(2);

class RevocationTest : public ControllerTest {
 protected:
  void SetUp() override {
    ControllerTest::SetUp();
    options_.stream_key_rotation = kRotation;
    options_.stream_key_overlap = kOverlap;
    options_.snapshot_every = 3;
    Start(options_);
    ApplyReference();
    absl::StatusOr<security::Credentials> ca =
        security::MakeCa({.now = clock_.Now()});
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = *ca;
  }
  void Tick() {
    controller_->Tick();
    controller_->AwaitCommitted();
  }
  std::string Issue(security::Identity identity,
                    absl::Duration validity = absl::Hours(24 * 365)) {
    security::IssueOptions options;
    options.identity = std::move(identity);
    options.now = clock_.Now();
    options.validity = validity;
    absl::StatusOr<security::Credentials> issued =
        security::Issue(ca_, options);
    EXPECT_TRUE(issued.ok()) << issued.status();
    return issued.ok() ? issued->certificate : "";
  }
  static std::string SerialOf(const std::string& pem) {
    return security::CertificateInfoFromPem(pem)->serial;
  }
  static Change Revoke(const std::string& pem, const std::string& serial) {
    Change change;
    change.mutable_revoke_certificate()->set_certificate_pem(pem);
    change.mutable_revoke_certificate()->set_serial(serial);
    return change;
  }
  // The id of the key of "cmd" in use now (s3 sources no upstream stream:
  // it holds cmd's keys only).
  uint32_t KeyInUse() {
    auto keys = controller_->StreamKeys(std::vector<std::string>{"s3"});
    EXPECT_TRUE(keys.ok()) << keys.status();
    uint32_t id = 0;
    for (const auto& key : keys->keys()) {
      if (key.send_from_unix_ms() <= absl::ToUnixMillis(clock_.Now())) {
        id = std::max(id, key.id());
      }
    }
    return id;
  }

  ControllerOptions options_;
  security::Credentials ca_;
};

TEST_F(RevocationTest, ARevokedCertificateStaysRevokedAcrossARestart) {
  const std::string d1 =
      Issue({security::IdentityKind::kNode, "d1", security::Role::kNone});
  const std::string serial = SerialOf(d1);
  EXPECT_FALSE(controller_->CertificateRevoked(serial));
  ASSERT_EQ(Code(Revoke(d1, "")), absl::StatusCode::kOk);
  EXPECT_TRUE(controller_->CertificateRevoked(serial));
  EXPECT_EQ(recorder_.revocations, 1);
  // Again: accepted (nothing new to revoke).
  ASSERT_EQ(Code(Revoke(d1, "")), absl::StatusCode::kOk);
  ASSERT_EQ(Code(Revoke("", "0A:0b:FF")), absl::StatusCode::kOk);

  Start(options_);
  EXPECT_TRUE(controller_->CertificateRevoked(serial));
  EXPECT_TRUE(controller_->CertificateRevoked("a0bff"));
  EXPECT_FALSE(controller_->CertificateRevoked(SerialOf(
      Issue({security::IdentityKind::kNode, "d1", security::Role::kNone}))));
}

TEST_F(RevocationTest, BadRequestsAreRefusedAndChangeNothing) {
  const std::string d1 =
      Issue({security::IdentityKind::kNode, "d1", security::Role::kNone});
  EXPECT_EQ(Code(Revoke("", "")), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Code(Revoke("", "xyz")), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Code(Revoke("not a certificate", "")),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Code(Revoke(d1, "ff")), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(controller_->CertificateRevoked(SerialOf(d1)));
  EXPECT_EQ(recorder_.revocations, 0);
  ASSERT_EQ(Code(Revoke(d1, SerialOf(d1))), absl::StatusCode::kOk);
  EXPECT_TRUE(controller_->CertificateRevoked(SerialOf(d1)));
}

TEST_F(RevocationTest, ANodesRevocationReplacesTheStreamKeysAnOperatorsNot) {
  Tick();
  ASSERT_EQ(KeyInUse(), 1u);
  clock_.Advance(absl::Minutes(10));
  ASSERT_EQ(Code(Revoke(Issue({security::IdentityKind::kOperator, "bob",
                               security::Role::kAdmin}),
                        "")),
            absl::StatusCode::kOk);
  Tick();
  EXPECT_EQ(
      controller_->StreamKeys(std::vector<std::string>{"s3"})->keys_size(), 1)
      << "an operator holds no stream key";

  ASSERT_EQ(Code(Revoke(Issue({security::IdentityKind::kNode, "s1",
                               security::Role::kNone}),
                        "")),
            absl::StatusCode::kOk);
  Tick();
  auto keys = controller_->StreamKeys(std::vector<std::string>{"s3"});
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->keys_size(), 2);
  EXPECT_EQ(keys->keys(0).id(), 2u);
  EXPECT_EQ(keys->keys(0).send_from_unix_ms(),
            absl::ToUnixMillis(clock_.Now() + kOverlap));
  EXPECT_EQ(KeyInUse(), 1u) << "the old key until the overlap ends";
  clock_.Advance(kOverlap);
  Tick();
  EXPECT_EQ(KeyInUse(), 2u);
  // Done: no further rotation until the period.
  clock_.Advance(absl::Minutes(10));
  Tick();
  EXPECT_EQ(
      controller_->StreamKeys(std::vector<std::string>{"s3"})->keys(0).id(),
      2u);
}

// A revocation while a rotation is pending: the pending key was handed out
// before it, so another one follows once it is in use.
TEST_F(RevocationTest, ARevocationDuringAnOverlapRotatesAgainAfterIt) {
  Tick();
  Change rotate;
  rotate.mutable_rotate_stream_key()->set_stream("cmd");
  ASSERT_EQ(Code(rotate), absl::StatusCode::kOk);
  clock_.Advance(absl::Seconds(30));
  ASSERT_EQ(Code(Revoke("", "1234")), absl::StatusCode::kOk);
  Tick();
  auto newest = [&] {
    return controller_->StreamKeys(std::vector<std::string>{"s3"})
        ->keys(0)
        .id();
  };
  EXPECT_EQ(newest(), 2u) << "refused while key 2 is pending";
  clock_.Advance(kOverlap);
  Tick();
  EXPECT_EQ(newest(), 3u);
}

// The pure side: what a resolved revocation keeps, and pruning.
TEST(CertificateRevocationTest, ResolvedFromTheCertificateAndPrunedAfterIt) {
  const absl::Time now = absl::FromUnixSeconds(1790000000);
  absl::StatusOr<security::Credentials> ca = security::MakeCa({.now = now});
  ASSERT_TRUE(ca.ok());
  security::IssueOptions options;
  options.identity = {security::IdentityKind::kOperator, "bob",
                      security::Role::kAdmin};
  options.now = now;
  options.validity = absl::Hours(1);
  const std::string bob = security::Issue(*ca, options)->certificate;

  cascade::v1::RevokeCertificateRequest revoke;
  revoke.set_certificate_pem(bob);
  ASSERT_TRUE(ResolveCertificateRevocation(now, &revoke).ok());
  EXPECT_TRUE(revoke.certificate_pem().empty()) << "the PEM is not kept";
  EXPECT_EQ(revoke.serial(), security::CertificateInfoFromPem(bob)->serial);
  EXPECT_EQ(revoke.holder(), "operator bob (admin)");
  EXPECT_FALSE(revoke.names_nodes());
  EXPECT_EQ(revoke.not_after_unix_ms(),
            absl::ToUnixMillis(now + absl::Hours(1)));
  EXPECT_EQ(revoke.unix_ms(), absl::ToUnixMillis(now));

  cascade::v1::ControllerState state;
  ASSERT_TRUE(ApplyCertificateRevocation(revoke, &state).ok());
  ASSERT_TRUE(ApplyCertificateRevocation(revoke, &state).ok());
  EXPECT_EQ(state.revoked_certificates_size(), 1);
  EXPECT_EQ(LastNodeRevocation(state), absl::InfinitePast());

  cascade::v1::RevokeCertificateRequest by_serial;
  by_serial.set_serial("00:FF");
  ASSERT_TRUE(
      ResolveCertificateRevocation(now + absl::Hours(2), &by_serial).ok());
  EXPECT_EQ(by_serial.serial(), "ff");
  EXPECT_TRUE(by_serial.names_nodes()) << "unknown holder: as a node's";
  ASSERT_TRUE(ApplyCertificateRevocation(by_serial, &state).ok());
  ASSERT_EQ(state.revoked_certificates_size(), 1) << "bob's expired: pruned";
  EXPECT_EQ(RevokedSerials(state), (absl::flat_hash_set<std::string>{"ff"}));
  EXPECT_EQ(LastNodeRevocation(state), now + absl::Hours(2));

  // Unresolved (a PEM still in it) is refused by replay.
  EXPECT_FALSE(ApplyCertificateRevocation(
                   cascade::v1::RevokeCertificateRequest(), &state)
                   .ok());
}

}  // namespace
}  // namespace cascade::topology
