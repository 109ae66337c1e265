// The controller's gRPC face: RelayControl and Admin (admin_service.h).
// Admin, Register and Ack use gRPC's callback API; the relays' Watch and Report
// streams, open for each node's whole life, the asynchronous API over several
// completion queues, each drained by its own thread: with the epoll poller
// gRPC 1.51 completes every callback operation of a server on one queue, and
// Debian's libgrpc (built without NDEBUG) checks each completion against the
// list of all that queue's outstanding operations, three per watching node, so
// at 100,000 nodes every write, read and ack paid for a scan of 300,000.
//
// Every Watch and Events stream keeps at most one write in flight; while it
// is in flight only the newest assignment is kept (older ones are
// superseded, since each assignment is complete), events in a bounded
// backlog. The controller offers assignments and events under its lock; a
// stream only keeps them and, when no write is in flight, joins the
// service's ready queue, whose writer thread starts the writes outside every
// controller lock. Admin changes are answered once the controller's commit
// pipeline has made them durable, never by a gRPC thread waiting for it.
//
// With several controllers (topologyd on etcd) the service starts as a
// follower: every call is refused UNAVAILABLE with the leader's address in
// the message and in trailing metadata (kLeaderMetadata), until Lead() hands
// it the recovered Controller.
#ifndef CASCADE_TOPOLOGY_SERVICE_H_
#define CASCADE_TOPOLOGY_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "proto/controller.grpc.pb.h"
#include "security/token.h"
#include "topology/admin_calls.h"
#include "topology/controller.h"
#include "topology/denied_budget.h"
#include "topology/server_limits.h"

namespace cascade::topology {

struct ServiceOptions {
  // The legacy shared admin token: a caller presenting it as
  // "authorization: Bearer <token>" is an admin (admin_gate.h).
  std::string admin_token;
  // Checks operators' signed tokens (the client CA); null: none accepted.
  std::shared_ptr<const security::TokenVerifier> token_verifier;
  // Admin calls per second each caller may make, and the burst.
  double admin_rate = 100;
  double admin_burst = 500;
  ServerLimits limits;
  // Events kept for a subscriber that reads slower than they come; beyond
  // it the oldest are dropped and the subscriber is told how many.
  size_t event_backlog = 1024;
  // While not leading: the leader's admin HOST:PORT for redirects (empty
  // when none is known). Unset means "no leader known".
  std::function<std::string()> leader_address;
  // Completion queues (a thread each) serving Watch and Report.
  int completion_queues = 16;
  // Clients present certificates (mutual TLS): a relay may act only as the
  // node its certificate names, and Admin takes operators' certificates
  // (or tokens) only (peer_identity.h, admin_gate.h).
  bool peer_identity = false;
  // With peer_identity: the RelayControl refusals of one claimed node
  // shown as KIND_DENIED events per second, and their burst; the rest are
  // counted in the next one shown (denied_budget.h).
  double denied_events_per_second = 1;
  double denied_events_burst = 5;
  // The time those budgets refill by; null: the system's.
  const Clock* clock = nullptr;
  // Counts every Admin call by method and outcome (topologyd's /metrics);
  // null: none counted.
  std::shared_ptr<AdminCallCounter> admin_calls;
};

class AssignmentWriter;
class EventWriter;
class RelayService;

// A stream (Watch or Events) with a write waiting and none in flight, in the
// service's ready queue, which holds a reference to it.
class QueuedWriter {
 public:
  // On the writer thread: starts the waiting write unless the stream was
  // closed meanwhile (then false), and drops the queue's reference.
  virtual bool WriteQueued() = 0;

 protected:
  ~QueuedWriter() = default;
};

class ControllerService : public ControllerListener {
 public:
  // A null `controller` starts as a follower, until Lead().
  ControllerService(Controller* controller, ServiceOptions options);
  ~ControllerService() override;
  ControllerService(const ControllerService&) = delete;
  ControllerService& operator=(const ControllerService&) = delete;

  grpc::Service* relay_service();
  grpc::Service* admin_service() { return admin_.get(); }

  // Serves from `controller` (recovered) from now on. Call once, on a
  // follower. `controller` must outlive the service.
  void Lead(Controller* controller);
  // Ends every open stream with UNAVAILABLE and refuses every later call
  // (naming the leader, if known): on shutdown, or at once when this
  // controller stops leading.
  void Shutdown();
  // OK while this service serves; otherwise the refusal, its trailing
  // metadata already added to `context`.
  grpc::Status Serving(grpc::ServerContextBase* context) const;
  // Serving(), and the caller may act as `node_id` (its RelayControl
  // `call`); a refusal for who it is is recorded as an event. `serial`,
  // if not null, gets the serial of the caller's certificate.
  grpc::Status ServingNode(grpc::ServerContextBase* context,
                           const std::string& node_id, absl::string_view call,
                           std::string* serial = nullptr);
  // The same for each of `node_ids` (the certificate parsed once), refused
  // for the first it may not act as.
  grpc::Status ServingNodes(
      grpc::ServerContextBase* context,
      const google::protobuf::RepeatedPtrField<std::string>& node_ids,
      absl::string_view call);
  size_t watcher_count() const;
  // Which refusals of a node become events (peer_identity.h).
  DeniedBudget* denied_budget() { return &denied_; }

  // ControllerListener.
  void OnAssignment(
      std::shared_ptr<const cascade::v1::Assignment> assignment) override;
  void OnNodeRemoved(const std::string& node_id) override;
  void OnEvent(const cascade::v1::Event& event) override;
  // Ends the Watch streams opened with a certificate now revoked.
  void OnCertificateRevoked() override;

  // Stream bookkeeping, called by the stream reactors.
  // Returns false once Shutdown has run.
  bool AddWatcher(const std::string& node_id, AssignmentWriter* writer);
  void RemoveWatcher(const std::string& node_id, AssignmentWriter* writer);
  bool AddEventWriter(EventWriter* writer);
  void RemoveEventWriter(EventWriter* writer);
  // `writer` (holding a reference for the queue) has a write waiting and
  // none in flight.
  void QueueWrite(QueuedWriter* writer);
  // A Watch or Report call object on a completion queue was made (waiting
  // for a call or serving one) or deleted: StopRelayStreams shuts the
  // queues down only once none is left.
  void CallCreated();
  void CallDeleted();

  // By StartServer: the completion queues (and their threads) before the
  // server is built, then waiting for Watch and Report calls once it runs.
  void AddCompletionQueues(grpc::ServerBuilder* builder);
  void AwaitRelayStreams();
  // Once the server is shut down and before it is destroyed (ServerHandle
  // does it): stops the writer thread, drains the completion queues (every
  // call's last operation deletes it) and joins their threads. Idempotent.
  void StopRelayStreams();

  // Only after Serving() returned OK.
  Controller* controller() { return controller_.load(); }
  const ServiceOptions& options() const { return options_; }

 private:
  std::atomic<Controller*> controller_;
  const ServiceOptions options_;
  std::unique_ptr<RelayService> relay_;
  std::unique_ptr<grpc::Service> admin_;
  DeniedBudget denied_;

  mutable absl::Mutex mu_;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<std::string, absl::flat_hash_set<AssignmentWriter*>>
      watchers_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<EventWriter*> event_writers_ ABSL_GUARDED_BY(mu_);

  // Starts the queued writers' writes until StopRelayStreams.
  void RunWriter();
  // Its own lock, never held while calling into a writer: Offer queues
  // under the controller's lock and mu_, the writer thread dequeues.
  absl::Mutex ready_mu_;
  std::vector<QueuedWriter*> ready_ ABSL_GUARDED_BY(ready_mu_);
  bool stopping_ ABSL_GUARDED_BY(ready_mu_) = false;
  std::thread writer_thread_;

  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> queues_;
  std::vector<std::thread> queue_threads_;
  absl::Mutex calls_mu_;
  int calls_ ABSL_GUARDED_BY(calls_mu_) = 0;
  bool relay_streams_stopped_ = false;
};

// Destroys a server as its asynchronous calls need: shut down (at once, if
// not yet), its completion queues drained, then deleted.
struct ServerStopper {
  ControllerService* service;
  void operator()(grpc::Server* server) const;
};
using ServerHandle = std::unique_ptr<grpc::Server, ServerStopper>;

// Starts a server with both services, gRPC health checking and server
// reflection on `listen` (HOST:PORT, port 0 lets the kernel choose);
// `*bound_port` gets the port. The service must outlive the server.
absl::StatusOr<ServerHandle> StartServer(
    ControllerService* service, const std::string& listen,
    std::shared_ptr<grpc::ServerCredentials> credentials, int* bound_port);

// absl and gRPC share the canonical status codes.
grpc::Status ToGrpcStatus(const absl::Status& status);

// A unary callback call finished with `precondition` when it is not OK,
// else with what `fn` returns (an absl::Status).
template <typename Fn>
grpc::ServerUnaryReactor* Respond(grpc::CallbackServerContext* context,
                                  grpc::Status precondition, Fn fn) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(precondition.ok() ? ToGrpcStatus(fn()) : precondition);
  return reactor;
}

}  // namespace cascade::topology

#endif  // CASCADE_TOPOLOGY_SERVICE_H_
