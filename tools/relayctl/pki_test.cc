#include "tools/relayctl/pki.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "base/files.h"
#include "security/identity.h"
#include "security/pki.h"

namespace cascade::relayctl {
namespace {

struct Result {
  int code;
  std::string out, err;
};

class PkiCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::string(std::getenv("TEST_TMPDIR")) + "/pkiXXXXXX";
    ASSERT_NE(mkdtemp(dir_.data()), nullptr);
  }

  Result Run(const PkiOptions& options, std::vector<std::string> args) {
    args.insert(args.begin(), "pki");
    std::ostringstream out, err;
    const int code = RunPki(options, args, out, err);
    return {code, out.str(), err.str()};
  }

  PkiOptions Init() {
    PkiOptions options;
    options.out = dir_ + "/ca";
    EXPECT_EQ(Run(options, {"init"}).code, 0);
    PkiOptions issue;
    issue.ca = dir_ + "/ca";
    issue.out = dir_ + "/issued";
    return issue;
  }

  std::string dir_;
};

TEST_F(PkiCommandTest, InitKeepsAnExistingCaUnlessForced) {
  PkiOptions options;
  options.out = dir_ + "/ca";
  Result made = Run(options, {"init", "lab"});
  ASSERT_EQ(made.code, 0) << made.err;
  EXPECT_NE(made.out.find("CA \"Cascade CA lab\""), std::string::npos);
  const std::string key = *ReadFile(dir_ + "/ca/ca.key");
  struct stat st;
  ASSERT_EQ(stat((dir_ + "/ca/ca.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  Result again = Run(options, {"init"});
  EXPECT_EQ(again.code, 4);
  EXPECT_EQ(again.err, "relayctl: pki init: " + dir_ +
                           "/ca/ca.pem exists (--force replaces it)\n");
  EXPECT_EQ(*ReadFile(dir_ + "/ca/ca.key"), key);
  options.force = true;
  EXPECT_EQ(Run(options, {"init"}).code, 0);
  EXPECT_NE(*ReadFile(dir_ + "/ca/ca.key"), key);
}

TEST_F(PkiCommandTest, IssuesNodeAndOperatorCertificates) {
  PkiOptions options = Init();
  options.ip = {"127.0.0.1", "::1"};
  options.dns = {"controller.example"};
  Result node = Run(options, {"issue", "p1-sb"});
  ASSERT_EQ(node.code, 0) << node.err;
  const std::string pem = *ReadFile(dir_ + "/issued/p1-sb.pem");
  auto identity = security::IdentityFromPem(pem);
  ASSERT_TRUE(identity.ok()) << identity.status();
  EXPECT_EQ(identity->name, "p1-sb");
  EXPECT_TRUE(
      security::Verify(pem, *ReadFile(dir_ + "/ca/ca.pem"), absl::Now()).ok());

  // Several nodes in one certificate, named as asked.
  PkiOptions group = options;
  group.name = "p1-group";
  Result several = Run(group, {"issue", "p1", "p1-d01", "p1-d02"});
  ASSERT_EQ(several.code, 0) << several.err;
  EXPECT_NE(several.out.find("nodes p1, p1-d01 and p1-d02"), std::string::npos)
      << several.out;
  auto nodes =
      security::IdentityFromPem(*ReadFile(dir_ + "/issued/p1-group.pem"));
  ASSERT_TRUE(nodes.ok()) << nodes.status();
  EXPECT_TRUE(nodes->SpeaksFor("p1-d02"));
  EXPECT_EQ(Run(group, {"issue", "p1", "p1"}).code, 2);

  PkiOptions op;
  op.ca = options.ca;
  op.out = options.out;
  op.operator_name = "alice";
  op.role = "viewer";
  op.json = true;
  Result issued = Run(op, {"issue"});
  ASSERT_EQ(issued.code, 0) << issued.err;
  EXPECT_NE(issued.out.find("\"what\":\"operator alice (viewer)\""),
            std::string::npos)
      << issued.out;
  auto alice = security::IdentityFromPem(*ReadFile(dir_ + "/issued/alice.pem"));
  ASSERT_TRUE(alice.ok()) << alice.status();
  EXPECT_EQ(alice->role, security::Role::kViewer);
}

TEST_F(PkiCommandTest, ErrorsAndExitCodes) {
  PkiOptions options = Init();
  struct Case {
    std::vector<std::string> args;
    std::function<void(PkiOptions*)> set;
    int code;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{
           {{}, nullptr, 2, "needs init or issue"},
           {{"renew"}, nullptr, 2, "unknown subcommand"},
           {{"issue"}, nullptr, 2, "usage: relayctl pki issue NODE"},
           {{"issue", "bad id"}, nullptr, 2, "not printable ASCII"},
           {{"issue", "d1"},
            [](PkiOptions* o) { o->role = "admin"; },
            2,
            "--role is for operators"},
           {{"issue"},
            [](PkiOptions* o) { o->operator_name = "bob"; },
            2,
            "--operator needs --role"},
           {{"issue"},
            [](PkiOptions* o) {
              o->operator_name = "bob";
              o->role = "root";
            },
            2,
            "is not viewer, operator or admin"},
           {{"issue"},
            [](PkiOptions* o) {
              o->operator_name = "bob";
              o->role = "admin";
              o->ip = {"127.0.0.1"};
            },
            2,
            "--dns and --ip are for nodes"},
           {{"issue", "d1"},
            [](PkiOptions* o) { o->ip = {"1.2.3"}; },
            2,
            "\"1.2.3\" is not an IP address"},
           {{"issue", "d1"},
            [](PkiOptions* o) { o->ca += "/nowhere"; },
            3,
            "no such file"},
           {{"issue", "d1"},
            [](PkiOptions* o) { o->days = -1; },
            2,
            "--days must not be negative"},
       }) {
    PkiOptions o = options;
    if (c.set) c.set(&o);
    Result result = Run(o, c.args);
    EXPECT_EQ(result.code, c.code) << c.says << ": " << result.err;
    EXPECT_NE(result.err.find(c.says), std::string::npos) << result.err;
  }
  // Issued once; the second time the files exist.
  EXPECT_EQ(Run(options, {"issue", "d1"}).code, 0);
  EXPECT_EQ(Run(options, {"issue", "d1"}).code, 4);
}

}  // namespace
}  // namespace cascade::relayctl
