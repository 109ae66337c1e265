#include "base/uv_handle.h"

#include <gtest/gtest.h>

namespace cascade {
namespace {

TEST(UvHandleTest, ClosedWhenTheOwnerGoesAndFreedByTheLoop) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  int fired = 0;
  {
    UvHandle<uv_timer_t> timer = UvHandle<uv_timer_t>::Make();
    uv_timer_init(&loop, timer.get());
    timer.get()->data = &fired;
    uv_timer_start(
        timer.get(), [](uv_timer_t* t) { ++*static_cast<int*>(t->data); }, 0,
        0);
    UvHandle<uv_timer_t> moved = std::move(timer);
    EXPECT_FALSE(timer);
    EXPECT_TRUE(moved);
  }
  // Closed before it could fire; the loop frees it and has nothing left.
  uv_run(&loop, UV_RUN_DEFAULT);
  EXPECT_EQ(fired, 0);
  EXPECT_EQ(uv_loop_close(&loop), 0);
}

TEST(UvHandleTest, ResetClosesAtOnceAndTwiceIsHarmless) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  UvHandle<uv_async_t> async = UvHandle<uv_async_t>::Make();
  uv_async_init(&loop, async.get(), [](uv_async_t*) {});
  async.Reset();
  async.Reset();
  EXPECT_FALSE(async);
  uv_run(&loop, UV_RUN_DEFAULT);
  EXPECT_EQ(uv_loop_close(&loop), 0);
}

}  // namespace
}  // namespace cascade
