// Gap detection and NACK timing for one stream received from a parent: waits
// a little for reordering, retries a bounded number of times, then gives up.
#ifndef CASCADE_RELAY_NACK_TRACKER_H_
#define CASCADE_RELAY_NACK_TRACKER_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/time/time.h"

namespace cascade::relay {

struct NackTiming {
  absl::Duration reorder_wait = absl::Milliseconds(10);
  absl::Duration retry = absl::Milliseconds(40);
  int max_retries = 5;
  // A jump bigger than this is a restart of the stream, not a loss.
  // Both cover a failover: up to a whole ring of packets may be missing.
  int64_t max_gap = 4096;
  size_t max_pending = 4096;
};

class NackTracker {
 public:
  explicit NackTracker(const NackTiming& timing) : timing_(timing) {}

  // A packet arrived as extended `seq`. True when it filled a gap.
  bool OnPacket(int64_t seq, absl::Time now);
  // Asks for `seq` at the next Collect, e.g. for a child's NACK the ring cannot
  // answer. Ignored when it is already pending or newer than anything seen.
  void Request(int64_t seq, absl::Time now);
  // Appends to *due (sorted, at most `limit`) the sequence numbers to NACK
  // now, and schedules their next retry.
  void Collect(absl::Time now, size_t limit, std::vector<int64_t>* due);
  // The parent changed: every pending gap is asked again at once, with its
  // retries renewed, since the old parent may never have seen the requests.
  void RetryAll(absl::Time now);

  size_t pending() const { return pending_.size(); }
  uint64_t repaired() const { return repaired_; }
  uint64_t gave_up() const { return gave_up_; }
  uint64_t resets() const { return resets_; }

 private:
  struct Pending {
    absl::Time next;
    int retries = 0;
  };
  void Add(int64_t seq, absl::Time next);

  const NackTiming timing_;
  bool started_ = false;
  int64_t highest_ = 0;
  absl::btree_map<int64_t, Pending> pending_;
  uint64_t repaired_ = 0;
  uint64_t gave_up_ = 0;
  uint64_t resets_ = 0;
};

}  // namespace cascade::relay

#endif  // CASCADE_RELAY_NACK_TRACKER_H_
