// When a child asks its parent for missing packets (RFC 4585 generic NACK):
// relayd toward its parent and every site toward its relay use this one
// schedule.
//
// A gap is requested after a short reordering wait, then again after
// doubling intervals, a bounded number of times, and never once the parent's
// retransmission ring can no longer hold it. Requests are paced within what
// the parent answers (the parent's per-child token bucket), oldest first,
// and retries wait while repairs are still arriving, so a failover's large
// gap is asked for once rather than again while its answers are on the way.
// Memory is bounded: past max_pending missing packets the oldest are
// forgotten.
#ifndef CASCADE_CHILD_NACK_SCHEDULER_H_
#define CASCADE_CHILD_NACK_SCHEDULER_H_

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/time/time.h"
#include "base/token_bucket.h"

namespace cascade::child {

struct NackOptions {
  absl::Duration reorder_wait = absl::Milliseconds(5);
  // The wait before the first retry; each later one waits twice as long as
  // the one before (60, 120, 240, 480 ms), and every retry also waits
  // retry_interval after the latest repair.
  absl::Duration retry_interval = absl::Milliseconds(60);
  // Requests sent per missing packet. Five doubling intervals keep a child
  // asking for about 0.9 s: a relay that lacks the packet too asks its own
  // parent first (coalescing its children's requests) and forwards the
  // answer to every child, and that copy can be lost as well. With three
  // requests 60 ms apart, a site on a loaded national run had stopped asking
  // before its district had the packet (2-16 sites lost one in the 1% loss
  // phase); a slow (satellite) link needs the longer horizon too.
  int max_requests = 5;
  // A packet missing this long is given up: a relay's retransmission ring
  // keeps about 2 s, so asking later only sends the request further up.
  absl::Duration give_up_after = absl::Seconds(2);
  // Both cover a failover: up to a relay's whole ring (4096 packets) may be
  // missing. A bigger jump is a restart of the stream, not loss.
  size_t max_pending = 4096;
  int64_t max_gap = 4096;
  // Sequence numbers requested per second, retries included, in bursts of
  // up to max_burst. Within relayd's per-child retransmission limit (500/s,
  // bursts of 2,000), so the parent answers every request it gets.
  double max_rate = 450;
  double max_burst = 2000;
};

class NackScheduler {
 public:
  explicit NackScheduler(const NackOptions& options = {});

  // Records an arrived packet (extended sequence number). True when it
  // filled a gap that was being asked for.
  bool OnPacket(int64_t ext_seq, absl::Time now);
  // Asks for `ext_seq` at once, e.g. for a child's NACK a relay's ring
  // cannot answer. Ignored when already pending, newer than anything seen,
  // or older than max_gap.
  void Request(int64_t ext_seq, absl::Time now);
  // Appends to *due the sequence numbers to request now, oldest first,
  // within the pace and at most `limit`; the rest waits for a later call.
  void TakeDue(absl::Time now, std::vector<int64_t>* due,
               size_t limit = std::numeric_limits<size_t>::max());
  // The parent changed: everything still missing is due at once, with its
  // requests renewed (the old parent may never have answered them).
  void RetryAll(absl::Time now);

  size_t pending() const { return pending_.size(); }
  uint64_t repaired() const { return repaired_; }
  // Missing packets no longer asked for: requests used up, too old for the
  // parent's ring, or over max_pending.
  uint64_t gave_up() const { return gave_up_; }
  // Jumps past max_gap, taken as a restart of the stream.
  uint64_t resets() const { return resets_; }
  // The stream's numbering starts afresh (its source renumbered it):
  // nothing is missing, the next packet is the first.
  void Restart();

 private:
  struct Missing {
    absl::Time detected;
    absl::Time next_request;
    int requests = 0;
  };

  void Add(int64_t ext_seq, absl::Time now, absl::Time first_request);

  const NackOptions options_;
  TokenBucket pace_;
  std::optional<int64_t> highest_;
  absl::btree_map<int64_t, Missing> pending_;
  absl::Time last_repair_ = absl::InfinitePast();
  uint64_t repaired_ = 0;
  uint64_t gave_up_ = 0;
  uint64_t resets_ = 0;
};

}  // namespace cascade::child

#endif  // CASCADE_CHILD_NACK_SCHEDULER_H_
