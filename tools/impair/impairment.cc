#include "tools/impair/impairment.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace cascade {
namespace {

absl::Status CheckProbability(const char* name, double value) {
  if (!(value >= 0 && value <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " must be a probability in [0, 1], got ", value));
  }
  return absl::OkStatus();
}

absl::Status CheckDuration(const char* name, absl::Duration value) {
  if (value < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, " must not be negative, got ", absl::FormatDuration(value)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateImpairment(const ImpairmentOptions& options) {
  for (const auto& [name, value] :
       {std::pair<const char*, double>{"loss", options.loss},
        {"burst_enter", options.burst_enter},
        {"burst_exit", options.burst_exit},
        {"reorder", options.reorder},
        {"duplicate", options.duplicate}}) {
    if (absl::Status status = CheckProbability(name, value); !status.ok()) {
      return status;
    }
  }
  if (options.burst_enter > 0 && options.burst_exit == 0) {
    return absl::InvalidArgumentError(
        "burst_exit must be above 0 when bursts are on (a burst must end)");
  }
  for (const auto& [name, value] :
       {std::pair<const char*, absl::Duration>{"delay", options.delay},
        {"jitter", options.jitter},
        {"reorder_hold", options.reorder_hold}}) {
    if (absl::Status status = CheckDuration(name, value); !status.ok()) {
      return status;
    }
  }
  return absl::OkStatus();
}

Impairer::Impairer(const ImpairmentOptions& options, uint64_t seed)
    : options_(options), rng_(seed) {}

double Impairer::Uniform() {
  // The top 53 bits fill a double's mantissa exactly.
  return static_cast<double>(rng_() >> 11) * 0x1.0p-53;
}

Verdict Impairer::Next() {
  Verdict verdict;
  if (options_.burst_enter > 0) {
    bad_state_ = bad_state_ ? Uniform() >= options_.burst_exit
                            : Uniform() < options_.burst_enter;
  }
  verdict.lost = bad_state_ || (options_.loss > 0 && Uniform() < options_.loss);
  if (verdict.lost) return verdict;
  if (options_.duplicate > 0 && Uniform() < options_.duplicate) {
    verdict.copies = 2;
  }
  verdict.hold = options_.reorder > 0 && Uniform() < options_.reorder;
  verdict.delay = DrawDelay();
  return verdict;
}

absl::Duration Impairer::DrawDelay() {
  if (options_.jitter == absl::ZeroDuration()) return options_.delay;
  const absl::Duration offset = options_.jitter * (2 * Uniform() - 1);
  return std::max(absl::ZeroDuration(), options_.delay + offset);
}

}  // namespace cascade
