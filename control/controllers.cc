#include "control/controllers.h"

#include <cstdint>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace cascade::control {

absl::StatusOr<std::vector<std::string>> ParseControllerList(
    absl::string_view list) {
  std::vector<std::string> controllers;
  for (absl::string_view entry : absl::StrSplit(list, ',')) {
    entry = absl::StripAsciiWhitespace(entry);
    if (entry.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("empty controller address in \"", list,
                       "\" (expected HOST:PORT[,HOST:PORT...])"));
    }
    controllers.emplace_back(entry);
  }
  return controllers;
}

Redirect RedirectOf(const grpc::ClientContext& context) {
  Redirect redirect;
  const auto& trailers = context.GetServerTrailingMetadata();
  auto it = trailers.find(kLeaderMetadata);
  if (it == trailers.end()) return redirect;
  redirect.not_leader = true;
  redirect.leader = std::string(it->second.data(), it->second.size());
  return redirect;
}

absl::Duration RetryAfterOf(const grpc::ClientContext& context) {
  const auto& trailers = context.GetServerTrailingMetadata();
  auto it = trailers.find(kRetryAfterMetadata);
  int64_t ms = 0;
  if (it == trailers.end() ||
      !absl::SimpleAtoi(absl::string_view(it->second.data(), it->second.size()),
                        &ms) ||
      ms <= 0) {
    return absl::ZeroDuration();
  }
  return absl::Milliseconds(ms);
}

ControllerTargets::ControllerTargets(std::vector<std::string> controllers)
    : controllers_(std::move(controllers)) {}

const std::string& ControllerTargets::current() const {
  return redirect_.empty() ? controllers_[position_] : redirect_;
}

bool ControllerTargets::Failed(const std::string& leader) {
  if (!leader.empty() && !redirected_ && leader != current()) {
    redirect_ = leader;
    redirected_ = true;
    return false;
  }
  redirect_.clear();
  redirected_ = false;
  position_ = (position_ + 1) % controllers_.size();
  if (++failures_ < controllers_.size()) return false;
  failures_ = 0;
  return true;
}

void ControllerTargets::Succeeded() {
  failures_ = 0;
  // The controller answered: a redirect it gives later is news, to follow.
  redirected_ = false;
}

}  // namespace cascade::control
