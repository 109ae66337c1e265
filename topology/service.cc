#include "topology/service.h"

#include <glog/logging.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "control/controllers.h"
#include "topology/admin_service.h"
#include "topology/peer_identity.h"

namespace cascade::topology {

using cascade::v1::Assignment;
using cascade::v1::Event;

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

void ServerStopper::operator()(grpc::Server* server) const {
  server->Shutdown(absl::ToChronoTime(absl::Now()));
  service->StopRelayStreams();
  delete server;
}

void ControllerService::QueueWrite(QueuedWriter* writer) {
  absl::MutexLock lock(&ready_mu_);
  ready_.push_back(writer);
}

void ControllerService::RunWriter() {
  std::vector<QueuedWriter*> batch;
  // A burst: from the queue filling until it is empty again. Logged when it
  // is a push to many (a failover's), not each Watch's first write.
  constexpr size_t kLoggedBurst = 100;
  absl::Time burst_began = absl::InfinitePast();
  size_t burst_writes = 0;
  for (;;) {
    {
      absl::MutexLock lock(&ready_mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(ready_mu_) {
        return stopping_ || !ready_.empty();
      };
      if (!ready() && burst_writes > 0) {
        VLOG_IF(1, burst_writes >= kLoggedBurst)
            << "service: " << burst_writes << " writes started in "
            << absl::FormatDuration(absl::Now() - burst_began);
        burst_writes = 0;
      }
      ready_mu_.Await(absl::Condition(&ready));
      // Drained before stopping: each queued writer holds a reference.
      if (ready_.empty()) return;
      batch.swap(ready_);
    }
    if (burst_writes == 0) burst_began = absl::Now();
    for (QueuedWriter* writer : batch) burst_writes += writer->WriteQueued();
    batch.clear();
  }
}

void ControllerService::Lead(Controller* controller) {
  // Before it is published: the controller calls the listener under its
  // own lock, which then takes mu_, so never the other way round.
  controller->SetListener(this);
  absl::MutexLock lock(&mu_);
  controller_.store(controller);
}

grpc::Status ControllerService::ServingNode(grpc::ServerContextBase* context,
                                            const std::string& node_id,
                                            absl::string_view call,
                                            std::string* serial) {
  grpc::Status serving = Serving(context);
  if (!serving.ok() || !options_.peer_identity) return serving;
  const NodePeer peer(*context, controller());
  if (serial != nullptr) *serial = std::string(peer.serial());
  return RecordRefusal(controller(), &denied_, peer.Check(node_id), node_id,
                       call, *context);
}

grpc::Status ControllerService::ServingNodes(
    grpc::ServerContextBase* context,
    const google::protobuf::RepeatedPtrField<std::string>& node_ids,
    absl::string_view call) {
  grpc::Status serving = Serving(context);
  if (!serving.ok() || !options_.peer_identity) return serving;
  const NodePeer peer(*context, controller());
  for (const std::string& node_id : node_ids) {
    if (absl::Status refusal = peer.Check(node_id); !refusal.ok()) {
      return RecordRefusal(controller(), &denied_, refusal, node_id, call,
                           *context);
    }
  }
  return grpc::Status::OK;
}

grpc::Status ControllerService::Serving(
    grpc::ServerContextBase* context) const {
  {
    absl::MutexLock lock(&mu_);
    if (!shut_down_ && controller_.load() != nullptr) return grpc::Status::OK;
  }
  // A single controller (no group) that shuts down names no leader.
  if (!options_.leader_address) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        "controller shutting down");
  }
  const std::string leader = options_.leader_address();
  context->AddTrailingMetadata(control::kLeaderMetadata, leader);
  return grpc::Status(
      grpc::StatusCode::UNAVAILABLE,
      leader.empty()
          ? "this controller does not lead and no leader is known yet "
            "(election in progress); retry"
          : absl::StrCat("this controller does not lead; the leader is ",
                         leader));
}

size_t ControllerService::watcher_count() const {
  absl::MutexLock lock(&mu_);
  size_t count = 0;
  for (const auto& [id, writers] : watchers_) count += writers.size();
  return count;
}

void ControllerService::OnEvent(const Event& event) {
  absl::MutexLock lock(&mu_);
  for (EventWriter* writer : event_writers_) writer->Offer(event);
}

bool ControllerService::AddEventWriter(EventWriter* writer) {
  absl::MutexLock lock(&mu_);
  if (shut_down_) return false;
  event_writers_.insert(writer);
  return true;
}

void ControllerService::RemoveEventWriter(EventWriter* writer) {
  absl::MutexLock lock(&mu_);
  event_writers_.erase(writer);
}

absl::StatusOr<ServerHandle> StartServer(
    ControllerService* service, const std::string& listen,
    std::shared_ptr<grpc::ServerCredentials> credentials, int* bound_port) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(listen, std::move(credentials), bound_port);
  // gRPC shares a port between servers by default (SO_REUSEPORT): a second
  // controller started on a busy address would silently take half of the
  // connections instead of failing.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  ApplyServerLimits(service->options().limits, &builder);
  if (service->options().admin_calls != nullptr) {
    std::vector<
        std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
        interceptors;
    interceptors.push_back(
        service->options().admin_calls->InterceptorFactory());
    builder.experimental().SetInterceptorCreators(std::move(interceptors));
  }
  builder.RegisterService(service->relay_service());
  builder.RegisterService(service->admin_service());
  service->AddCompletionQueues(&builder);
  ServerHandle server(builder.BuildAndStart().release(),
                      ServerStopper{service});
  if (server == nullptr || *bound_port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", listen));
  }
  service->AwaitRelayStreams();
  return server;
}

}  // namespace cascade::topology
