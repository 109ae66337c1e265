// The relayd processes of a run: starts them in waves, knows where each
// relay serves its metrics, starts a killed relay again, and reads the
// relays' counters.
#ifndef CASCADE_TOOLS_SIM_RELAY_PROCESSES_H_
#define CASCADE_TOOLS_SIM_RELAY_PROCESSES_H_

#include <atomic>
#include <map>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tools/sim/network_plan.h"
#include "tools/sim/process_layout.h"
#include "tools/sim/sim_pki.h"
#include "tools/sim/supervisor.h"

namespace cascade::sim {

struct RelayProcessOptions {
  std::string relayd;  // the binary
  std::string out_dir;
  // relayd --controller (every controller's address); empty: standalone,
  // each relay on a config file generated from the plan.
  std::string controllers;
  absl::Duration parent_timeout;
  absl::Duration keepalive;
  // How long a wave of processes may take to bind.
  absl::Duration startup_timeout = absl::Seconds(60);
  const std::atomic<bool>* interrupted = nullptr;
  // With controllers: each relay presents its own certificate.
  SimPki pki{""};
};

class RelayProcesses {
 public:
  // `layout` and `supervisor` must outlive this; revivals count up the
  // layout's generations.
  RelayProcesses(const NetworkPlan& plan, ProcessLayout* layout,
                 const RelayProcessOptions& options, Supervisor* supervisor);

  // Every relayd process, in waves, each wave bound before the next.
  absl::Status StartAll();
  // Starts the process of `relay_id` (alone in it) again and waits until
  // it has bound.
  absl::Status Revive(const std::string& relay_id);

  // The supervisor's name of the process that runs `relay_id`.
  std::string ProcessOf(const std::string& relay_id) const;
  // The relay's Prometheus text.
  absl::StatusOr<std::string> Metrics(const std::string& relay_id,
                                      absl::Duration timeout);
  // Per running relay, how often it has failed over or moved to another
  // parent so far; relays whose page cannot be read are left out.
  absl::flat_hash_map<std::string, int64_t> ParentChanges();
  // At the end: every running relay's metrics into OUT/metrics/ID.prom, the
  // report's counters summed into `sums` and its parent changes into
  // `parent_changes`; a page that cannot be read is a problem.
  void CollectFinalMetrics(
      std::map<std::string, double>* sums,
      absl::flat_hash_map<std::string, int64_t>* parent_changes,
      std::vector<std::string>* problems);

 private:
  // Where a relay serves its Prometheus text.
  struct MetricsPage {
    std::string address;
    std::string path;
  };

  std::string Out(const std::string& relative) const;
  absl::Status Start(const RelayProcessGroup& group);
  // Once the group's process has bound: where each of its relays serves
  // its metrics.
  absl::Status WaitBound(const RelayProcessGroup& group, absl::Time deadline);

  const NetworkPlan& plan_;
  ProcessLayout* layout_;
  const RelayProcessOptions options_;
  Supervisor* supervisor_;
  absl::flat_hash_map<std::string, MetricsPage> metrics_;
};

}  // namespace cascade::sim

#endif  // CASCADE_TOOLS_SIM_RELAY_PROCESSES_H_
