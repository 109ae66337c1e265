// topologyd's Admin service (relayctl's API), part of ControllerService
// (service.h), and its Events streams. Every call passes the gate
// (admin_gate.h: who calls, with which role, within its rate) and is
// refused by a follower naming the leader; a change carries its audit
// record (who, from where, what) into the journal and is answered once the
// controller's commit pipeline has made it durable, never by a gRPC thread
// waiting for it.
#ifndef CASCADE_TOPOLOGY_ADMIN_SERVICE_H_
#define CASCADE_TOPOLOGY_ADMIN_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>

#include "absl/synchronization/mutex.h"
#include "proto/controller.grpc.pb.h"
#include "topology/service.h"

namespace cascade::topology {

std::unique_ptr<grpc::Service> MakeAdminService(ControllerService* service);

// One Events stream: a bounded backlog, one write in flight. Like
// AssignmentWriter, Offer (under the controller's lock) never calls into
// gRPC: the service's writer thread starts the first write, the previous
// write's completion the ones queued behind it. gRPC holds a reference until
// OnDone, the ready queue one while the stream is in it; the last one
// dropped deletes the writer.
class EventWriter : public grpc::ServerWriteReactor<cascade::v1::Event>,
                    public QueuedWriter {
 public:
  // A writer with a non-OK `refusal` only finishes with it. Otherwise it
  // first sends up to `history` audited Admin calls (the newest, at most
  // `backlog`), then every event.
  EventWriter(ControllerService* service, size_t backlog, grpc::Status refusal,
              size_t history);

  // Only while the writer is registered (the service's lock keeps OnDone
  // from running meanwhile).
  void Offer(const cascade::v1::Event& event);
  bool WriteQueued() override;
  void Close(grpc::Status status);

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  // Starts the next write unless one is in flight, nothing waits, or the
  // stream is over.
  bool MaybeWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Unref();

  ControllerService* const service_;
  const size_t backlog_;
  bool registered_ = false;
  // gRPC's until OnDone.
  std::atomic<int> refs_{1};
  absl::Mutex mu_;
  std::deque<cascade::v1::Event> queue_ ABSL_GUARDED_BY(mu_);
  cascade::v1::Event current_ ABSL_GUARDED_BY(mu_);
  uint64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  // In the service's ready queue (then no write is in flight).
  bool queued_ ABSL_GUARDED_BY(mu_) = false;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status close_status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cascade::topology

#endif  // CASCADE_TOPOLOGY_ADMIN_SERVICE_H_
