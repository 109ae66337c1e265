#ifndef CASCADE_TOOLS_IMPAIR_IMPAIRMENT_H_
#define CASCADE_TOOLS_IMPAIR_IMPAIRMENT_H_

#include <cstdint>
#include <random>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace cascade {

// What one direction of the proxy does to the datagrams it carries. The
// defaults pass everything through unchanged and at once.
struct ImpairmentOptions {
  // Independent loss probability (in the good state when bursts are on).
  double loss = 0;
  // Gilbert-Elliott bursts: from the good state the channel enters the bad
  // state with probability burst_enter per datagram and leaves it with
  // probability burst_exit; every datagram in the bad state is lost. Mean
  // burst length is 1 / burst_exit datagrams. burst_enter = 0 disables bursts.
  double burst_enter = 0;
  double burst_exit = 1;
  // Each datagram waits delay plus a uniform offset in [-jitter, +jitter]
  // (never less than zero); jitter alone can reorder datagrams.
  absl::Duration delay = absl::ZeroDuration();
  absl::Duration jitter = absl::ZeroDuration();
  // Probability that a datagram is held back and sent right after the next
  // one of its direction (or after reorder_hold if none comes).
  double reorder = 0;
  absl::Duration reorder_hold = absl::Milliseconds(50);
  // Probability that a datagram is sent twice.
  double duplicate = 0;
};

// Checks ranges: probabilities in [0, 1], burst_exit > 0 when bursts are on,
// non-negative durations. The message names the offending field.
absl::Status ValidateImpairment(const ImpairmentOptions& options);

// The fate of one datagram.
struct Verdict {
  bool lost = false;
  int copies = 1;        // 2 when duplicated
  bool hold = false;     // held back for reordering
  absl::Duration delay;  // before it is sent (each copy gets its own draw)
};

// Draws verdicts for one direction from a seeded generator, so a run with the
// same seed and the same datagram order makes the same decisions.
class Impairer {
 public:
  Impairer(const ImpairmentOptions& options, uint64_t seed);

  Verdict Next();
  // Delay for one copy of a datagram.
  absl::Duration DrawDelay();

 private:
  // Uniform in [0, 1).
  double Uniform();

  ImpairmentOptions options_;
  std::mt19937_64 rng_;
  bool bad_state_ = false;
};

}  // namespace cascade

#endif  // CASCADE_TOOLS_IMPAIR_IMPAIRMENT_H_
