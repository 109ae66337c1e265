// The one way into a libuv loop from another thread (as Envoy's dispatcher):
// Post() hands work to the loop's thread, which runs it in order. Cores,
// sockets and timers are touched by that thread only; the metrics server's
// thread and the controller link's threads post to it.
#ifndef CASCADE_RELAY_DISPATCHER_H_
#define CASCADE_RELAY_DISPATCHER_H_

#include <uv.h>

#include <functional>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/uv_handle.h"

namespace cascade::relay {

class Dispatcher {
 public:
  // On the loop's thread, before or while the loop runs.
  explicit Dispatcher(uv_loop_t* loop);
  // Closes if Close() was not called (loop thread).
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Any thread. Runs `work` on the loop's thread, after the work posted
  // before it; work posted before the loop runs waits for it. False, with
  // `work` destroyed unrun, once the dispatcher is closed. Every accepted
  // `work` is either run or, at Close(), destroyed unrun.
  bool Post(std::function<void()> work);
  // Any thread but the loop's: posts `work` and waits until it has run
  // (true), or until the dispatcher closed without running it or `timeout`
  // passed (false). After a timeout `work` may still run, so it must own
  // what it touches.
  bool PostAndWait(std::function<void()> work,
                   absl::Duration timeout = absl::InfiniteDuration());
  // Loop thread: no more work runs; what is pending is destroyed unrun.
  void Close();

 private:
  void RunPending();
  bool closed();

  absl::Mutex mu_;
  UvHandle<uv_async_t> async_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::function<void()>> pending_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cascade::relay

#endif  // CASCADE_RELAY_DISPATCHER_H_
