#include "relay/edge_http.h"

#include <httplib.h>
#include <uv.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "relay/dispatcher.h"
#include "tests/common/wait.h"

namespace cascade::relay {
namespace {

// A loop the test runs (or holds still) on a thread of its own.
class LoopThread {
 public:
  LoopThread() {
    uv_loop_init(&loop_);
    dispatcher_ = std::make_unique<Dispatcher>(&loop_);
  }
  ~LoopThread() {
    Stop();
    dispatcher_->Post([this] { dispatcher_->Close(); });
    uv_run(&loop_, UV_RUN_DEFAULT);  // the close, then nothing is left
    uv_loop_close(&loop_);
  }
  void Start() {
    thread_ = std::thread([this] {
      while (!stop_) uv_run(&loop_, UV_RUN_ONCE);
    });
  }
  void Stop() {
    if (!thread_.joinable()) return;
    dispatcher_->Post([this] { stop_ = true; });
    thread_.join();
  }
  Dispatcher* dispatcher() { return dispatcher_.get(); }

 private:
  uv_loop_t loop_;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

struct Calls {
  std::atomic<int> count{0};
  absl::Mutex mu;
  std::string client ABSL_GUARDED_BY(mu);
};

EdgeHttpServer::Handler Answer(Calls* calls) {
  return [calls](const edge::HttpRequest& request, const std::string& client) {
    ++calls->count;
    {
      absl::MutexLock lock(&calls->mu);
      calls->client = client;
    }
    edge::HttpResponse response;
    response.status = 201;
    response.body = "answer to " + request.method + " " + request.path;
    return response;
  };
}

EdgeHttpOptions Options() {
  EdgeHttpOptions options;
  options.listen.ip = 0x7f000001;
  options.listen.port = 0;
  return options;
}

TEST(EdgeHttpServer, AnswersOnTheLoop) {
  LoopThread loop;
  loop.Start();
  Calls calls;
  auto server =
      EdgeHttpServer::Start(Options(), loop.dispatcher(), Answer(&calls));
  ASSERT_TRUE(server.ok()) << server.status();
  httplib::Client client("127.0.0.1", (*server)->port());
  const auto res = client.Post("/whep/program", "v=0\r\n", "application/sdp");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 201);
  EXPECT_EQ(res->body, "answer to POST /whep/program");
  EXPECT_EQ(calls.count, 1);
  absl::MutexLock lock(&calls.mu);
  EXPECT_EQ(calls.client, "127.0.0.1");
}

// A loop that does not take the request: 503 after the timeout, and the
// request is never run afterwards (no session nobody was told of).
TEST(EdgeHttpServer, BusyLoopGets503AndTheRequestIsDropped) {
  LoopThread loop;  // not running yet
  Calls calls;
  EdgeHttpOptions options = Options();
  options.loop_timeout = absl::Milliseconds(300);
  auto server =
      EdgeHttpServer::Start(options, loop.dispatcher(), Answer(&calls));
  ASSERT_TRUE(server.ok()) << server.status();
  httplib::Client client("127.0.0.1", (*server)->port());
  const absl::Time start = absl::Now();
  const auto res = client.Post("/whep/program", "v=0\r\n", "application/sdp");
  ASSERT_TRUE(res);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(300));
  EXPECT_EQ(res->status, 503);
  EXPECT_EQ(res->get_header_value("Retry-After"), "1");
  EXPECT_TRUE(absl::StrContains(res->body, "not answered within 300ms"))
      << res->body;

  loop.Start();  // the abandoned work now comes up, and is skipped
  const auto next = client.Delete("/whep/program/x");
  ASSERT_TRUE(next);
  EXPECT_EQ(next->status, 201);
  EXPECT_EQ(next->body, "answer to DELETE /whep/program/x");
  EXPECT_EQ(calls.count, 1);
}

// More requests at the loop than allowed: the one past the bound gets 503
// at once; the one the loop holds is answered when the loop is done.
TEST(EdgeHttpServer, QueueFullGets503AtOnce) {
  LoopThread loop;
  loop.Start();
  Calls calls;
  absl::Notification release;
  EdgeHttpOptions options = Options();
  options.max_waiting = 1;
  auto server = EdgeHttpServer::Start(
      options, loop.dispatcher(),
      [&](const edge::HttpRequest& request, const std::string& client) {
        edge::HttpResponse response = Answer(&calls)(request, client);
        release.WaitForNotification();  // the loop busy with it
        return response;
      });
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  std::atomic<int> first_status{0};
  std::thread first([&] {
    httplib::Client client("127.0.0.1", port);
    const auto res = client.Post("/whep/program", "v=0\r\n", "application/sdp");
    if (res) first_status = res->status;
  });
  ASSERT_TRUE(testing::WaitUntil("the loop runs the first request",
                                 testing::kWaitTimeout,
                                 [&] { return calls.count == 1; }));
  httplib::Client client("127.0.0.1", port);
  const auto res = client.Post("/whep/program", "v=0\r\n", "application/sdp");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 503);
  EXPECT_TRUE(absl::StrContains(res->body, "too many requests wait"))
      << res->body;
  release.Notify();
  first.join();
  EXPECT_EQ(first_status, 201);
  EXPECT_EQ(calls.count, 1);
}

}  // namespace
}  // namespace cascade::relay
