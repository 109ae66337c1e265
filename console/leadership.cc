#include "console/leadership.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace cascade::console {

LeadershipWatch::LeadershipWatch(Probe probe, absl::Duration every) {
  if (probe == nullptr) return;
  Observe(probe(), absl::Now());
  thread_ = std::thread([this, probe = std::move(probe), every] {
    auto stopping = [this]()
                        ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stopping_; };
    for (;;) {
      {
        absl::MutexLock lock(&mu_);
        if (mu_.AwaitWithTimeout(absl::Condition(&stopping), every)) return;
      }
      Observe(probe(), absl::Now());
    }
  });
}

LeadershipWatch::~LeadershipWatch() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void LeadershipWatch::Observe(const Leadership& seen, absl::Time now) {
  absl::MutexLock lock(&mu_);
  if (!seen.leading) {
    followed_ = true;
    if (!seen.leader.empty()) previous_ = seen.leader;
  } else if (!leading_ || !observed_) {
    since_ = now;
  }
  leading_ = seen.leading;
  observed_ = true;
}

std::optional<cascade::v1::Event> LeadershipWatch::Current() const {
  absl::MutexLock lock(&mu_);
  if (!observed_ || !leading_) return std::nullopt;
  cascade::v1::Event event;
  event.set_unix_ms(absl::ToUnixMillis(since_));
  if (!followed_) {
    event.set_detail("this controller leads since it started");
  } else {
    event.set_detail(absl::StrCat("this controller took over the lead",
                                  previous_.empty()
                                      ? " (no leader was known before)"
                                      : absl::StrCat(" from ", previous_)));
  }
  return event;
}

}  // namespace cascade::console
