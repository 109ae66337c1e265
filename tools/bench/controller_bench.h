// The controller benchmark (issues 4 and 8): a real topologyd on loopback,
// a topology applied through the Admin API on a fresh state dir, then every
// node of it played by this process (Register, Watch, Ack, Report; many
// streams per channel, gRPC's asynchronous API over several completion
// queues), one provincial node's lease left to lapse, and the time until the
// last changed assignment reached its watcher. Memory is the controller's own
// RSS from /proc.
#ifndef CASCADE_TOOLS_BENCH_CONTROLLER_BENCH_H_
#define CASCADE_TOOLS_BENCH_CONTROLLER_BENCH_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/subprocess.h"
#include "proto/topology.pb.h"

namespace cascade::bench {

// A four-tier topology of exactly `nodes` nodes (at least 100) shaped like
// the reference generator's: nat-1 and its standby nat-2, provinces of 27
// districts, each province with a ROLE_STANDBY twin that the districts stand
// by on, about 60 sites per district standing by on their province, and
// capacities that hold any one failure.
cascade::v1::Topology SyntheticTopology(int nodes);

// A reference topology as topology/reference/generate prints it (the
// committed files are exactly its output).
absl::StatusOr<cascade::v1::Topology> ReferenceTopology(
    const std::string& generator, const std::string& profile);

// The provincial ROLE_ACTIVE node with the most desired children: the
// failure that moves the most.
std::string LargestProvince(const cascade::v1::Topology& topology);

struct ControllerCaseSetup {
  std::string topologyd;  // the binary
  std::string work_dir;   // this case's state dir, files and logs
  std::string name;       // "south19", "synthetic"
  cascade::v1::Topology topology;
  // Also used for the controller's --lease-timeout: it ticks every tenth.
  absl::Duration lease = absl::Seconds(3);
  // Play every node and fail one over; false: no watcher (a plan too large
  // for this machine to play), and the largest province is failed through
  // the Admin API instead, which plans the same change with nobody to push to.
  bool failover = true;
};

struct ControllerCaseResult {
  int nodes = 0;
  // Wall time of the ApplyTopology call on a fresh state dir (the change is
  // durable when it returns), or why it failed.
  std::optional<double> apply_ms;
  std::string apply_error;
  // When the API refused the apply: topologyd started with --topology=FILE
  // instead, from spawn to its port file (parse, validate, journal, serve).
  std::optional<double> seed_ms;
  int64_t rss_after_apply_kb = 0;

  // Failover push; `failover_error` says why it was not measured.
  std::string failover_error;
  int watchers = 0;
  double connect_s = 0;  // until every node held its first assignment
  std::string victim;
  int64_t changed = 0;   // assignments the controller pushed for the expiry
  int64_t received = 0;  // new versions that reached our watchers since
  int other_nodes_down = 0;
  // From the controller's NODE_DOWN event (its detection, ms resolution) and
  // from the nominal expiry (our last report's send time + lease) to the
  // last changed assignment's arrival.
  std::optional<double> push_ms;
  std::optional<double> push_from_expiry_ms;
  std::optional<double> first_push_ms;  // from the event, the first arrival

  // Without watchers: the Admin Failover call's wall time (decide, persist,
  // plan; the response comes once the change is durable) and the
  // assignments it changed.
  std::optional<double> admin_failover_ms;

  int64_t rss_kb = 0;       // at the end
  int64_t peak_rss_kb = 0;  // VmHWM
};

// topologyd on 127.0.0.1 (port chosen by the kernel, unless `flags` give
// --listen) with its state in the case's work dir under `tag`, seeded from
// `topology_file` when not empty; `flags` go last, so they override.
struct TopologydProcess {
  std::unique_ptr<Subprocess> process;
  std::string address;
  std::string log;
  std::string port_file;
};
absl::StatusOr<TopologydProcess> StartTopologyd(
    const ControllerCaseSetup& setup, const std::string& tag,
    const std::string& topology_file, const std::vector<std::string>& flags);

// One case: starts topologyd, applies, plays the nodes, stops everything.
// An error status only for a failure before anything was measured.
absl::StatusOr<ControllerCaseResult> RunControllerCase(
    const ControllerCaseSetup& setup);

}  // namespace cascade::bench

#endif  // CASCADE_TOOLS_BENCH_CONTROLLER_BENCH_H_
