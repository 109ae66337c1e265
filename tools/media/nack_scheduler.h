#ifndef CASCADE_TOOLS_MEDIA_NACK_SCHEDULER_H_
#define CASCADE_TOOLS_MEDIA_NACK_SCHEDULER_H_

// Decides when a receiver asks for missing packets (RFC 4585 generic NACK):
// a gap is requested after a short reordering wait, then again every retry
// interval, a bounded number of times. Memory is bounded: past max_pending
// missing packets the oldest are forgotten.

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "absl/time/time.h"

namespace cascade {
namespace media {

struct NackOptions {
  absl::Duration reorder_wait = absl::Milliseconds(5);
  absl::Duration retry_interval = absl::Milliseconds(60);
  int max_requests = 3;
  size_t max_pending = 1024;
  // A jump this large is a restart of the stream, not loss: no requests.
  int64_t max_gap = 1000;
};

class NackScheduler {
 public:
  explicit NackScheduler(NackOptions options = {}) : options_(options) {}

  // Records an arrived packet (extended sequence number).
  void OnPacket(int64_t ext_seq, absl::Time now);
  // Sequence numbers to request now, oldest first.
  std::vector<int64_t> TakeDue(absl::Time now);

  size_t pending() const { return pending_.size(); }

 private:
  struct Missing {
    absl::Time next_request;
    int requests = 0;
  };

  NackOptions options_;
  std::optional<int64_t> highest_;
  std::map<int64_t, Missing> pending_;
};

}  // namespace media
}  // namespace cascade

#endif  // CASCADE_TOOLS_MEDIA_NACK_SCHEDULER_H_
