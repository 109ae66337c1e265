#include "relay/server.h"

#include <glog/logging.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace cascade::relay {
namespace {

std::string TestDir() {
  const char* dir = std::getenv("TEST_TMPDIR");
  return dir != nullptr ? dir : "/tmp";
}

ServerOptions Relays(std::vector<std::string> ids, bool pages_per_relay) {
  ServerOptions options;
  for (const std::string& id : ids) {
    RelayOptions& relay = options.relays.emplace_back();
    relay.node_id = id;
    relay.listen = *media::Endpoint::Parse("127.0.0.1:0");
  }
  options.pages_per_relay = pages_per_relay;
  options.metrics = *media::Endpoint::Parse("127.0.0.1:0");
  options.pool_slots_per_relay = 1024;
  return options;
}

// A server running on its own thread until the test ends.
class RunningServer {
 public:
  explicit RunningServer(ServerOptions options) {
    absl::StatusOr<std::unique_ptr<RelayServer>> server =
        RelayServer::Create(std::move(options));
    EXPECT_TRUE(server.ok()) << server.status();
    if (!server.ok()) return;
    server_ = *std::move(server);
    loop_ = std::thread([this] { server_->Run(); });
  }
  ~RunningServer() {
    if (server_ == nullptr) return;
    server_->Stop();
    loop_.join();
  }
  RelayServer* get() { return server_.get(); }

  // The status and body of GET `path` on the metrics port.
  std::pair<int, std::string> Get(const std::string& path) {
    httplib::Client client("127.0.0.1", server_->metrics_port());
    client.set_read_timeout(5);
    httplib::Result res = client.Get(path.c_str());
    if (!res) return {0, ""};
    return {res->status, res->body};
  }

 private:
  std::unique_ptr<RelayServer> server_;
  std::thread loop_;
};

// Counts the warnings that carry `text`, from any thread.
class WarningCounter : public google::LogSink {
 public:
  explicit WarningCounter(std::string text) : text_(std::move(text)) {
    google::AddLogSink(this);
  }
  ~WarningCounter() override { google::RemoveLogSink(this); }
  void send(google::LogSeverity severity, const char*, const char*, int,
            const google::LogMessageTime&, const char* message,
            size_t length) override {
    if (severity != google::GLOG_WARNING) return;
    if (std::string(message, length).find(text_) == std::string::npos) return;
    absl::MutexLock lock(&mu_);
    ++count_;
  }
  int count() {
    absl::MutexLock lock(&mu_);
    return count_;
  }
  // Whether `n` came within `timeout`.
  bool WaitFor(int n, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return count_ >= n;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
  }

 private:
  const std::string text_;
  absl::Mutex mu_;
  int count_ ABSL_GUARDED_BY(mu_) = 0;
};

TEST(RelayServerTest, TheWarningIsLoggedAtStartAndAgainEveryInterval) {
  WarningCounter warnings("--insecure: plaintext here");
  ServerOptions options = Relays({"r1"}, false);
  options.warning = "--insecure: plaintext here";
  options.warning_every = absl::Milliseconds(20);
  RunningServer server(std::move(options));
  ASSERT_NE(server.get(), nullptr);
  EXPECT_TRUE(warnings.WaitFor(3, absl::Seconds(20)))
      << "only " << warnings.count() << " warnings";
}

TEST(RelayServerTest, NoWarningWithoutOne) {
  WarningCounter warnings("--insecure");
  {
    RunningServer server(Relays({"r1"}, false));
    ASSERT_NE(server.get(), nullptr);
    // A served page means the loop ran: a warning at start would be logged.
    EXPECT_EQ(server.Get("/metrics").first, 200);
  }
  EXPECT_EQ(warnings.count(), 0);
}

TEST(RelayServerTest, SeveralRelaysServeAPageEachLookedUpByIdNotPattern) {
  // Regex metacharacters in ids must neither throw nor match other paths.
  ServerOptions options = Relays({"p.1", "c++", "(x"}, true);
  options.port_file = TestDir() + "/several.ports";
  RunningServer server(std::move(options));
  ASSERT_NE(server.get(), nullptr);
  for (const char* id : {"p.1", "c++", "(x"}) {
    auto [status, body] = server.Get(absl::StrCat("/metrics/", id));
    EXPECT_EQ(status, 200) << id;
    EXPECT_NE(body.find("\nrelay_children 0\n"), std::string::npos) << id;
  }
  EXPECT_EQ(server.Get("/metrics/pX1").first, 404);
  EXPECT_EQ(server.Get("/metrics/").first, 404);
  EXPECT_EQ(server.Get("/metrics").first, 404);

  std::ifstream in(TestDir() + "/several.ports");
  std::stringstream text;
  text << in.rdbuf();
  for (const auto& relay : server.get()->relays()) {
    EXPECT_NE(text.str().find(absl::StrCat("udp.", relay->id(), "=",
                                           relay->local().port, "\n")),
              std::string::npos)
        << text.str();
  }
  EXPECT_NE(text.str().find(
                absl::StrCat("metrics=", server.get()->metrics_port(), "\n")),
            std::string::npos);
}

TEST(RelayServerTest, OneRelayByIdKeepsThePerRelayLayout) {
  RunningServer server(Relays({"only"}, true));
  ASSERT_NE(server.get(), nullptr);
  EXPECT_EQ(server.Get("/metrics/only").first, 200);
  EXPECT_EQ(server.Get("/metrics").first, 404);
}

TEST(RelayServerTest, ASingleRelayServesMetrics) {
  RunningServer server(Relays({"solo"}, false));
  ASSERT_NE(server.get(), nullptr);
  auto [status, body] = server.Get("/metrics");
  EXPECT_EQ(status, 200);
  EXPECT_NE(body.find("relay_packet_slots_free"), std::string::npos);
}

TEST(RelayServerTest, RefusesWhatItCannotRun) {
  EXPECT_FALSE(RelayServer::Create(Relays({}, false)).ok());
  EXPECT_FALSE(RelayServer::Create(Relays({"a", "b"}, false)).ok());
  EXPECT_EQ(RelayServer::Create(Relays({"a", "a"}, true)).status().message(),
            "relay id a given twice");
  ServerOptions reloadable = Relays({"a"}, true);
  reloadable.reload = [] { return absl::StatusOr<RelayOptions>(); };
  EXPECT_FALSE(RelayServer::Create(std::move(reloadable)).ok());
  // A relay that cannot bind names itself; the ones before it are closed.
  ServerOptions taken = Relays({"first", "second"}, true);
  taken.relays[1].listen = *media::Endpoint::Parse("192.0.2.1:5000");
  absl::Status bind = RelayServer::Create(std::move(taken)).status();
  EXPECT_EQ(bind.message().substr(0, 8), "second: ") << bind;
}

}  // namespace
}  // namespace cascade::relay
