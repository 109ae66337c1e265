// The RelayControl side of ControllerService: Register, Ack and
// GetStreamKeys through the callback API; the Watch and Report streams, open
// for a node's whole life, on the service's completion queues; and the
// bookkeeping of the Watch streams that assignments, removals and
// revocations reach.
#include <glog/logging.h>

#include <algorithm>
#include <functional>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "topology/admin_service.h"
#include "topology/peer_identity.h"
#include "topology/service.h"

namespace cascade::topology {

using cascade::v1::Assignment;

// What to do when one operation on a completion queue completes.
struct CqTag {
  std::function<void(bool ok)> complete;
};

// Register and Ack through the callback API; Watch and Report, open for a
// node's whole life, through the asynchronous API on the service's
// completion queues (see ServiceOptions::completion_queues).
class RelayService
    : public cascade::v1::RelayControl::WithCallbackMethod_Register<
          cascade::v1::RelayControl::WithCallbackMethod_Ack<
              cascade::v1::RelayControl::WithCallbackMethod_GetStreamKeys<
                  cascade::v1::RelayControl::WithAsyncMethod_Watch<
                      cascade::v1::RelayControl::WithAsyncMethod_Report<
                          cascade::v1::RelayControl::Service>>>>> {
 public:
  explicit RelayService(ControllerService* service) : service_(service) {}

  grpc::ServerUnaryReactor* Register(
      grpc::CallbackServerContext* context,
      const cascade::v1::RegisterRequest* request,
      cascade::v1::RegisterResponse* response) override {
    return Respond(
        context, service_->ServingNode(context, request->node_id(), "Register"),
        [&] {
          auto result = service_->controller()->Register(*request);
          if (result.ok()) *response = *result;
          return result.status();
        });
  }

  grpc::ServerUnaryReactor* Ack(grpc::CallbackServerContext* context,
                                const cascade::v1::AckRequest* request,
                                cascade::v1::AckResponse*) override {
    return Respond(context,
                   service_->ServingNode(context, request->node_id(), "Ack"),
                   [&] { return service_->controller()->Ack(*request); });
  }

  // Each node must be the caller's (its certificate) and may hold keys
  // (a refusal for either is an event); a relay's certificate gets none.
  grpc::ServerUnaryReactor* GetStreamKeys(
      grpc::CallbackServerContext* context,
      const cascade::v1::GetStreamKeysRequest* request,
      cascade::v1::GetStreamKeysResponse* response) override {
    grpc::Status admitted =
        request->nodes_size() >
                static_cast<int>(security::kMaxNodesPerCertificate)
            ? grpc::Status(
                  grpc::StatusCode::INVALID_ARGUMENT,
                  absl::StrCat("at most ", security::kMaxNodesPerCertificate,
                               " nodes a call"))
            : grpc::Status::OK;
    if (admitted.ok()) {
      admitted =
          service_->ServingNodes(context, request->nodes(), "GetStreamKeys");
    }
    return Respond(context, admitted, [&] {
      auto keys = service_->controller()->StreamKeys(std::vector<std::string>(
          request->nodes().begin(), request->nodes().end()));
      if (keys.ok()) {
        *response = *std::move(keys);
      } else if (absl::IsPermissionDenied(keys.status())) {
        // An event too (its detail names the node refused).
        RecordRefusal(service_->controller(), service_->denied_budget(),
                      keys.status(), request->nodes(0), "GetStreamKeys",
                      *context);
      }
      return keys.status();
    });
  }

 private:
  ControllerService* const service_;
};

// One Watch stream on one completion queue: at most one write in flight,
// the newest assignment waiting behind it. Offer never calls into gRPC (it
// runs under the controller's lock): the service's writer thread starts the
// first write, the previous write's completion the ones queued behind it.
// Each operation in progress and the ready queue hold a reference; the last
// one dropped deletes the writer.
class AssignmentWriter final : public QueuedWriter {
 public:
  // Waits on `cq` for the next Watch call.
  AssignmentWriter(ControllerService* service, RelayService* relay,
                   grpc::ServerCompletionQueue* cq)
      : service_(service), relay_(relay), cq_(cq), responder_(&context_) {
    service_->CallCreated();
    request_tag_.complete = [this](bool ok) { OnRequest(ok); };
    write_tag_.complete = [this](bool ok) { OnWriteDone(ok); };
    finish_tag_.complete = [this](bool) { Unref(); };
    done_tag_.complete = [this](bool) { OnDone(); };
    context_.AsyncNotifyWhenDone(&done_tag_);
    relay_->RequestWatch(&context_, &request_, &responder_, cq_, cq_,
                         &request_tag_);
  }

  ~AssignmentWriter() { service_->CallDeleted(); }

  // Only while the writer is registered (the service's lock keeps OnDone
  // from running meanwhile).
  void Offer(std::shared_ptr<const Assignment> assignment) {
    {
      absl::MutexLock lock(&mu_);
      if (finished_ || closing_ || assignment->version() <= newest_version_) {
        return;
      }
      newest_version_ = assignment->version();
      pending_ = std::move(assignment);
      if (in_flight_ != nullptr || queued_) return;
      queued_ = true;
    }
    refs_.fetch_add(1, std::memory_order_relaxed);
    service_->QueueWrite(this);
  }

  bool WriteQueued() override {
    bool started = false;
    {
      absl::MutexLock lock(&mu_);
      queued_ = false;
      if (!finished_ && !closing_ && pending_ != nullptr) {
        StartWriteLocked();
        started = true;
      }
    }
    Unref();
    return started;
  }

  // The serial of the certificate the stream was opened with (empty
  // without one); set before the writer is registered.
  const std::string& serial() const { return serial_; }

  // Ends the stream once the write in flight (if any) is done.
  void Close(grpc::Status status) {
    absl::MutexLock lock(&mu_);
    if (finished_ || closing_) return;
    pending_.reset();
    if (in_flight_ != nullptr) {
      closing_ = true;
      close_status_ = std::move(status);
      return;
    }
    FinishLocked(status);
  }

 private:
  void OnRequest(bool ok) {
    // The server is shutting down: no call, and no done tag either.
    if (!ok) {
      delete this;
      return;
    }
    new AssignmentWriter(service_, relay_, cq_);  // the queue's next Watch
    node_id_ = request_.node_id();
    Start(service_->ServingNode(&context_, node_id_, "Watch", &serial_));
    Unref();
  }

  void Start(const grpc::Status& refusal) {
    if (!refusal.ok()) {
      Close(refusal);
      return;
    }
    if (!service_->AddWatcher(node_id_, this)) {
      Close(grpc::Status(grpc::StatusCode::UNAVAILABLE, "shutting down"));
      return;
    }
    registered_ = true;
    // Registered first: a change racing with this read is offered too, and
    // Offer keeps whichever is newer.
    std::shared_ptr<const Assignment> current =
        service_->controller()->CurrentAssignment(node_id_);
    if (current != nullptr) {
      Offer(std::move(current));
    } else if (!service_->controller()->HasNode(node_id_)) {
      Close(grpc::Status(grpc::StatusCode::NOT_FOUND,
                         absl::StrCat("no node \"", node_id_, "\"")));
    }
    // Otherwise a restarted controller is still learning: the assignment
    // comes through Offer once it is sent, and the relay keeps running its
    // last one meanwhile.
  }

  void OnWriteDone(bool ok) {
    {
      absl::MutexLock lock(&mu_);
      in_flight_.reset();
      if (!finished_) {
        if (!ok) {
          FinishLocked(
              grpc::Status(grpc::StatusCode::CANCELLED, "write failed"));
        } else if (closing_) {
          FinishLocked(close_status_);
        } else if (pending_ != nullptr) {
          // Not under the controller's lock here: the next write starts at
          // once.
          StartWriteLocked();
        }
      }
    }
    Unref();
  }

  // The call is over: finished, or cancelled by the client or the server's
  // shutdown.
  void OnDone() {
    if (context_.IsCancelled()) {
      Close(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
    }
    if (registered_) service_->RemoveWatcher(node_id_, this);
    Unref();
  }

  void StartWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    in_flight_ = std::move(pending_);
    refs_.fetch_add(1, std::memory_order_relaxed);
    responder_.Write(*in_flight_, &write_tag_);
  }

  void FinishLocked(const grpc::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    finished_ = true;
    refs_.fetch_add(1, std::memory_order_relaxed);
    responder_.Finish(status, &finish_tag_);
  }

  void Unref() {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  ControllerService* const service_;
  RelayService* const relay_;
  grpc::ServerCompletionQueue* const cq_;
  grpc::ServerContext context_;
  cascade::v1::WatchRequest request_;
  grpc::ServerAsyncWriter<Assignment> responder_;
  CqTag request_tag_, write_tag_, finish_tag_, done_tag_;
  // The request's and the done tag's until they complete.
  std::atomic<int> refs_{2};
  std::string node_id_;
  std::string serial_;
  bool registered_ = false;
  absl::Mutex mu_;
  std::shared_ptr<const Assignment> in_flight_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const Assignment> pending_ ABSL_GUARDED_BY(mu_);
  uint64_t newest_version_ ABSL_GUARDED_BY(mu_) = 0;
  // In the service's ready queue (then no write is in flight).
  bool queued_ ABSL_GUARDED_BY(mu_) = false;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status close_status_ ABSL_GUARDED_BY(mu_);
};

namespace {

// One Report stream on one completion queue: every message renews the
// node's lease. One operation at a time, all on the queue's thread.
class ReportReader {
 public:
  // Waits on `cq` for the next Report call.
  ReportReader(ControllerService* service, RelayService* relay,
               grpc::ServerCompletionQueue* cq)
      : service_(service), relay_(relay), cq_(cq), reader_(&context_) {
    service_->CallCreated();
    request_tag_.complete = [this](bool ok) { OnRequest(ok); };
    read_tag_.complete = [this](bool ok) { OnReadDone(ok); };
    finish_tag_.complete = [this](bool) { delete this; };
    relay_->RequestReport(&context_, &reader_, cq_, cq_, &request_tag_);
  }
  ~ReportReader() { service_->CallDeleted(); }

 private:
  void OnRequest(bool ok) {
    if (!ok) {  // the server is shutting down
      delete this;
      return;
    }
    new ReportReader(service_, relay_, cq_);  // the queue's next Report
    grpc::Status serving = service_->Serving(&context_);
    if (!serving.ok()) {
      reader_.FinishWithError(serving, &finish_tag_);
      return;
    }
    controller_ = service_->controller();
    if (service_->options().peer_identity) peer_.emplace(context_, controller_);
    reader_.Read(&request_, &read_tag_);
  }

  void OnReadDone(bool ok) {
    if (!ok) {  // the client closed its side, or the call ended
      reader_.Finish(response_, grpc::Status::OK, &finish_tag_);
      return;
    }
    // Every message: one stream renews the lease of its own node only.
    if (peer_.has_value()) {
      grpc::Status refused =
          RecordRefusal(controller_, service_->denied_budget(),
                        peer_->Check(request_.node_id()), request_.node_id(),
                        "Report", context_);
      if (!refused.ok()) {
        reader_.FinishWithError(refused, &finish_tag_);
        return;
      }
    }
    absl::Status status = controller_->Report(request_);
    if (!status.ok()) {
      reader_.FinishWithError(ToGrpcStatus(status), &finish_tag_);
      return;
    }
    reader_.Read(&request_, &read_tag_);
  }

  ControllerService* const service_;
  RelayService* const relay_;
  grpc::ServerCompletionQueue* const cq_;
  grpc::ServerContext context_;
  grpc::ServerAsyncReader<cascade::v1::ReportResponse,
                          cascade::v1::ReportRequest>
      reader_;
  CqTag request_tag_, read_tag_, finish_tag_;
  Controller* controller_ = nullptr;
  // With ServiceOptions::peer_identity: the certificate, parsed once.
  std::optional<NodePeer> peer_;
  cascade::v1::ReportRequest request_;
  cascade::v1::ReportResponse response_;
};

}  // namespace

ControllerService::ControllerService(Controller* controller,
                                     ServiceOptions options)
    : controller_(controller),
      options_(std::move(options)),
      relay_(std::make_unique<RelayService>(this)),
      admin_(MakeAdminService(this)),
      denied_(options_.clock, options_.denied_events_per_second,
              options_.denied_events_burst),
      writer_thread_([this] { RunWriter(); }) {
  if (controller != nullptr) controller->SetListener(this);
}

ControllerService::~ControllerService() {
  Controller* controller = controller_.load();
  if (controller != nullptr) controller->SetListener(nullptr);
  StopRelayStreams();
}

void ControllerService::StopRelayStreams() {
  if (relay_streams_stopped_) return;
  relay_streams_stopped_ = true;
  // First the writer thread: a write must not start on a queue shut down.
  {
    absl::MutexLock lock(&ready_mu_);
    stopping_ = true;
  }
  writer_thread_.join();
  // Writes queued since the writer thread stopped: their calls are
  // cancelled, so a write started completes at once (not ok), and a closed
  // stream only drops the queue's reference.
  std::vector<QueuedWriter*> left;
  {
    absl::MutexLock lock(&ready_mu_);
    left.swap(ready_);
  }
  for (QueuedWriter* writer : left) writer->WriteQueued();
  // The server is shut down: every call's operations complete (not ok) and
  // the last one deletes it, but a handler may still start one (a Finish)
  // on its way there. An operation started on a queue already shut down
  // aborts the process, so the queues shut down only once no call object
  // is left (bounded: a stuck call is logged, not waited for forever).
  {
    absl::MutexLock lock(&calls_mu_);
    auto none_left = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(calls_mu_) {
      return calls_ == 0;
    };
    if (!calls_mu_.AwaitWithTimeout(absl::Condition(&none_left),
                                    absl::Seconds(5))) {
      LOG(WARNING) << calls_
                   << " relay stream calls still open 5 s after the "
                      "server's shutdown; shutting their queues down";
    }
  }
  for (auto& queue : queues_) queue->Shutdown();
  for (std::thread& thread : queue_threads_) thread.join();
}

void ControllerService::CallCreated() {
  absl::MutexLock lock(&calls_mu_);
  ++calls_;
}

void ControllerService::CallDeleted() {
  absl::MutexLock lock(&calls_mu_);
  --calls_;
}

grpc::Service* ControllerService::relay_service() { return relay_.get(); }

void ControllerService::AddCompletionQueues(grpc::ServerBuilder* builder) {
  for (int i = 0; i < std::max(1, options_.completion_queues); ++i) {
    queues_.push_back(builder->AddCompletionQueue());
    queue_threads_.emplace_back([queue = queues_.back().get()] {
      void* tag;
      bool ok;
      while (queue->Next(&tag, &ok)) static_cast<CqTag*>(tag)->complete(ok);
    });
  }
}

void ControllerService::AwaitRelayStreams() {
  // Each waiting call makes its successor on the same queue once it starts.
  for (auto& queue : queues_) {
    new AssignmentWriter(this, relay_.get(), queue.get());
    new ReportReader(this, relay_.get(), queue.get());
  }
}

void ControllerService::Shutdown() {
  absl::MutexLock lock(&mu_);
  shut_down_ = true;
  grpc::Status status(grpc::StatusCode::UNAVAILABLE,
                      "controller shutting down");
  for (auto& [id, writers] : watchers_) {
    for (AssignmentWriter* writer : writers) writer->Close(status);
  }
  for (EventWriter* writer : event_writers_) writer->Close(status);
}

void ControllerService::OnAssignment(
    std::shared_ptr<const Assignment> assignment) {
  absl::MutexLock lock(&mu_);
  auto it = watchers_.find(assignment->node_id());
  if (it == watchers_.end()) return;
  for (AssignmentWriter* writer : it->second) writer->Offer(assignment);
}

void ControllerService::OnNodeRemoved(const std::string& node_id) {
  absl::MutexLock lock(&mu_);
  auto it = watchers_.find(node_id);
  if (it == watchers_.end()) return;
  grpc::Status status(grpc::StatusCode::NOT_FOUND,
                      absl::StrCat("node \"", node_id, "\" was removed"));
  for (AssignmentWriter* writer : it->second) writer->Close(status);
}

void ControllerService::OnCertificateRevoked() {
  Controller* controller = controller_.load();
  absl::MutexLock lock(&mu_);
  for (auto& [id, writers] : watchers_) {
    for (AssignmentWriter* writer : writers) {
      if (!writer->serial().empty() &&
          controller->CertificateRevoked(writer->serial())) {
        writer->Close(grpc::Status(
            grpc::StatusCode::PERMISSION_DENIED,
            absl::StrCat("the certificate ", writer->serial(), " of node ", id,
                         " is revoked (relayctl pki revoke)")));
      }
    }
  }
}

bool ControllerService::AddWatcher(const std::string& node_id,
                                   AssignmentWriter* writer) {
  absl::MutexLock lock(&mu_);
  if (shut_down_) return false;
  watchers_[node_id].insert(writer);
  return true;
}

void ControllerService::RemoveWatcher(const std::string& node_id,
                                      AssignmentWriter* writer) {
  absl::MutexLock lock(&mu_);
  auto it = watchers_.find(node_id);
  if (it == watchers_.end()) return;
  it->second.erase(writer);
  if (it->second.empty()) watchers_.erase(it);
}

}  // namespace cascade::topology
