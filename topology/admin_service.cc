#include "topology/admin_service.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "security/identity.h"
#include "topology/admin_gate.h"

namespace cascade::topology {

using cascade::v1::Change;
using cascade::v1::Event;

EventWriter::EventWriter(ControllerService* service, size_t backlog,
                         grpc::Status refusal, size_t history)
    : service_(service), backlog_(backlog) {
  if (!refusal.ok()) {
    Close(std::move(refusal));
    return;
  }
  // Registered under the controller's lock, with the audit trail offered
  // first: no event between the two is missed or sent twice.
  service_->controller()->WithAuditHistory(
      std::min(history, backlog_), [this](std::vector<Event> events) {
        registered_ = service_->AddEventWriter(this);
        if (!registered_) return;
        for (const Event& event : events) Offer(event);
      });
  if (!registered_) {
    Close(grpc::Status(grpc::StatusCode::UNAVAILABLE, "shutting down"));
  }
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

// What a revocation names, for the audit: the certificate's serial and
// holder, or the serial alone. The controller checks it properly.
std::string RevocationTarget(
    const cascade::v1::RevokeCertificateRequest& revoke) {
  if (revoke.certificate_pem().empty()) {
    return absl::StrCat("certificate ", revoke.serial());
  }
  absl::StatusOr<security::CertificateInfo> info =
      security::CertificateInfoFromPem(revoke.certificate_pem());
  if (!info.ok()) return "a certificate that does not parse";
  return absl::StrCat("certificate ", info->serial, " of ",
                      security::Describe(info->identity));
}

class AdminService : public cascade::v1::Admin::CallbackService {
 public:
  explicit AdminService(ControllerService* service)
      : service_(service), gate_(GateOptions(service->options())) {}

  grpc::ServerUnaryReactor* GetTopology(
      grpc::CallbackServerContext* context,
      const cascade::v1::GetTopologyRequest* request,
      cascade::v1::GetTopologyResponse* response) override {
    return Respond(
        context, Admit(context, "GetTopology", request->root()), [&] {
          auto result = service_->controller()->GetTopology(request->root());
          if (result.ok()) *response = std::move(*result);
          return result.status();
        });
  }

  grpc::ServerUnaryReactor* GetNode(grpc::CallbackServerContext* context,
                                    const cascade::v1::GetNodeRequest* request,
                                    cascade::v1::NodeView* response) override {
    return Respond(context, Admit(context, "GetNode", request->id()), [&] {
      auto result = service_->controller()->GetNode(request->id());
      if (result.ok()) *response = std::move(*result);
      return result.status();
    });
  }

  grpc::ServerUnaryReactor* ApplyTopology(
      grpc::CallbackServerContext* context,
      const cascade::v1::ApplyTopologyRequest* request,
      cascade::v1::ChangeResponse* response) override {
    return SubmitAs(
        context, "ApplyTopology",
        absl::StrCat(
            request->source().empty() ? "a topology" : request->source(), " (",
            request->topology().nodes_size(), " nodes)"),
        &Change::mutable_apply, *request, response);
  }
  grpc::ServerUnaryReactor* AddNode(
      grpc::CallbackServerContext* context,
      const cascade::v1::AddNodeRequest* request,
      cascade::v1::ChangeResponse* response) override {
    return SubmitAs(context, "AddNode", request->node().id(),
                    &Change::mutable_add, *request, response);
  }
  grpc::ServerUnaryReactor* RemoveNode(
      grpc::CallbackServerContext* context,
      const cascade::v1::RemoveNodeRequest* request,
      cascade::v1::ChangeResponse* response) override {
    return SubmitAs(context, "RemoveNode", request->id(),
                    &Change::mutable_remove, *request, response);
  }
  grpc::ServerUnaryReactor* MoveNode(
      grpc::CallbackServerContext* context,
      const cascade::v1::MoveNodeRequest* request,
      cascade::v1::ChangeResponse* response) override {
    return SubmitAs(context, "MoveNode",
                    absl::StrCat(request->id(), " -> ", request->new_parent()),
                    &Change::mutable_move, *request, response);
  }
  grpc::ServerUnaryReactor* DrainNode(
      grpc::CallbackServerContext* context,
      const cascade::v1::DrainNodeRequest* request,
      cascade::v1::ChangeResponse* response) override {
    return SubmitAs(context, "DrainNode", request->id(), &Change::mutable_drain,
                    *request, response);
  }
  grpc::ServerUnaryReactor* Failover(
      grpc::CallbackServerContext* context,
      const cascade::v1::FailoverRequest* request,
      cascade::v1::ChangeResponse* response) override {
    return SubmitAs(context, "Failover", request->id(),
                    &Change::mutable_failover, *request, response);
  }
  grpc::ServerUnaryReactor* Restore(
      grpc::CallbackServerContext* context,
      const cascade::v1::RestoreRequest* request,
      cascade::v1::ChangeResponse* response) override {
    return SubmitAs(context, "Restore", request->id(), &Change::mutable_restore,
                    *request, response);
  }
  grpc::ServerUnaryReactor* SelectUpstream(
      grpc::CallbackServerContext* context,
      const cascade::v1::UpstreamRequest* request,
      cascade::v1::ChangeResponse* response) override {
    return SubmitAs(context, "SelectUpstream", request->site(),
                    &Change::mutable_select, *request, response);
  }
  grpc::ServerUnaryReactor* ReleaseUpstream(
      grpc::CallbackServerContext* context,
      const cascade::v1::UpstreamRequest* request,
      cascade::v1::ChangeResponse* response) override {
    return SubmitAs(context, "ReleaseUpstream", request->site(),
                    &Change::mutable_release, *request, response);
  }
  grpc::ServerUnaryReactor* RevokeToken(
      grpc::CallbackServerContext* context,
      const cascade::v1::RevokeTokenRequest* request,
      cascade::v1::ChangeResponse* response) override {
    cascade::v1::RevokeTokenRequest revoke;
    revoke.set_operator_(request->operator_());
    revoke.set_token_id(request->token_id());
    return SubmitAs(context, "RevokeToken",
                    revoke.operator_().empty()
                        ? "with id " + revoke.token_id()
                        : "of operator " + revoke.operator_(),
                    &Change::mutable_revoke_token, revoke, response);
  }

  grpc::ServerUnaryReactor* RotateEdgeKey(
      grpc::CallbackServerContext* context,
      const cascade::v1::RotateEdgeKeyRequest*,
      cascade::v1::ChangeResponse* response) override {
    // The controller makes the key; nothing of the request is used.
    return SubmitAs(context, "RotateEdgeKey", "",
                    &Change::mutable_rotate_edge_key,
                    cascade::v1::RotateEdgeKeyRequest(), response);
  }
  grpc::ServerUnaryReactor* RotateLinkKeys(
      grpc::CallbackServerContext* context,
      const cascade::v1::RotateLinkKeysRequest* request,
      cascade::v1::ChangeResponse* response) override {
    // The controller makes the keys; only the node is taken.
    cascade::v1::RotateLinkKeysRequest rotate;
    rotate.set_node(request->node());
    return SubmitAs(context, "RotateLinkKeys",
                    rotate.node().empty() ? "every relay" : rotate.node(),
                    &Change::mutable_rotate_link_keys, rotate, response);
  }
  grpc::ServerUnaryReactor* RotateStreamKey(
      grpc::CallbackServerContext* context,
      const cascade::v1::RotateStreamKeyRequest* request,
      cascade::v1::ChangeResponse* response) override {
    // The controller makes the keys; only the stream is taken.
    cascade::v1::RotateStreamKeyRequest rotate;
    rotate.set_stream(request->stream());
    return SubmitAs(
        context, "RotateStreamKey",
        rotate.stream().empty() ? "every downstream stream" : rotate.stream(),
        &Change::mutable_rotate_stream_key, rotate, response);
  }
  grpc::ServerUnaryReactor* RevokeCertificate(
      grpc::CallbackServerContext* context,
      const cascade::v1::RevokeCertificateRequest* request,
      cascade::v1::ChangeResponse* response) override {
    // The controller fills in the rest from the certificate.
    cascade::v1::RevokeCertificateRequest revoke;
    revoke.set_certificate_pem(request->certificate_pem());
    revoke.set_serial(request->serial());
    return SubmitAs(context, "RevokeCertificate", RevocationTarget(revoke),
                    &Change::mutable_revoke_certificate, revoke, response);
  }
  grpc::ServerUnaryReactor* MintEdgeToken(
      grpc::CallbackServerContext* context,
      const cascade::v1::MintEdgeTokenRequest* request,
      cascade::v1::MintEdgeTokenResponse* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    cascade::v1::AuditRecord audit;
    grpc::Status admitted = gate_.Admit(
        service_, context, "MintEdgeToken",
        absl::StrCat(request->publish() ? "publish" : "watch",
                     request->center() ? " center" : "",
                     request->node().empty() ? "" : " ", request->node()),
        &audit);
    if (!admitted.ok()) {
      reactor->Finish(admitted);
      return reactor;
    }
    // Answered once the audit record naming the token is durable.
    service_->controller()->MintEdgeTokenAsync(
        *request, std::move(audit), [reactor, response](MintResult result) {
          if (result.ok()) *response = *std::move(result);
          reactor->Finish(ToGrpcStatus(result.status()));
        });
    return reactor;
  }

  grpc::ServerUnaryReactor* GetStats(
      grpc::CallbackServerContext* context, const cascade::v1::StatsRequest*,
      cascade::v1::StatsResponse* response) override {
    return Respond(context, Admit(context, "GetStats", ""), [&] {
      *response = service_->controller()->GetStats();
      response->set_watchers(service_->watcher_count());
      return absl::OkStatus();
    });
  }

  grpc::ServerWriteReactor<Event>* Events(
      grpc::CallbackServerContext* context,
      const cascade::v1::EventsRequest* request) override {
    return new EventWriter(service_, service_->options().event_backlog,
                           Admit(context, "Events", ""), request->history());
  }

 private:
  static AdminGateOptions GateOptions(const ServiceOptions& options) {
    AdminGateOptions gate;
    gate.shared_token = options.admin_token;
    gate.client_certificates = options.peer_identity;
    gate.tokens = options.token_verifier;
    gate.calls_per_second = options.admin_rate;
    gate.burst = options.admin_burst;
    return gate;
  }

  grpc::Status Admit(grpc::CallbackServerContext* context,
                     absl::string_view method, const std::string& target) {
    cascade::v1::AuditRecord audit;
    return gate_.Admit(service_, context, method, target, &audit);
  }

  // A change made of one request, set in the field `set` returns.
  template <typename Request>
  grpc::ServerUnaryReactor* SubmitAs(grpc::CallbackServerContext* context,
                                     absl::string_view method,
                                     const std::string& target,
                                     Request* (Change::*set)(),
                                     const Request& request,
                                     cascade::v1::ChangeResponse* response) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    Change change;
    grpc::Status admitted =
        gate_.Admit(service_, context, method, target, change.mutable_audit());
    if (!admitted.ok()) {
      reactor->Finish(admitted);
      return reactor;
    }
    *(change.*set)() = request;
    Submit(reactor, std::move(change), response);
    return reactor;
  }

  // Finished once the change is durable and applied (on the controller's
  // commit thread), or refused: this callback thread never waits for the
  // store.
  void Submit(grpc::ServerUnaryReactor* reactor, Change change,
              cascade::v1::ChangeResponse* response) {
    service_->controller()->SubmitAsync(
        std::move(change), [reactor, response](ChangeResult result) {
          if (result.ok()) *response = *std::move(result);
          reactor->Finish(ToGrpcStatus(result.status()));
        });
  }

  ControllerService* const service_;
  AdminGate gate_;
};

}  // namespace

std::unique_ptr<grpc::Service> MakeAdminService(ControllerService* service) {
  return std::make_unique<AdminService>(service);
}

}  // namespace cascade::topology
