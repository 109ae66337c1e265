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

std::shared_ptr<grpc::Channel> ControllerChannel(
    const std::string& controller,
    std::shared_ptr<grpc::ChannelCredentials> credentials,
    absl::Duration min_backoff, absl::Duration max_backoff) {
  // Not GRPC_ARG_MIN_RECONNECT_BACKOFF_MS: gRPC takes it as the connect
  // timeout, and at 100 ms the handshakes with a controller that hundreds of
  // relays reach at once were cut off for seconds.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
              static_cast<int>(absl::ToInt64Milliseconds(min_backoff)));
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
              static_cast<int>(absl::ToInt64Milliseconds(max_backoff)));
  args.SetInt(
      GRPC_ARG_KEEPALIVE_TIME_MS,
      static_cast<int>(absl::ToInt64Milliseconds(kControllerKeepalive)));
  args.SetInt(
      GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
      static_cast<int>(absl::ToInt64Milliseconds(kControllerKeepaliveTimeout)));
  return grpc::CreateCustomChannel(controller,
                                   credentials != nullptr
                                       ? std::move(credentials)
                                       : grpc::InsecureChannelCredentials(),
                                   args);
}

absl::Status FromGrpc(const grpc::Status& status, absl::string_view what) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat(what, ": ", status.error_message()));
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
