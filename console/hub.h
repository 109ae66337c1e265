// What the console's streams share: one snapshot of the tree per tick
// (every 500 ms while a stream is open, less often when a tick takes more
// than a tenth of that; and each GET /tree or new stream's own snapshot),
// turned into the whole tree and the delta since the tick before
// (tree_tracker.h), printed as JSON once for every stream. A stream that
// has seen the previous tick gets the delta; one that has seen none, or
// fell further behind, gets the whole tree: so a slow page costs at most
// one tree per tick, never a backlog. Each stream also has its own
// bounded queue of controller events (its Admin Events call).
#ifndef CASCADE_CONSOLE_HUB_H_
#define CASCADE_CONSOLE_HUB_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "console/tree_tracker.h"
#include "proto/console.pb.h"
#include "proto/controller.pb.h"

namespace cascade::console {

// One server-sent event: its type ("tree", "delta", "event") and data.
struct StreamMessage {
  std::string type;
  std::shared_ptr<const std::string> data;
};

class Hub {
 public:
  using Snapshot =
      std::function<absl::StatusOr<cascade::v1::GetTopologyResponse>()>;

  // `snapshot` reads the controller's tree (Unavailable while following).
  Hub(Snapshot snapshot, absl::Duration interval);
  // Stop()s.
  ~Hub();

  class Subscription {
   public:
    ~Subscription();
    // A controller event for this stream; the oldest is dropped past
    // kEventBacklog (the page is told how many with the next one).
    void PushEvent(const cascade::v1::Event& event);
    // Waits up to `timeout` for a tick this stream has not seen or an
    // event, and appends them to `out` (nothing: nothing came). False once
    // the hub stopped.
    bool Next(absl::Duration timeout, std::vector<StreamMessage>* out);

   private:
    friend class Hub;
    explicit Subscription(Hub* hub) : hub_(hub) {}
    Hub* const hub_;
    uint64_t version_ = 0;  // the hub's tick it has seen; 0: none
    std::deque<std::shared_ptr<const std::string>> events_;
    uint64_t dropped_ = 0;
  };

  // Ticks run while at least one subscription lives.
  std::unique_ptr<Subscription> Subscribe();
  // The whole tree as JSON, as of the last tick; null before the first.
  std::shared_ptr<const std::string> Tree();
  // A tick: takes a snapshot now (the thread's).
  absl::Status Tick(absl::Time now);
  // A tick on a snapshot taken by the caller (a request's own GetTopology
  // through the Admin service).
  void Apply(const cascade::v1::GetTopologyResponse& topology, absl::Time now);
  // Ends the ticks and wakes every Next.
  void Stop();

  static constexpr size_t kEventBacklog = 1000;
  // A tick (its snapshot under the controller's lock, then the diff) takes
  // at most a tenth of the time: ticks are spaced by at least 10 times
  // the last one's duration.
  static constexpr int kTickShareInverse = 10;

 private:
  void Run();
  std::shared_ptr<const std::string> TreeJsonLocked()
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Snapshot snapshot_;
  const absl::Duration interval_;

  // Serializes ticks: the tracker is theirs.
  absl::Mutex tick_mu_;
  TreeTracker tracker_ ABSL_GUARDED_BY(tick_mu_);

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int subscribers_ ABSL_GUARDED_BY(mu_) = 0;
  // Bumped by each tick that changed something.
  uint64_t version_ ABSL_GUARDED_BY(mu_) = 0;
  bool have_tree_ ABSL_GUARDED_BY(mu_) = false;
  cascade::v1::ConsoleTree tree_ ABSL_GUARDED_BY(mu_);
  // Printed lazily, once per tick; null until then.
  std::shared_ptr<const std::string> tree_json_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const std::string> delta_json_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace cascade::console

#endif  // CASCADE_CONSOLE_HUB_H_
