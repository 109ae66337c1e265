#include "base/service_notifier.h"

#include <glog/logging.h>
#include <systemd/sd-daemon.h>

#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"

namespace cascade {
namespace {

void Notify(const std::string& state) {
  // 0: no manager listens; below: the socket is there but refuses.
  if (sd_notify(0, state.c_str()) < 0) {
    LOG_FIRST_N(WARNING, 1) << "cannot notify the service manager";
  }
}

}  // namespace

SystemdNotifier::SystemdNotifier() {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    watchdog_interval_ = absl::Microseconds(static_cast<int64_t>(usec));
  }
}

void SystemdNotifier::Ready(absl::string_view status) {
  Notify(absl::StrCat("READY=1\nSTATUS=", status));
}

void SystemdNotifier::Status(absl::string_view status) {
  Notify(absl::StrCat("STATUS=", status));
}

void SystemdNotifier::Reloading() { Notify("RELOADING=1"); }

void SystemdNotifier::Stopping() { Notify("STOPPING=1"); }

void SystemdNotifier::Watchdog() { Notify("WATCHDOG=1"); }

}  // namespace cascade
