#ifndef CASCADE_TOOLS_SOURCE_KEY_SCHEDULE_H_
#define CASCADE_TOOLS_SOURCE_KEY_SCHEDULE_H_

// The stream keys a source is given with when it may start to use each
// (topologyd's: the newest whose send_from has passed is the one to send
// under), and which key a packet sent at a given time goes under.

#include <atomic>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "media/srtp/keys.h"

namespace cascade {
namespace source {

// A stream key and when the source may start to use it.
struct ScheduledKey {
  srtp::StreamKey key;
  absl::Time send_from;
};

class KeySchedule {
 public:
  // Replaces the keys; safe from any thread.
  void Set(std::vector<ScheduledKey> keys);

  // For a packet sent at `now` (the sending thread only): the key to move
  // to when it is not the one last returned, i.e. the newest key whose
  // send_from has passed (the first listed wins a tie). Nothing while that
  // key stays the same, and nothing when no key is usable (none given yet,
  // or the keys were taken away: the caller keeps the one it has). Takes
  // no lock unless the keys changed or the next key's time came.
  std::optional<srtp::StreamKey> Next(absl::Time now);

 private:
  absl::Mutex mu_;
  std::vector<ScheduledKey> keys_ ABSL_GUARDED_BY(mu_);
  // Set's calls, so Next looks at the keys only when they changed.
  std::atomic<uint64_t> version_{0};
  // The sending thread's: the version it looked at, when the next key
  // starts, the key it returned last.
  uint64_t seen_ = 0;
  absl::Time next_switch_ = absl::InfinitePast();
  std::optional<srtp::StreamKey> current_;
};

}  // namespace source
}  // namespace cascade

#endif  // CASCADE_TOOLS_SOURCE_KEY_SCHEDULE_H_
