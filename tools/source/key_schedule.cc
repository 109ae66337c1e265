#include "tools/source/key_schedule.h"

#include <algorithm>
#include <utility>

namespace cascade {
namespace source {

void KeySchedule::Set(std::vector<ScheduledKey> keys) {
  absl::MutexLock lock(&mu_);
  keys_ = std::move(keys);
  version_.fetch_add(1);
}

std::optional<srtp::StreamKey> KeySchedule::Next(absl::Time now) {
  const uint64_t version = version_.load();
  if (version == seen_ && now < next_switch_) return std::nullopt;
  seen_ = version;
  absl::MutexLock lock(&mu_);
  const ScheduledKey* use = nullptr;
  next_switch_ = absl::InfiniteFuture();
  for (const ScheduledKey& key : keys_) {
    if (key.send_from > now) {
      next_switch_ = std::min(next_switch_, key.send_from);
    } else if (use == nullptr || key.send_from > use->send_from) {
      use = &key;
    }
  }
  if (use == nullptr) return std::nullopt;
  if (current_.has_value() && current_->id == use->key.id &&
      current_->material == use->key.material) {
    return std::nullopt;
  }
  current_ = use->key;
  return current_;
}

}  // namespace source
}  // namespace cascade
