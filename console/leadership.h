// Whether this topologyd leads, for the console's feed (issue 22: leader
// changes in the feed). The controller emits no event when its process
// takes up leadership (the election in topology/main.cc does not tell it),
// so the console watches its own process: a follower's console refuses
// with the leader's address (503), and once this process leads, every new
// stream starts with a "leader" message saying since when and whom it
// took over from. A page that reconnects to the new leader thus shows the
// change. relayctl's feed (Admin Events) does not have it.
#ifndef CASCADE_CONSOLE_LEADERSHIP_H_
#define CASCADE_CONSOLE_LEADERSHIP_H_

#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/controller.pb.h"

namespace cascade::console {

struct Leadership {
  bool leading = false;
  // While following: the leader's admin address; empty when none is known.
  std::string leader;
};

class LeadershipWatch {
 public:
  using Probe = std::function<Leadership()>;

  // Probes every `every` on a thread of its own until destroyed; a null
  // `probe` starts none (Observe() by hand).
  LeadershipWatch(Probe probe, absl::Duration every);
  ~LeadershipWatch();
  LeadershipWatch(const LeadershipWatch&) = delete;
  LeadershipWatch& operator=(const LeadershipWatch&) = delete;

  // One probe's answer at `now`.
  void Observe(const Leadership& seen, absl::Time now);
  // While leading: the event a stream starts with (`unix_ms` when this
  // process began to lead, `detail` from whom it took over); none while
  // following.
  std::optional<cascade::v1::Event> Current() const;

 private:
  mutable absl::Mutex mu_;
  bool observed_ ABSL_GUARDED_BY(mu_) = false;
  bool leading_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time since_ ABSL_GUARDED_BY(mu_);
  // Whether it followed before leading, and the last leader it knew then.
  bool followed_ ABSL_GUARDED_BY(mu_) = false;
  std::string previous_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace cascade::console

#endif  // CASCADE_CONSOLE_LEADERSHIP_H_
