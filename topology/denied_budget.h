// How many of one node's RelayControl refusals become events: a relay
// retrying with the wrong certificate (misconfigured, or someone claiming
// it) would otherwise put a KIND_DENIED event on every subscriber's feed at
// its retry rate. A token bucket per claimed node; the refusals beyond it
// are counted and the next event shown says how many were left out.
#ifndef CASCADE_TOPOLOGY_DENIED_BUDGET_H_
#define CASCADE_TOPOLOGY_DENIED_BUDGET_H_

#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "base/token_bucket.h"

namespace cascade::topology {

class DeniedBudget {
 public:
  // `per_second` events per node, in bursts of `burst`, on `clock` (null:
  // the system's).
  DeniedBudget(const Clock* clock, double per_second, double burst);

  // Whether this refusal of `node_id` (the node the caller claimed; empty
  // for none) is shown now. If it is, `*not_shown` gets the node's refusals
  // left out since the last one shown.
  bool Allow(absl::string_view node_id, uint64_t* not_shown);

  // Refusals left out in all, since the start.
  uint64_t not_shown_total() const;

 private:
  struct Budget {
    TokenBucket events;
    uint64_t not_shown = 0;
    absl::Time last;
  };

  const SystemClock system_clock_;
  const Clock* const clock_;
  const double per_second_;
  const double burst_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Budget> budgets_ ABSL_GUARDED_BY(mu_);
  uint64_t not_shown_total_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace cascade::topology

#endif  // CASCADE_TOPOLOGY_DENIED_BUDGET_H_
