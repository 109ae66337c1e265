// The controller benchmark's fake relays: one process playing every node of
// a topology against topologyd (Register, Watch and Ack, Report).
#ifndef CASCADE_TOOLS_BENCH_CONTROLLER_FLEET_H_
#define CASCADE_TOOLS_BENCH_CONTROLLER_FLEET_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/controller.grpc.pb.h"
#include "proto/topology.pb.h"

namespace cascade::bench {

// Nodes per channel (one HTTP/2 connection each), so no one connection
// carries every stream.
inline constexpr int kNodesPerChannel = 1000;

// A channel of its own to topologyd, without message size limits.
std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address);

// Plays every node of a topology: Register, then a Watch (each assignment
// acknowledged) and a Report stream renewing the lease every third of it.
//
// gRPC's asynchronous API over several completion queues, each drained by
// its own thread, not the callback API: with the epoll poller, gRPC 1.51
// completes every callback operation of the process on one shared queue,
// and Debian's libgrpc (built without NDEBUG) checks each completion
// against the list of all that queue's outstanding operations, a linear
// scan. With 100,000 nodes (200,000 open streams) that scan was most of the
// harness's time; spread over kQueues queues each list is that much shorter.
class Fleet {
 public:
  Fleet(const std::string& address, const cascade::v1::Topology& topology,
        absl::Duration lease);
  ~Fleet();

  int size() const { return static_cast<int>(nodes_.size()); }
  int IndexOf(const std::string& id) const;

  // Registers every node (a window of calls in flight) and opens its
  // streams; reports start at once.
  absl::Status Connect(absl::Time deadline);

  absl::Status RegisterTimeout() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Until every node holds an assignment.
  absl::Status AwaitAssignments(absl::Time deadline);

  // Each node's active parent in its newest assignment ("" before one, or
  // none), by index. Reports say they receive from it, as relays do.
  std::vector<std::string> ActiveParents();
  // Before Connect: the parents the nodes receive from until their first
  // assignment (a restarted controller learns them from the reports).
  void SetReceivingFrom(const std::vector<std::string>& parents);

  // Until no assignment has arrived for `quiet` (bounded by `deadline`).
  void AwaitQuiet(absl::Duration quiet, absl::Time deadline);

  // Arrivals from now on are counted.
  void StartMeasuring();

  // `node` reports no more; returns when its last report was sent.
  absl::Time StopReporting(int node);

  struct Arrivals {
    int64_t count = 0;
    absl::Time first = absl::InfiniteFuture();
    absl::Time last = absl::InfinitePast();
  };
  Arrivals Measured();
  // Until `count` new versions arrived since StartMeasuring.
  bool AwaitMeasured(int64_t count, absl::Time deadline);
  std::string first_error();

  // Cancels every call and waits (bounded) until gRPC is done with them.
  void Shutdown();

 private:
  struct Step;
  struct NodeStep;
  struct AckCall;
  struct NodeSession;
  static constexpr int kQueues = 16;

  void OnRegistered(const NodeSession& node, const grpc::Status& status);
  void AddLiveCalls(int count);
  void OnAssignment(NodeSession& node, uint64_t version);
  void OnCallDone(const NodeSession& node, const char* call,
                  const grpc::Status& status);
  // Every node with open streams reports once per interval, spread evenly
  // over it in 20 ms slices.
  void ReportLoop();

  const absl::Duration report_interval_;
  std::vector<std::unique_ptr<cascade::v1::RelayControl::Stub>> stubs_;
  std::vector<std::unique_ptr<grpc::CompletionQueue>> queues_;
  std::vector<std::unique_ptr<NodeSession>> nodes_;
  std::vector<std::thread> pollers_;
  std::thread reporter_;

  absl::Mutex report_mu_;
  bool stopping_ ABSL_GUARDED_BY(report_mu_) = false;

  absl::Mutex mu_;
  int register_in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  int registered_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t live_calls_ ABSL_GUARDED_BY(mu_) = 0;
  int assigned_ ABSL_GUARDED_BY(mu_) = 0;
  std::string first_error_ ABSL_GUARDED_BY(mu_);
  absl::Time last_arrival_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  bool measuring_ ABSL_GUARDED_BY(mu_) = false;
  int64_t measured_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time first_measured_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  absl::Time last_measured_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace cascade::bench

#endif  // CASCADE_TOOLS_BENCH_CONTROLLER_FLEET_H_
