#include "control/relay_client.h"

#include <glog/logging.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace cascade::control {
namespace {

// How long a session start waits for its channel to connect (RunSession).
constexpr absl::Duration kConnectWait = absl::Seconds(1);

}  // namespace

RelayClient::RelayClient(RelayClientOptions options,
                         AssignmentListener* listener)
    : options_(std::move(options)), listener_(listener) {}

RelayClient::~RelayClient() { Stop(); }

void RelayClient::Start() {
  absl::MutexLock lock(&mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { Run(); });
}

void RelayClient::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (watch_context_ != nullptr) watch_context_->TryCancel();
    if (report_context_ != nullptr) report_context_->TryCancel();
  }
  if (thread_.joinable()) thread_.join();
}

int RelayClient::sessions() const {
  absl::MutexLock lock(&mu_);
  return sessions_;
}

std::string RelayClient::controller() const {
  absl::MutexLock lock(&mu_);
  return session_controller_;
}

void RelayClient::Run() {
  absl::StatusOr<std::vector<std::string>> list =
      ParseControllerList(options_.controller);
  ControllerTargets targets(
      list.ok() ? *std::move(list)
                : std::vector<std::string>{options_.controller});
  absl::Duration backoff = options_.min_backoff;
  while (true) {
    absl::Time started = absl::Now();
    const std::string controller = targets.current();
    Redirect redirect;
    bool watched = false;
    absl::Status status = RunSession(controller, &redirect, &watched);
    // An assignment came: this controller led; when it fails, every other
    // one is worth a try before backing off. (Registering alone is not
    // enough: a node the controller does not know registers, then its
    // Watch ends at once, and that must back off.)
    if (watched) targets.Succeeded();
    // A session that lived a while was healthy: start backing off afresh.
    if (absl::Now() - started > options_.max_backoff) {
      backoff = options_.min_backoff;
    }
    // Backing off only once the whole list failed: the next controller may
    // well be the leader.
    const bool pass_failed = targets.Failed(redirect.leader);
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    if (!pass_failed) {
      LOG(WARNING) << "node " << options_.node_id << ": " << controller << ": "
                   << status << "; trying " << targets.current();
      continue;
    }
    if (absl::IsPermissionDenied(status) || absl::IsUnauthenticated(status)) {
      backoff = std::max(backoff, options_.refused_backoff);
    }
    LOG(WARNING) << "node " << options_.node_id << ": " << controller << ": "
                 << status << "; reconnecting to " << targets.current()
                 << " in " << backoff;
    // Jittered, so the relays of a network that lost their controller
    // together do not come back to it in step.
    mu_.AwaitWithTimeout(
        absl::Condition(&stopping_),
        backoff * std::uniform_real_distribution<double>(0.5, 1.5)(jitter_));
    if (stopping_) return;
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

std::shared_ptr<grpc::Channel> RelayClient::ChannelFor(
    const std::string& controller) {
  std::shared_ptr<grpc::Channel>& channel = channels_[controller];
  if (channel == nullptr) {
    // Within the client's own backoff (see also RunSession).
    channel = ControllerChannel(controller, options_.credentials,
                                options_.min_backoff, options_.max_backoff);
  }
  return channel;
}

absl::Status RelayClient::RunSession(const std::string& controller,
                                     Redirect* redirect, bool* watched) {
  std::shared_ptr<grpc::Channel> channel = ChannelFor(controller);
  // The first attempt after a connected session reconnects at once (gRPC
  // would otherwise wait out its own backoff). Later ones leave the pacing
  // to gRPC's backoff (at most options_.max_backoff, see ChannelFor): the
  // relays of a process share the connection, and each one resetting it
  // made a process of 12 relays spend 2.6 times the CPU while its
  // controller was away; a national network's relays then starved the
  // machine the controller was restarting on. The wait lets a connection
  // attempt finish (bounded: a controller that is down costs at most this
  // before the next one in the list is tried).
  if (!connect_failed_) {
    grpc::experimental::ChannelResetConnectionBackoff(channel.get());
  }
  connect_failed_ = !channel->WaitForConnected(
      absl::ToChronoTime(absl::Now() + kConnectWait));
  // No call on a channel that is not up: it could only fail.
  if (connect_failed_) {
    return absl::UnavailableError(absl::StrCat(
        "not connected within ", absl::FormatDuration(kConnectWait)));
  }
  auto stub = cascade::v1::RelayControl::NewStub(channel);

  cascade::v1::RegisterRequest register_request;
  register_request.set_node_id(options_.node_id);
  register_request.set_media_address(options_.media_address);
  cascade::v1::RegisterResponse registered;
  grpc::ClientContext register_context;
  register_context.set_deadline(
      absl::ToChronoTime(absl::Now() + options_.call_timeout));
  grpc::Status status =
      stub->Register(&register_context, register_request, &registered);
  if (!status.ok()) {
    *redirect = RedirectOf(register_context);
    return FromGrpc(status, "register");
  }

  absl::Duration interval = options_.report_interval;
  if (registered.lease_timeout_ms() > 0) {
    interval = std::min(interval,
                        absl::Milliseconds(registered.lease_timeout_ms()) / 3);
  }

  grpc::ClientContext watch_context;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return absl::CancelledError("stopping");
    ++sessions_;
    session_controller_ = controller;
    session_over_ = false;
    watch_context_ = &watch_context;
  }
  std::thread reporter(
      [&] { ReportLoop(stub.get(), interval, &watch_context); });

  cascade::v1::WatchRequest watch_request;
  watch_request.set_node_id(options_.node_id);
  auto reader = stub->Watch(&watch_context, watch_request);
  cascade::v1::Assignment assignment;
  while (reader->Read(&assignment)) {
    *watched = true;
    cascade::v1::Assignment content = assignment;
    content.clear_version();
    std::string serialized = content.SerializeAsString();
    absl::Status applied = absl::OkStatus();
    if (serialized != applied_content_) {
      applied = listener_->OnAssignment(assignment);
      if (applied.ok()) applied_content_ = std::move(serialized);
    }
    cascade::v1::AckRequest ack;
    ack.set_node_id(options_.node_id);
    ack.set_version(assignment.version());
    if (!applied.ok()) ack.set_error(std::string(applied.message()));
    cascade::v1::AckResponse ack_response;
    grpc::ClientContext ack_context;
    ack_context.set_deadline(
        absl::ToChronoTime(absl::Now() + options_.call_timeout));
    grpc::Status acked = stub->Ack(&ack_context, ack, &ack_response);
    if (!acked.ok()) {
      LOG(WARNING) << "node " << options_.node_id << ": ack of version "
                   << assignment.version()
                   << " failed: " << acked.error_message();
    }
  }
  status = reader->Finish();
  *redirect = RedirectOf(watch_context);
  {
    absl::MutexLock lock(&mu_);
    session_over_ = true;
    watch_context_ = nullptr;
    if (report_context_ != nullptr) report_context_->TryCancel();
  }
  reporter.join();
  return status.ok() ? absl::UnavailableError("watch ended")
                     : FromGrpc(status, "watch");
}

void RelayClient::ReportLoop(cascade::v1::RelayControl::Stub* stub,
                             absl::Duration interval,
                             grpc::ClientContext* watch_context) {
  grpc::ClientContext context;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_ || session_over_) return;
    report_context_ = &context;
  }
  cascade::v1::ReportResponse response;
  auto writer = stub->Report(&context, &response);
  while (true) {
    cascade::v1::ReportRequest report;
    report.set_node_id(options_.node_id);
    if (options_.stats) *report.mutable_stats() = options_.stats();
    if (!writer->Write(report)) break;
    absl::MutexLock lock(&mu_);
    auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return stopping_ || session_over_;
    };
    if (mu_.AwaitWithTimeout(absl::Condition(&done), interval)) break;
  }
  writer->WritesDone();
  grpc::Status status = writer->Finish();
  absl::MutexLock lock(&mu_);
  report_context_ = nullptr;
  // Without reports the lease lapses: end the session so it starts afresh.
  if (!session_over_) {
    LOG(WARNING) << "node " << options_.node_id
                 << ": report stream ended: " << status.error_message();
    watch_context->TryCancel();
  }
}

}  // namespace cascade::control
