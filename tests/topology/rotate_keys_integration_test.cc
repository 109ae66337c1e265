// relayctl rotate-keys against a real topologyd with mutual TLS: a viewer
// and an operator are refused (exit 6), an admin rotates one relay's keys
// and the relay's assignment carries the new link key with the one before;
// a site is refused (exit 4); no view shows a key; who rotated, and who was
// refused, is in the audit trail after a kill -9 and a restart.
#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "proto/controller.pb.h"
#include "tests/media/process.h"
#include "tests/topology/harness.h"
#include "tests/topology/test_pki.h"

namespace cascade::topology {
namespace {

using cascade::testing::CommandResult;
using security::Role;
using testing::FakeRelay;
using testing::TestPki;
using testing::Topologyd;

constexpr char kTopology[] = R"txt(
nodes { id: "nat" tier: TIER_NATIONAL media_address: "127.1.0.1:5004"
  capacity { max_children: 8 } }
nodes { id: "d1" tier: TIER_DISTRICT parent: "nat" media_address: "127.3.0.1:5004"
  capacity { max_children: 8 } }
nodes { id: "s1" tier: TIER_SITE parent: "d1" media_address: "127.10.0.1:5004" }
)txt";

class RotateKeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tmp_ = testing::TestDir();
    auto pki = TestPki::Make(tmp_ + "/pki");
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_ = std::make_unique<TestPki>(*std::move(pki));
    for (const char* id : {"topologyd", "d1"}) {
      ASSERT_TRUE(pki_->IssueNode(id).ok());
    }
    ASSERT_TRUE(pki_->IssueOperator("vera", Role::kViewer).ok());
    ASSERT_TRUE(pki_->IssueOperator("oscar", Role::kOperator).ok());
    ASSERT_TRUE(pki_->IssueOperator("ada", Role::kAdmin).ok());
    const std::string topology = tmp_ + "/topology.textproto";
    std::ofstream(topology) << kTopology;
    flags_ = pki_->ServerFlags("topologyd");
    flags_.insert(flags_.end(),
                  {"--state-dir=" + tmp_ + "/state", "--topology=" + topology,
                   "--lease-timeout=60s", "--restart-learning=1s"});
    ASSERT_NO_FATAL_FAILURE(StartController("topologyd", 0));
    d1_ = std::make_unique<FakeRelay>(controller_->address(), "d1",
                                      absl::Milliseconds(300),
                                      pki_->Credentials("d1"));
    d1_->Start();
  }

  void StartController(const std::string& name, int port) {
    controller_.reset();
    auto daemon = Topologyd::Start(tmp_, name, flags_, port);
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    controller_ = std::move(*daemon);
  }

  CommandResult As(const std::string& name, std::vector<std::string> args) {
    std::vector<std::string> flags = pki_->Flags(name);
    args.insert(args.begin(), flags.begin(), flags.end());
    return testing::Relayctl(tmp_, controller_->address(), std::move(args));
  }

  // The audit trail's last three records, as relayctl events prints them.
  // The newest `count` events of the audit trail.
  std::vector<std::string> History(int count) {
    CommandResult events =
        As("ada", {"events", absl::StrCat("--history=", count),
                   absl::StrCat("--count=", count)});
    EXPECT_EQ(events.code, 0) << events.err;
    return absl::StrSplit(events.out, '\n', absl::SkipEmpty());
  }

  std::string tmp_;
  std::vector<std::string> flags_;
  std::unique_ptr<TestPki> pki_;
  std::unique_ptr<Topologyd> controller_;
  std::unique_ptr<FakeRelay> d1_;
};

TEST_F(RotateKeysTest, AdminsRotateRelaysGetBothKeysTheAuditSurvives) {
  ASSERT_TRUE(d1_->WaitFor([](const cascade::v1::Assignment& a) {
    return a.parents_size() == 1 && !a.parents(0).key().empty();
  }));
  const std::string old_key = d1_->last().parents(0).key();

  CommandResult viewer = As("vera", {"rotate-keys", "d1"});
  EXPECT_EQ(viewer.code, 6);
  EXPECT_EQ(viewer.err,
            "relayctl: rotate-keys: permission denied: viewer may not "
            "rotate-keys\n");
  CommandResult operator_rotates = As("oscar", {"rotate-keys"});
  EXPECT_EQ(operator_rotates.code, 6);
  EXPECT_EQ(operator_rotates.err,
            "relayctl: rotate-keys: permission denied: operator may not "
            "rotate-keys\n");

  CommandResult rotated = As("ada", {"rotate-keys", "d1"});
  ASSERT_EQ(rotated.code, 0) << rotated.err;
  EXPECT_TRUE(absl::StartsWith(rotated.out, "rotate-keys d1: done"))
      << rotated.out;
  ASSERT_TRUE(d1_->WaitFor([&](const cascade::v1::Assignment& a) {
    return a.parents_size() == 1 && a.parents(0).key() != old_key &&
           a.parents(0).previous_key() == old_key;
  }));
  const std::string new_key = d1_->last().parents(0).key();

  CommandResult site = As("ada", {"rotate-keys", "s1"});
  EXPECT_EQ(site.code, 4);
  EXPECT_TRUE(absl::StrContains(site.err, "is a site or a plain endpoint"))
      << site.err;
  for (const char* node : {"d1", "nat"}) {
    CommandResult shown = As("vera", {"--json", "show", node});
    ASSERT_EQ(shown.code, 0) << shown.err;
    for (const std::string& key : {old_key, new_key}) {
      EXPECT_FALSE(absl::StrContains(shown.out, absl::Base64Escape(key)))
          << node;
      EXPECT_FALSE(absl::StrContains(shown.out, absl::BytesToHexString(key)))
          << node;
    }
  }

  auto expect_history = [](const std::vector<std::string>& lines) {
    ASSERT_EQ(lines.size(), 3u);
    EXPECT_TRUE(absl::StrContains(lines[0], "rotate-keys d1 by operator vera"))
        << lines[0];
    EXPECT_TRUE(absl::StrContains(lines[0], "refused: permission denied"));
    EXPECT_TRUE(absl::StrContains(lines[1],
                                  "rotate-keys every relay by operator oscar"))
        << lines[1];
    EXPECT_TRUE(
        absl::StrContains(lines[2], "rotate-keys d1 by operator ada (admin)"))
        << lines[2];
  };
  expect_history(History(3));
  // kill -9, then the same port: the rotation and its audit were durable,
  // and the restarted controller says it leads.
  ASSERT_NO_FATAL_FAILURE(StartController("restarted", controller_->port()));
  std::vector<std::string> after = History(4);
  ASSERT_EQ(after.size(), 4u);
  EXPECT_TRUE(absl::StrContains(
      after[3], " leads (single controller, journal, restarted)"))
      << after[3];
  after.pop_back();
  expect_history(after);
}

}  // namespace
}  // namespace cascade::topology
