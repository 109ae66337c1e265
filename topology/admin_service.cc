#include "topology/admin_service.h"

#include <openssl/crypto.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "topology/peer_identity.h"

namespace cascade::topology {

using cascade::v1::Change;
using cascade::v1::Event;

EventWriter::EventWriter(ControllerService* service, size_t backlog,
                         grpc::Status refusal)
    : service_(service), backlog_(backlog) {
  if (!refusal.ok()) {
    Close(std::move(refusal));
    return;
  }
  if (!service_->AddEventWriter(this)) {
    Close(grpc::Status(grpc::StatusCode::UNAVAILABLE, "shutting down"));
    return;
  }
  registered_ = true;
}

void EventWriter::Offer(const Event& event) {
  {
    absl::MutexLock lock(&mu_);
    if (finished_ || closing_) return;
    if (queue_.size() >= backlog_ && !queue_.empty()) {
      queue_.pop_front();
      ++dropped_;
    }
    queue_.push_back(event);
    if (writing_ || queued_) return;
    queued_ = true;
  }
  refs_.fetch_add(1, std::memory_order_relaxed);
  service_->QueueWrite(this);
}

bool EventWriter::WriteQueued() {
  bool started;
  {
    absl::MutexLock lock(&mu_);
    queued_ = false;
    started = MaybeWriteLocked();
  }
  Unref();
  return started;
}

void EventWriter::Close(grpc::Status status) {
  absl::MutexLock lock(&mu_);
  if (finished_ || closing_) return;
  queue_.clear();
  if (writing_) {
    closing_ = true;
    close_status_ = std::move(status);
    return;
  }
  finished_ = true;
  Finish(std::move(status));
}

void EventWriter::OnWriteDone(bool ok) {
  absl::MutexLock lock(&mu_);
  writing_ = false;
  if (finished_) return;
  if (!ok || closing_) {
    finished_ = true;
    Finish(ok ? close_status_
              : grpc::Status(grpc::StatusCode::CANCELLED, "write failed"));
    return;
  }
  MaybeWriteLocked();
}

void EventWriter::OnCancel() {
  Close(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
}

void EventWriter::OnDone() {
  if (registered_) service_->RemoveEventWriter(this);
  Unref();
}

bool EventWriter::MaybeWriteLocked() {
  if (finished_ || closing_ || writing_ || queue_.empty()) return false;
  if (dropped_ > 0) {
    current_.Clear();
    current_.set_kind(Event::KIND_DROPPED);
    current_.set_detail(absl::StrCat(dropped_, " events dropped"));
    current_.set_unix_ms(queue_.front().unix_ms());
    dropped_ = 0;
  } else {
    current_ = std::move(queue_.front());
    queue_.pop_front();
  }
  writing_ = true;
  StartWrite(&current_);
  return true;
}

void EventWriter::Unref() {
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
}

namespace {

class AdminService : public cascade::v1::Admin::CallbackService {
 public:
  explicit AdminService(ControllerService* service) : service_(service) {}

  grpc::ServerUnaryReactor* GetTopology(
      grpc::CallbackServerContext* context,
      const cascade::v1::GetTopologyRequest* request,
      cascade::v1::GetTopologyResponse* response) override {
    return Respond(context, Admit(context), [&] {
      auto result = service_->controller()->GetTopology(request->root());
      if (result.ok()) *response = std::move(*result);
      return result.status();
    });
  }

  grpc::ServerUnaryReactor* GetNode(grpc::CallbackServerContext* context,
                                    const cascade::v1::GetNodeRequest* request,
                                    cascade::v1::NodeView* response) override {
    return Respond(context, Admit(context), [&] {
      auto result = service_->controller()->GetNode(request->id());
      if (result.ok()) *response = std::move(*result);
      return result.status();
    });
  }

  grpc::ServerUnaryReactor* ApplyTopology(
      grpc::CallbackServerContext* context,
      const cascade::v1::ApplyTopologyRequest* request,
      cascade::v1::ChangeResponse* response) override {
    return SubmitAs(context, &Change::mutable_apply, *request, response);
  }
  grpc::ServerUnaryReactor* AddNode(
      grpc::CallbackServerContext* context,
      const cascade::v1::AddNodeRequest* request,
      cascade::v1::ChangeResponse* response) override {
    return SubmitAs(context, &Change::mutable_add, *request, response);
  }
  grpc::ServerUnaryReactor* RemoveNode(
      grpc::CallbackServerContext* context,
      const cascade::v1::RemoveNodeRequest* request,
      cascade::v1::ChangeResponse* response) override {
    return SubmitAs(context, &Change::mutable_remove, *request, response);
  }
  grpc::ServerUnaryReactor* MoveNode(
      grpc::CallbackServerContext* context,
      const cascade::v1::MoveNodeRequest* request,
      cascade::v1::ChangeResponse* response) override {
    return SubmitAs(context, &Change::mutable_move, *request, response);
  }
  grpc::ServerUnaryReactor* DrainNode(
      grpc::CallbackServerContext* context,
      const cascade::v1::DrainNodeRequest* request,
      cascade::v1::ChangeResponse* response) override {
    return SubmitAs(context, &Change::mutable_drain, *request, response);
  }
  grpc::ServerUnaryReactor* Failover(
      grpc::CallbackServerContext* context,
      const cascade::v1::FailoverRequest* request,
      cascade::v1::ChangeResponse* response) override {
    return SubmitAs(context, &Change::mutable_failover, *request, response);
  }
  grpc::ServerUnaryReactor* Restore(
      grpc::CallbackServerContext* context,
      const cascade::v1::RestoreRequest* request,
      cascade::v1::ChangeResponse* response) override {
    return SubmitAs(context, &Change::mutable_restore, *request, response);
  }
  grpc::ServerUnaryReactor* SelectUpstream(
      grpc::CallbackServerContext* context,
      const cascade::v1::UpstreamRequest* request,
      cascade::v1::ChangeResponse* response) override {
    return SubmitAs(context, &Change::mutable_select, *request, response);
  }
  grpc::ServerUnaryReactor* ReleaseUpstream(
      grpc::CallbackServerContext* context,
      const cascade::v1::UpstreamRequest* request,
      cascade::v1::ChangeResponse* response) override {
    return SubmitAs(context, &Change::mutable_release, *request, response);
  }

  grpc::ServerUnaryReactor* GetStats(
      grpc::CallbackServerContext* context, const cascade::v1::StatsRequest*,
      cascade::v1::StatsResponse* response) override {
    return Respond(context, Admit(context), [&] {
      *response = service_->controller()->GetStats();
      response->set_watchers(service_->watcher_count());
      return absl::OkStatus();
    });
  }

  grpc::ServerWriteReactor<Event>* Events(
      grpc::CallbackServerContext* context,
      const cascade::v1::EventsRequest*) override {
    return new EventWriter(service_, service_->options().event_backlog,
                           Admit(context));
  }

 private:
  // Authorised, then served here (a follower refuses, naming the leader),
  // then (mutual TLS) an operator's certificate.
  grpc::Status Admit(grpc::CallbackServerContext* context) const {
    grpc::Status authorized = Authorize(context);
    if (!authorized.ok()) return authorized;
    grpc::Status serving = service_->Serving(context);
    if (!serving.ok() || !service_->options().peer_identity) return serving;
    return RecordRefusal(service_->controller(), CheckOperator(*context), "",
                         "Admin", *context);
  }

  grpc::Status Authorize(grpc::CallbackServerContext* context) const {
    const std::string& token = service_->options().admin_token;
    if (token.empty()) return grpc::Status::OK;
    const std::string expected = "Bearer " + token;
    const auto& metadata = context->client_metadata();
    auto it = metadata.find("authorization");
    if (it == metadata.end()) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          "admin token required (authorization: Bearer ...)");
    }
    // Constant time, so the token cannot be guessed byte by byte.
    if (it->second.size() != expected.size() ||
        CRYPTO_memcmp(it->second.data(), expected.data(), expected.size()) !=
            0) {
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                          "wrong admin token");
    }
    return grpc::Status::OK;
  }

  // A change made of one request, set in the field `set` returns.
  template <typename Request>
  grpc::ServerUnaryReactor* SubmitAs(grpc::CallbackServerContext* context,
                                     Request* (Change::*set)(),
                                     const Request& request,
                                     cascade::v1::ChangeResponse* response) {
    Change change;
    *(change.*set)() = request;
    return Submit(context, std::move(change), response);
  }

  // Finished once the change is durable and applied (on the controller's
  // commit thread), or refused: this callback thread never waits for the
  // store.
  grpc::ServerUnaryReactor* Submit(grpc::CallbackServerContext* context,
                                   Change change,
                                   cascade::v1::ChangeResponse* response) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    grpc::Status admitted = Admit(context);
    if (!admitted.ok()) {
      reactor->Finish(admitted);
      return reactor;
    }
    service_->controller()->SubmitAsync(
        std::move(change), [reactor, response](ChangeResult result) {
          if (result.ok()) *response = *std::move(result);
          reactor->Finish(ToGrpcStatus(result.status()));
        });
    return reactor;
  }

  ControllerService* const service_;
};

}  // namespace

std::unique_ptr<grpc::Service> MakeAdminService(ControllerService* service) {
  return std::make_unique<AdminService>(service);
}

}  // namespace cascade::topology
