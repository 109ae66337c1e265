#include "relay/dispatcher.h"

#include <gtest/gtest.h>
#include <uv.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"

namespace cascade::relay {
namespace {

// A loop on its own thread, as relayd runs it; the test thread is the
// "other thread" that may only post.
class LoopThread {
 public:
  LoopThread() {
    uv_loop_init(&loop_);
    dispatcher_ = std::make_unique<Dispatcher>(&loop_);
    // Keeps the loop alive until the test closes it.
    uv_timer_init(&loop_, &keep_alive_);
    uv_timer_start(
        &keep_alive_, [](uv_timer_t*) {}, 1000000, 1000000);
  }
  void Start() {
    thread_ = std::thread([this] { uv_run(&loop_, UV_RUN_DEFAULT); });
  }
  // Loop thread: closes the dispatcher and lets the loop end.
  void StopOnLoop() {
    dispatcher_->Close();
    uv_close(reinterpret_cast<uv_handle_t*>(&keep_alive_), nullptr);
  }
  // Stops the loop (unless a test already did, on the loop) and joins it.
  void Finish() {
    dispatcher_->Post([this] { StopOnLoop(); });
    thread_.join();
    EXPECT_EQ(uv_loop_close(&loop_), 0);
  }
  Dispatcher& dispatcher() { return *dispatcher_; }
  std::thread::id loop_thread() const { return thread_.get_id(); }

 private:
  uv_loop_t loop_;
  uv_timer_t keep_alive_;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::thread thread_;
};

TEST(DispatcherTest, WorkRunsOnTheLoopThreadInOrderEvenIfPostedBeforeItRuns) {
  LoopThread loop;
  std::vector<int> order;  // touched by the loop thread only
  std::vector<std::thread::id> threads;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(loop.dispatcher().Post([&, i] {
      order.push_back(i);
      threads.push_back(std::this_thread::get_id());
    }));
  }
  loop.Start();
  ASSERT_TRUE(loop.dispatcher().PostAndWait([&] { order.push_back(3); }));
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3}));
  for (const std::thread::id& id : threads) {
    EXPECT_EQ(id, loop.loop_thread());
  }
  loop.Finish();
}

TEST(DispatcherTest, ManyThreadsPostingLoseNothing) {
  LoopThread loop;
  loop.Start();
  int sum = 0;  // loop thread only
  std::vector<std::thread> posters;
  for (int t = 0; t < 4; ++t) {
    posters.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        EXPECT_TRUE(loop.dispatcher().Post([&sum] { ++sum; }));
      }
    });
  }
  for (std::thread& t : posters) t.join();
  int seen = 0;
  ASSERT_TRUE(loop.dispatcher().PostAndWait([&] { seen = sum; }));
  EXPECT_EQ(seen, 4000);
  loop.Finish();
}

TEST(DispatcherTest, ClosedDispatcherRefusesAndDropsWhatWasPending) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  auto dispatcher = std::make_unique<Dispatcher>(&loop);
  auto witness = std::make_shared<int>(0);
  bool ran = false;
  // Pending when the loop closes the dispatcher: destroyed unrun, so what
  // it owns is released and a waiter would be told.
  ASSERT_TRUE(dispatcher->Post([witness, &ran] { ran = true; }));
  EXPECT_EQ(witness.use_count(), 2);
  dispatcher->Close();
  EXPECT_EQ(witness.use_count(), 1);
  EXPECT_FALSE(dispatcher->Post([&ran] { ran = true; }));
  EXPECT_FALSE(dispatcher->PostAndWait([&ran] { ran = true; }));
  uv_run(&loop, UV_RUN_DEFAULT);
  EXPECT_FALSE(ran);
  dispatcher.reset();
  EXPECT_EQ(uv_loop_close(&loop), 0) << "the async handle was closed";
}

TEST(DispatcherTest, AWaiterIsReleasedWhenTheLoopClosesWithoutRunningItsWork) {
  LoopThread loop;
  absl::Notification blocked, release;
  loop.Start();
  // The loop is busy in this work while the waiter's work queues behind it.
  ASSERT_TRUE(loop.dispatcher().Post([&] {
    blocked.Notify();
    release.WaitForNotification();
    loop.StopOnLoop();
  }));
  blocked.WaitForNotification();
  std::atomic<bool> ran{false};
  std::thread waiter([&] {
    EXPECT_FALSE(loop.dispatcher().PostAndWait([&] { ran = true; }));
  });
  release.Notify();
  waiter.join();
  EXPECT_FALSE(ran);
  loop.Finish();
}

TEST(DispatcherTest, PostAndWaitTimesOutOnABusyLoop) {
  LoopThread loop;
  absl::Notification release;
  loop.Start();
  ASSERT_TRUE(loop.dispatcher().Post([&] { release.WaitForNotification(); }));
  auto ran = std::make_shared<std::atomic<bool>>(false);
  EXPECT_FALSE(loop.dispatcher().PostAndWait([ran] { *ran = true; },
                                             absl::Milliseconds(50)));
  release.Notify();
  // It still runs later, owning what it touches.
  ASSERT_TRUE(loop.dispatcher().PostAndWait([] {}));
  EXPECT_TRUE(*ran);
  loop.Finish();
}

}  // namespace
}  // namespace cascade::relay
