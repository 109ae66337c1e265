// relay-sim's controllers: one topologyd on its journal, or (--store=etcd)
// one etcd and three topologyd campaigning on it (--store-delay: behind a
// tcp-delay proxy that holds every request on its way to etcd). Starts them,
// finds the leader for relay-sim's own admin calls, kills the leader for the
// scenario, restarts controllers that end, and records every leader change
// and every relay the leader marked down.
#ifndef CASCADE_TOOLS_SIM_CONTROL_PLANE_H_
#define CASCADE_TOOLS_SIM_CONTROL_PLANE_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/controller.grpc.pb.h"
#include "proto/sim_scenario.pb.h"
#include "tools/sim/sim_pki.h"
#include "tools/sim/supervisor.h"

namespace cascade::sim {

// topologyd's --stream-key-overlap in a run: short, so a rotation's key is
// in use within a scenario (polled every quarter of it).
inline constexpr absl::Duration kStreamKeyOverlap = absl::Seconds(5);

struct ControlPlaneOptions {
  std::string topologyd;  // the binary
  // etcd's binary; empty: one topologyd on its journal.
  std::string etcd;
  std::string out_dir;
  std::string topology_file;
  // The leader's lease (topologyd --leader-ttl): how soon a dead leader is
  // replaced.
  absl::Duration leader_ttl = absl::Seconds(2);
  // topologyd --lease-timeout.
  absl::Duration lease_timeout = absl::Seconds(3);
  const std::atomic<bool>* interrupted = nullptr;
  // With etcd: tcp-delay's binary and how long it holds each chunk the
  // controllers send to etcd (--store-delay); zero: they reach etcd
  // directly.
  std::string tcp_delay;
  absl::Duration store_delay = absl::ZeroDuration();
  // The nodes whose downs are recorded (the relays; sites never report).
  std::function<bool(const std::string&)> is_relay;
  // The run's PKI (made before Start): the controllers serve mutual TLS,
  // relay-sim calls them as an admin operator.
  SimPki pki{""};
};

struct LeaderChange {
  absl::Time at;  // when the new leader first answered
  std::string from;
  std::string to;
  std::string cause;
  absl::Duration takeover;
  uint64_t state_sequence = 0;
  // From the old leader's end until every relay had reported to the new
  // one (zero: not measured).
  absl::Duration relays_back;
};

// A relay the leading controller marked down (its Events feed).
struct NodeDown {
  absl::Time at;
  std::string node;
  std::string why;
  std::string controller;  // HOST:PORT of the controller that said so
};

class ControlPlane {
 public:
  // Start times go to `record`, anything that went wrong to `problems`;
  // both must outlive this.
  ControlPlane(const ControlPlaneOptions& options, Supervisor* supervisor,
               cascade::v1::SimControlPlane* record,
               std::vector<std::string>* problems);
  // Stops following the event feed (Stop() stops the processes).
  ~ControlPlane();

  bool on_etcd() const { return !options_.etcd.empty(); }

  // etcd (until it is healthy), the controllers, and with etcd the first
  // election. An error only when etcd or the election fail (or relay-sim's
  // certificate cannot be read); a controller that does not start is a
  // problem.
  absl::Status Start();
  // "A,B,C": every controller, for relayd --controller.
  std::string Addresses() const;
  // Every controller's host, the names topologyd's certificate must hold.
  std::vector<std::string> Hosts() const;

  // The Admin stub of the controller that leads, or nullptr when none does
  // (after a step-down, each controller is asked).
  cascade::v1::Admin::Stub* Leader();
  // The controller Leader() named refused a call as a follower.
  void ForgetLeader() { leader_ = -1; }

  // kill -9 of the leader (of the one topologyd on a journal); it starts
  // again after `restart_after`, with etcd not before another controller
  // took over, so it rejoins as a follower. What happened, for the report.
  absl::StatusOr<std::string> KillLeader(absl::Duration restart_after);
  // SIGSTOP of the leader for `stall`, then SIGCONT. What happened.
  absl::StatusOr<std::string> StallLeader(absl::Duration stall);
  // With etcd: no controller leads since the leader was killed, stalled or
  // ended.
  bool TakeoverPending() const { return takeover_.has_value(); }
  // When the earliest controller killed by KillLeader starts again (Tick
  // starts it); none pending: nothing.
  std::optional<absl::Time> NextRestart() const;
  const std::vector<LeaderChange>& leader_changes() const {
    return leader_changes_;
  }
  // The relays were back under the latest leader `since_end` after the old
  // one ended.
  void NoteRelaysBack(absl::Duration since_end) {
    leader_changes_.back().relays_back = since_end;
  }

  // A process ended by itself: true when it was a controller. One that lost
  // its term (exit code 3) is started again as a follower; any other end is
  // a problem.
  bool OnExit(const Ended& ended);
  // Due restarts; while a takeover is pending, asks every controller for
  // the new leader (at most every 50 ms).
  void Tick();
  // Stops the controllers, then the store proxy and etcd.
  void Stop();

  // The leader changes and the relays marked down into `record`, timed from
  // `media_start`.
  void RecordLeaderChanges(absl::Time media_start);

 private:
  struct Controller {
    std::string name;     // "topologyd" or "topologyd c1"
    std::string address;  // HOST:PORT, the same after every restart
    std::string process;  // the supervisor's name of the current process
    int starts = 0;
    std::optional<absl::Time> restart_at;
    std::unique_ptr<cascade::v1::Admin::Stub> admin;
  };
  struct Takeover {
    absl::Time since;
    std::string from;
    std::string cause;
  };

  class EventFeed;

  std::string Out(const std::string& relative) const;
  absl::Status StartEtcd();
  // tcp-delay between the controllers and etcd (--store-delay).
  absl::Status StartStoreProxy();
  // topologyd's --store=etcd://: the proxy with --store-delay, else etcd.
  std::string EtcdUrl() const;
  // Starts (or restarts) a controller and waits for its port file.
  void StartController(Controller* controller);
  // The leader's index after asking (-1: none), for a fault on it.
  int LeaderForFault();
  // Asks every running controller but a stalled one; the one that answers
  // as leader, with its state sequence.
  std::optional<std::pair<int, uint64_t>> FindLeader();
  void RecordTakeover(int leader, uint64_t sequence);

  const ControlPlaneOptions options_;
  // relay-sim's, as an admin operator (Start reads them).
  std::shared_ptr<grpc::ChannelCredentials> credentials_;
  Supervisor* supervisor_;
  cascade::v1::SimControlPlane* record_;
  std::vector<std::string>* problems_;
  std::vector<Controller> controllers_;
  int leader_ = -1;
  std::optional<Takeover> takeover_;
  // The controller stopped by StallLeader and when it continues.
  int stalled_ = -1;
  absl::Time stalled_until_;
  absl::Time next_poll_ = absl::InfinitePast();
  std::vector<LeaderChange> leader_changes_;
  // Follows the leader's event feed from the first election to Stop().
  std::unique_ptr<EventFeed> feed_;
  std::vector<NodeDown> nodes_down_;
};

}  // namespace cascade::sim

#endif  // CASCADE_TOOLS_SIM_CONTROL_PLANE_H_
