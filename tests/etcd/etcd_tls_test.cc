// topologyd and EtcdClient against etcd with mutual TLS (issue 19): the
// right certificates lead; no client certificate, one from another CA, an
// etcd certificate from another CA or plaintext are each refused at start
// with exit 1 and a line naming the member, and a TLS client never falls
// back to plaintext. Bad TLS flags: exit 2 naming the flag.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/common/wait.h"
#include "tests/etcd/etcd_harness.h"
#include "tests/etcd/test_pki.h"
#include "tests/media/process.h"
#include "topology/etcd/etcd_client.h"

namespace cascade::testing {
namespace {

using topology::etcd::EtcdClient;
using topology::etcd::EtcdClientOptions;

constexpr char kLeaderKey[] = "/cascade/leader";

// The leader key's value ("" when absent or unreadable).
std::string LeaderKey(const EtcdClientOptions& options) {
  auto client = EtcdClient::Create(options);
  if (!client.ok()) return "";
  etcdserverpb::RangeRequest request;
  request.set_key(kLeaderKey);
  auto range = (*client)->Range(request);
  return range.ok() && range->kvs_size() == 1 ? range->kvs(0).value() : "";
}

class EtcdTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto cluster = EtcdCluster::Start(1, TestDir() + "/etcd");
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = cluster->release();
    auto other = MakeTestPki(TestDir() + "/other-pki");
    ASSERT_TRUE(other.ok()) << other.status();
    other_ = new TestPki(*std::move(other));
  }
  static void TearDownTestSuite() {
    delete cluster_;
    delete other_;
  }

  void SetUp() override { ASSERT_NE(cluster_, nullptr); }

  // topologyd with `flags` (and a port file) run until it exits.
  CommandResult Topologyd(const std::string& name,
                          const std::vector<std::string>& flags) {
    port_file_ = TestDir() + "/" + name + ".port";
    // TLS to etcd is under test here, not on topologyd's own port.
    std::vector<std::string> argv = {"topology/topologyd", "--insecure",
                                     "--listen=127.0.0.1:0",
                                     "--port-file=" + port_file_};
    argv.insert(argv.end(), flags.begin(), flags.end());
    return RunToCompletion(argv, TestDir() + "/" + name, absl::Seconds(20));
  }

  // `result` is topologyd failing to reach etcd at start: exit 1, one line
  // naming the member, and it never served.
  void ExpectUnreachable(const CommandResult& result, const std::string& member,
                         const std::string& hint) {
    EXPECT_EQ(result.code, 1) << result.err;
    EXPECT_NE(result.err.find("topologyd: cannot reach etcd at "),
              std::string::npos)
        << result.err;
    EXPECT_NE(result.err.find("etcd " + member + " Range: "), std::string::npos)
        << result.err;
    EXPECT_NE(result.err.find(hint), std::string::npos) << result.err;
    EXPECT_EQ(ReadFile(port_file_), "") << "it served";
  }

  std::string Member(const char* scheme) const {
    return absl::StrCat(scheme, cluster_->endpoints()[0]);
  }

  static EtcdCluster* cluster_;
  static TestPki* other_;
  std::string port_file_;
};

EtcdCluster* EtcdTlsTest::cluster_ = nullptr;
TestPki* EtcdTlsTest::other_ = nullptr;

TEST_F(EtcdTlsTest, TopologydWithTheRightCertificatesLeads) {
  std::vector<std::string> argv = {"topology/topologyd", "--insecure",
                                   "--listen=127.0.0.1:0",
                                   "--advertise=127.0.0.1:7799"};
  for (const std::string& flag : cluster_->TopologydFlags()) {
    argv.push_back(flag);
  }
  auto daemon = Subprocess::Start(
      argv, {TestDir() + "/leads.out", TestDir() + "/leads.err"});
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  EXPECT_TRUE(WaitUntil("topologyd holds the leader key", kWaitTimeout, [&] {
    return LeaderKey(cluster_->ClientOptions()) == "127.0.0.1:7799";
  })) << ReadFile(TestDir() + "/leads.err");
  // Resigns on SIGTERM: the key goes at once.
  EXPECT_EQ((*daemon)->Stop(absl::Seconds(10)).value_or(-1), 0);
  EXPECT_EQ(LeaderKey(cluster_->ClientOptions()), "");
}

TEST_F(EtcdTlsTest, NoClientCertificateIsRefused) {
  const TestPki& pki = cluster_->pki();
  ExpectUnreachable(Topologyd("no-cert", {"--store=" + cluster_->Url(),
                                          "--etcd-ca=" + pki.ca}),
                    Member("https://"), "needs --etcd-cert and --etcd-key");
  // The client library says the same: UNAVAILABLE, naming the member.
  EtcdClientOptions options = cluster_->ClientOptions();
  options.tls->cert.clear();
  options.tls->key.clear();
  auto client = EtcdClient::Create(options);
  ASSERT_TRUE(client.ok()) << client.status();
  etcdserverpb::RangeRequest request;
  request.set_key(kLeaderKey);
  auto range = (*client)->Range(request);
  EXPECT_EQ(range.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(range.status().message().find(Member("https://")),
            std::string::npos)
      << range.status();
}

TEST_F(EtcdTlsTest, ClientCertificateFromAnotherCaIsRefused) {
  ExpectUnreachable(
      Topologyd("other-client-ca", {"--store=" + cluster_->Url(),
                                    "--etcd-ca=" + cluster_->pki().ca,
                                    "--etcd-cert=" + other_->client_cert,
                                    "--etcd-key=" + other_->client_key}),
      Member("https://"), "--trusted-ca-file must hold the CA");
}

TEST_F(EtcdTlsTest, EtcdCertificateFromAnotherCaIsRefused) {
  const TestPki& pki = cluster_->pki();
  const CommandResult result = Topologyd(
      "other-server-ca",
      {"--store=" + cluster_->Url(), "--etcd-ca=" + other_->ca,
       "--etcd-cert=" + pki.client_cert, "--etcd-key=" + pki.client_key});
  ExpectUnreachable(result, Member("https://"),
                    "with a --cert-file that --etcd-ca signed");
  EXPECT_NE(result.err.find("certificate verify failed"), std::string::npos)
      << result.err;
}

TEST_F(EtcdTlsTest, PlaintextToTheTlsPortIsRefused) {
  ExpectUnreachable(
      Topologyd("plaintext", {"--store=etcd://" + cluster_->endpoints()[0]}),
      Member("http://"), "serves https://: give --etcd-ca");
}

// A TLS client given a plaintext etcd fails; it does not talk plaintext
// instead (the store would hold its leader key).
TEST_F(EtcdTlsTest, TlsNeverFallsBackToPlaintext) {
  auto plain =
      EtcdCluster::Start(1, TestDir() + "/plain", EtcdTransport::kPlaintext);
  ASSERT_TRUE(plain.ok()) << plain.status();
  const TestPki& pki = cluster_->pki();
  const std::string member = (*plain)->endpoints()[0];
  ExpectUnreachable(Topologyd("no-fallback", {"--store=etcd://" + member,
                                              "--etcd-ca=" + pki.ca,
                                              "--etcd-cert=" + pki.client_cert,
                                              "--etcd-key=" + pki.client_key}),
                    "https://" + member, "it must serve https://");
  EXPECT_EQ(LeaderKey((*plain)->ClientOptions()), "");
  // Nothing in the plaintext store at all.
  auto client = EtcdClient::Create((*plain)->ClientOptions());
  ASSERT_TRUE(client.ok());
  etcdserverpb::RangeRequest everything;
  everything.set_key(std::string(1, '\0'));
  everything.set_range_end(std::string(1, '\0'));
  everything.set_count_only(true);
  auto range = (*client)->Range(everything);
  ASSERT_TRUE(range.ok()) << range.status();
  EXPECT_EQ(range->count(), 0);
}

TEST_F(EtcdTlsTest, BadTlsFlagsExitTwoWithOneLineNamingTheFlag) {
  const TestPki& pki = cluster_->pki();
  const std::string not_pem = TestDir() + "/not.pem";
  std::ofstream(not_pem) << "not a certificate\n";
  const std::string store = "--store=etcd://127.0.0.1:1";
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--store=etcd://https://127.0.0.1:1"}, "--etcd-ca is required"},
      {{"--store=etcd://http://127.0.0.1:1", "--etcd-ca=" + pki.ca},
       "http:// members, which speak no TLS"},
      {{"--store=etcd://https://127.0.0.1:1,127.0.0.1:2"}, "same scheme"},
      {{store, "--etcd-ca=" + pki.ca, "--etcd-cert=" + pki.client_cert},
       "--etcd-cert and --etcd-key go together"},
      {{store, "--etcd-cert=" + pki.client_cert,
        "--etcd-key=" + pki.client_key},
       "--etcd-cert needs --etcd-ca"},
      {{store, "--etcd-ca=" + TestDir() + "/missing.pem"},
       "--etcd-ca: " + TestDir() + "/missing.pem"},
      {{store, "--etcd-ca=" + not_pem},
       "--etcd-ca: " + not_pem + ": holds no PEM certificate"},
      {{store, "--etcd-ca=" + pki.ca, "--etcd-cert=" + pki.client_key,
        "--etcd-key=" + pki.client_key},
       "--etcd-cert: " + pki.client_key + ": holds no PEM certificate"},
      {{store, "--etcd-ca=" + pki.ca, "--etcd-cert=" + pki.client_cert,
        "--etcd-key=" + pki.server_key},
       "--etcd-key: " + pki.server_key + ": not the key of the certificate"},
  };
  int run = 0;
  for (const auto& [flags, expected] : cases) {
    CommandResult result = Topologyd(absl::StrCat("flags", ++run), flags);
    EXPECT_EQ(result.code, 2) << flags.back() << ": " << result.err;
    EXPECT_EQ(result.err.rfind("topologyd: ", 0), 0u) << result.err;
    EXPECT_NE(result.err.find(expected), std::string::npos) << result.err;
    EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1)
        << result.err;
  }
}

}  // namespace
}  // namespace cascade::testing
