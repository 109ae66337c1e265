#include "relay/dispatcher.h"

#include <memory>
#include <utility>

namespace cascade::relay {
namespace {

// What a thread waiting in PostAndWait learns: whether the work ran, and
// that the posted function is gone (run or destroyed unrun), so no answer
// will come any more.
struct Completion {
  absl::Mutex mu;
  bool ran ABSL_GUARDED_BY(mu) = false;
  bool gone ABSL_GUARDED_BY(mu) = false;
};

// Owned by the posted function only: its destruction, whether after the
// run or unrun at Close(), tells the waiter.
class GoneOnDestruction {
 public:
  explicit GoneOnDestruction(std::shared_ptr<Completion> completion)
      : completion_(std::move(completion)) {}
  ~GoneOnDestruction() {
    absl::MutexLock lock(&completion_->mu);
    completion_->gone = true;
  }

 private:
  std::shared_ptr<Completion> completion_;
};

}  // namespace

Dispatcher::Dispatcher(uv_loop_t* loop) {
  absl::MutexLock lock(&mu_);
  async_ = UvHandle<uv_async_t>::Make();
  uv_async_init(loop, async_.get(), [](uv_async_t* handle) {
    if (handle->data != nullptr) {
      static_cast<Dispatcher*>(handle->data)->RunPending();
    }
  });
  async_.get()->data = this;
}

Dispatcher::~Dispatcher() { Close(); }

bool Dispatcher::Post(std::function<void()> work) {
  absl::MutexLock lock(&mu_);
  if (closed_) return false;
  pending_.push_back(std::move(work));
  // Thread-safe and coalesced (one wakeup runs everything pending); under
  // the lock, so it never races Close() freeing the handle.
  uv_async_send(async_.get());
  return true;
}

bool Dispatcher::PostAndWait(std::function<void()> work,
                             absl::Duration timeout) {
  auto completion = std::make_shared<Completion>();
  auto gone = std::make_shared<GoneOnDestruction>(completion);
  const bool posted = Post([work = std::move(work), completion, gone] {
    work();
    absl::MutexLock lock(&completion->mu);
    completion->ran = true;
  });
  gone.reset();  // only the posted function holds it now
  if (!posted) return false;
  absl::MutexLock lock(&completion->mu);
  completion->mu.AwaitWithTimeout(absl::Condition(&completion->gone), timeout);
  return completion->ran;
}

void Dispatcher::RunPending() {
  std::vector<std::function<void()>> work;
  {
    absl::MutexLock lock(&mu_);
    work.swap(pending_);
  }
  for (std::function<void()>& w : work) {
    // Closed by earlier work (a stop): the rest is dropped, unrun.
    if (closed()) break;
    w();
    w = nullptr;  // destroyed now: a waiter learns at once
  }
}

bool Dispatcher::closed() {
  absl::MutexLock lock(&mu_);
  return closed_;
}

void Dispatcher::Close() {
  std::vector<std::function<void()>> dropped;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    closed_ = true;
    dropped.swap(pending_);
    async_.Reset();
  }
  dropped.clear();  // outside the lock: waiters are told as each goes
}

}  // namespace cascade::relay
