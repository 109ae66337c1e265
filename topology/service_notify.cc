#include "topology/service_notify.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "topology/controller.h"

namespace cascade::topology {
namespace {

std::string Role(bool leading, const std::string& leader) {
  if (leading) return "leading";
  return leader.empty() ? "following" : absl::StrCat("following ", leader);
}

std::string Status(const std::string& role, int port) {
  return absl::StrCat(role, ", serving on port ", port);
}

}  // namespace

ServiceNotify::ServiceNotify(ControllerService* service, int port, bool leading,
                             std::unique_ptr<ServiceNotifier> notifier)
    : service_(service), port_(port), notifier_(std::move(notifier)) {
  status_ = Status(Role(leading, ""), port_);
  notifier_->Ready(status_);
  if (std::optional<absl::Duration> interval = notifier_->watchdog_interval()) {
    watchdog_ = std::thread([this, every = *interval / 2] { Pinging(every); });
  }
}

ServiceNotify::~ServiceNotify() {
  stop_.Notify();
  if (watchdog_.joinable()) watchdog_.join();
}

void ServiceNotify::Pinging(absl::Duration every) {
  while (!stop_.WaitForNotificationWithTimeout(every)) {
    // Takes the controller's lock (none to take while following): a ping
    // says that the controller's next tick and calls can run.
    if (Controller* controller = service_->controller()) {
      controller->Sequence();
    }
    notifier_->Watchdog();
  }
}

etcd::LeaderListener* ServiceNotify::Leader(etcd::LeaderListener* next) {
  next_ = next;
  return this;
}

void ServiceNotify::OnLeaderStatus(const etcd::LeaderStatus& status) {
  {
    absl::MutexLock lock(&mu_);
    std::string now = Status(Role(status.leading, status.leader), port_);
    if (!stopping_ && now != status_) {
      status_ = std::move(now);
      notifier_->Status(status_);
    }
  }
  if (next_ != nullptr) next_->OnLeaderStatus(status);
}

void ServiceNotify::Stopping() {
  absl::MutexLock lock(&mu_);
  if (stopping_) return;
  stopping_ = true;
  notifier_->Stopping();
}

}  // namespace cascade::topology
