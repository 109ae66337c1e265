// The simulation's processes by name, each with its log and kind, on
// base/subprocess. Every child dies with the supervisor (PR_SET_PDEATHSIG),
// so not even a kill -9 of the simulation leaves a relay running.
#ifndef CASCADE_TOOLS_SIM_SUPERVISOR_H_
#define CASCADE_TOOLS_SIM_SUPERVISOR_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/subprocess.h"

namespace cascade::sim {

// CPU and peak memory of the processes of one kind (relayd, relay-probe...).
struct KindUsage {
  int processes = 0;
  double cpu_seconds = 0;        // user + system, summed
  double peak_rss_mb_max = 0;    // the largest single process
  double peak_rss_mb_total = 0;  // summed over the processes
};

// A process that ended by itself (not through Kill, Stop or Wait).
struct Ended {
  std::string name;
  std::string kind;
  // Its exit code, or 128 + the signal that ended it.
  int code = 0;
  // "NAME exited with code N" or "NAME killed by signal N".
  std::string description;
};

class Supervisor {
 public:
  Supervisor() = default;
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;
  // Stops whatever is still running.
  ~Supervisor();

  // Starts `argv` (argv[0] a path) as process `name` of kind `kind`, its
  // stdout and stderr appended to `log_path`. Names are unique.
  absl::Status Start(const std::string& name, const std::string& kind,
                     const std::vector<std::string>& argv,
                     const std::string& log_path);

  // Sends `signal` to a running process; NotFound when it is not running.
  absl::Status Signal(const std::string& name, int signal);
  // Sends SIGKILL and reaps it, recording its usage.
  absl::Status Kill(const std::string& name);
  // SIGTERM, then SIGKILL after `grace`; reaps it. OK if already gone.
  absl::Status Stop(const std::string& name, absl::Duration grace);
  // Stops every process: SIGTERM to all, SIGKILL to what is left after
  // `grace`.
  void StopAll(absl::Duration grace);

  bool Running(const std::string& name);
  // Reaps processes that exited by themselves; returns each once (also when
  // Running() noticed it first).
  std::vector<Ended> ReapExited();
  // Waits up to `timeout` for `name` to exit by itself; its exit code, or
  // DeadlineExceeded.
  absl::StatusOr<int> Wait(const std::string& name, absl::Duration timeout);

  // Usage per kind of every process reaped so far plus the running ones.
  absl::flat_hash_map<std::string, KindUsage> UsageByKind();

 private:
  struct Child {
    std::string kind;
    std::unique_ptr<Subprocess> process;
    bool running = false;
    // Ended by itself and not yet returned by ReapExited().
    bool unreported = false;
    double cpu_seconds = 0;
    double peak_rss_mb = 0;
  };
  // Reads a running child's usage so far from /proc.
  static void Sample(Child* child);
  // Notes that the child has ended, with the kernel's account of its usage;
  // false while it runs.
  static bool HasEnded(Child* child);
  // Its exit code, or 128 + the signal that ended it.
  static int Code(const Child& child);

  absl::flat_hash_map<std::string, Child> children_;
};

}  // namespace cascade::sim

#endif  // CASCADE_TOOLS_SIM_SUPERVISOR_H_
