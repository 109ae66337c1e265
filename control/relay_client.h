// The relay side of the controller protocol: register, hold the Watch,
// hand each assignment to a listener, acknowledge it, keep the Report stream
// (the lease) alive, and reconnect with backoff when anything breaks. Given
// several controllers (one leads, the others redirect), it follows the
// redirects and moves on through the list when the one it uses dies.
#ifndef CASCADE_CONTROL_RELAY_CLIENT_H_
#define CASCADE_CONTROL_RELAY_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "control/controllers.h"
#include "proto/controller.grpc.pb.h"

namespace cascade::control {

class AssignmentListener {
 public:
  virtual ~AssignmentListener() = default;
  // Applies `assignment`. A non-OK status is sent back as a NACK; the relay
  // should keep running its previous assignment. Called on the client's
  // thread, one at a time, in version order; not called for an assignment
  // that differs from the last one applied only in its version (a restarted
  // controller sends the same content again), which is acked at once.
  virtual absl::Status OnAssignment(
      const cascade::v1::Assignment& assignment) = 0;
};

struct RelayClientOptions {
  // HOST:PORT of topologyd, or several as HOST:PORT,HOST:PORT,... (tried in
  // order; see controllers.h). Callers validate it with
  // ParseControllerList; an invalid list is used as one address.
  std::string controller;
  std::string node_id;
  // Reported at registration (informational).
  std::string media_address;
  // Null means plaintext.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  // How often the Report stream renews the lease; capped at a third of the
  // lease the controller announces.
  absl::Duration report_interval = absl::Seconds(1);
  absl::Duration min_backoff = absl::Milliseconds(100);
  // Jittered up to 1.5 times: a relay is back at most 3 s after its
  // controller, well within a restarted controller's learning period
  // (topologyd --restart-learning, 10 s). At 5 s, relays came back after
  // it and were counted down, and their subtrees moved twice.
  absl::Duration max_backoff = absl::Seconds(2);
  // After a refusal for who it is (PERMISSION_DENIED, UNAUTHENTICATED: a
  // revoked or wrong certificate), which no retry soon will change: a
  // refused relay does not knock twice a second.
  absl::Duration refused_backoff = absl::Seconds(10);
  // Deadline of each unary call (Register, Ack).
  absl::Duration call_timeout = absl::Seconds(5);
  // Stats that ride on each report; may be empty.
  std::function<cascade::v1::RelayStats()> stats;
};

class RelayClient {
 public:
  RelayClient(RelayClientOptions options, AssignmentListener* listener);
  ~RelayClient();
  RelayClient(const RelayClient&) = delete;
  RelayClient& operator=(const RelayClient&) = delete;

  void Start();
  // Cancels the streams and joins the thread; the lease then lapses.
  void Stop();
  // Sessions started so far (a reconnect starts a new one).
  int sessions() const;
  // The controller of the current (or last) session.
  std::string controller() const;

 private:
  void Run();
  // One connection to `controller`: register, watch and report until
  // something breaks. `*redirect` gets what the refusal said about the
  // leader; `*watched` is set once an assignment arrived.
  absl::Status RunSession(const std::string& controller, Redirect* redirect,
                          bool* watched);
  void ReportLoop(cascade::v1::RelayControl::Stub* stub,
                  absl::Duration interval, grpc::ClientContext* watch_context);

  // One channel per controller for the client's life: gRPC reconnects it
  // by itself, and a fresh channel per attempt costs every relay of a
  // network a resolver and a connection while their controller is down.
  std::shared_ptr<grpc::Channel> ChannelFor(const std::string& controller);

  const RelayClientOptions options_;
  AssignmentListener* const listener_;
  std::thread thread_;
  // Only the client's thread touches these.
  absl::flat_hash_map<std::string, std::shared_ptr<grpc::Channel>> channels_;
  std::mt19937 jitter_{std::random_device{}()};
  // The last attempt found no connection (see RunSession).
  bool connect_failed_ = false;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool session_over_ ABSL_GUARDED_BY(mu_) = false;
  int sessions_ ABSL_GUARDED_BY(mu_) = 0;
  std::string session_controller_ ABSL_GUARDED_BY(mu_);
  // The last assignment the listener applied, serialised with version 0.
  // Only the client's thread touches it.
  std::string applied_content_;
  // The live calls, so Stop can cancel them.
  grpc::ClientContext* watch_context_ ABSL_GUARDED_BY(mu_) = nullptr;
  grpc::ClientContext* report_context_ ABSL_GUARDED_BY(mu_) = nullptr;
};

}  // namespace cascade::control

#endif  // CASCADE_CONTROL_RELAY_CLIENT_H_
