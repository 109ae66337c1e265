// What a daemon (relayd, topologyd) tells the service manager that started
// it, systemd's Type=notify protocol (sd_notify(3), through Debian's
// libsystemd): READY=1 once it serves, RELOADING=1 around a reload,
// STOPPING=1 at the end, and WATCHDOG=1 from the daemon's own work loop while
// the manager asks for it ($WATCHDOG_USEC), so a hung loop gets the process
// restarted. Without $NOTIFY_SOCKET every call does nothing.
#ifndef CASCADE_BASE_SERVICE_NOTIFIER_H_
#define CASCADE_BASE_SERVICE_NOTIFIER_H_

#include <optional>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace cascade {

class ServiceNotifier {
 public:
  virtual ~ServiceNotifier() = default;
  // `status` is the one line `systemctl status` shows.
  virtual void Ready(absl::string_view status) = 0;
  // A new status line, while serving.
  virtual void Status(absl::string_view status) = 0;
  virtual void Reloading() = 0;
  virtual void Stopping() = 0;
  virtual void Watchdog() = 0;
  // How often Watchdog() must come, when the manager watches.
  virtual std::optional<absl::Duration> watchdog_interval() const = 0;
};

// The manager of this process, as its environment names it.
class SystemdNotifier : public ServiceNotifier {
 public:
  SystemdNotifier();
  void Ready(absl::string_view status) override;
  void Status(absl::string_view status) override;
  void Reloading() override;
  void Stopping() override;
  void Watchdog() override;
  std::optional<absl::Duration> watchdog_interval() const override {
    return watchdog_interval_;
  }

 private:
  std::optional<absl::Duration> watchdog_interval_;
};

}  // namespace cascade

#endif  // CASCADE_BASE_SERVICE_NOTIFIER_H_
