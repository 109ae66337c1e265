// topologyd under systemd's Type=notify protocol (base/service_notifier.h):
// READY=1 once its gRPC server serves, with a STATUS= line saying on which
// port and whether it leads or follows (updated as the election changes
// that); STOPPING=1 when it begins to shut down; and, while $WATCHDOG_USEC
// asks, WATCHDOG=1 at half that interval, each ping sent only once the
// controller's lock could be taken, so a controller stuck holding its lock
// (a hung Tick, recompute or commit) stops the pings and systemd restarts it.
#ifndef CASCADE_TOPOLOGY_SERVICE_NOTIFY_H_
#define CASCADE_TOPOLOGY_SERVICE_NOTIFY_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "base/service_notifier.h"
#include "topology/etcd/leader.h"
#include "topology/service.h"

namespace cascade::topology {

class ServiceNotify : public etcd::LeaderListener {
 public:
  // Says READY=1 now: call once `service` serves on `port`. `leading`: it
  // serves the state (journal), else it follows until the election says
  // otherwise (OnLeaderStatus). `service` must outlive this, and so must
  // the controller it leads with.
  ServiceNotify(ControllerService* service, int port, bool leading,
                std::unique_ptr<ServiceNotifier> notifier =
                    std::make_unique<SystemdNotifier>());
  ~ServiceNotify() override;
  ServiceNotify(const ServiceNotify&) = delete;
  ServiceNotify& operator=(const ServiceNotify&) = delete;

  // This, as the election's listener, passing every status on to `next`.
  etcd::LeaderListener* Leader(etcd::LeaderListener* next);
  void OnLeaderStatus(const etcd::LeaderStatus& status) override;
  // STOPPING=1, once; later leadership changes say nothing more.
  void Stopping();

 private:
  void Pinging(absl::Duration every);

  ControllerService* const service_;
  const int port_;
  const std::unique_ptr<ServiceNotifier> notifier_;
  etcd::LeaderListener* next_ = nullptr;
  absl::Mutex mu_;
  std::string status_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Notification stop_;
  std::thread watchdog_;
};

}  // namespace cascade::topology

#endif  // CASCADE_TOPOLOGY_SERVICE_NOTIFY_H_
