// The controller's side of stream keys (stream_keys.h): it makes each
// stream's keys (downstream and upstream) on its own schedule and hands out
// the durable ones.
#include <glog/logging.h>

#include "topology/controller.h"
#include "topology/stream_keys.h"

namespace cascade::topology {

void Controller::KeyStreamsLocked(absl::Time now) {
  if (options_.stream_key_rotation <= absl::ZeroDuration()) return;
  // The newest decided state: a rotation already queued is not due again.
  for (const std::string& stream :
       StreamsDueForKey(decided_, now, options_.stream_key_rotation)) {
    auto commit = std::make_unique<Commit>();
    commit->change.mutable_rotate_stream_key()->set_stream(stream);
    if (absl::Status decided = DecideLocked(&commit); !decided.ok()) {
      LOG_EVERY_N(WARNING, 100)
          << "stream \"" << stream << "\" gets no new key: " << decided;
    }
  }
}

void Controller::RefreshDecryptingRelaysLocked() {
  decrypting_relays_ = DecryptingRelays(state_.topology());
}

absl::StatusOr<cascade::v1::GetStreamKeysResponse> Controller::StreamKeys(
    absl::Span<const std::string> nodes) const {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<cascade::v1::GetStreamKeysResponse> keys =
      StreamKeysFor(state_, nodes);
  if (!keys.ok()) return keys.status();
  cascade::v1::GetStreamKeysResponse response = *std::move(keys);
  response.set_unix_ms(absl::ToUnixMillis(clock_->Now()));
  // Four polls within an overlap: a caller that misses one still has the
  // key well before it is used.
  response.set_poll_interval_ms(
      absl::ToInt64Milliseconds(options_.stream_key_overlap / 4));
  return response;
}

}  // namespace cascade::topology
