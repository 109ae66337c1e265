// The controller benchmark's fake relays: the Fleet's sessions, one per
// node, on gRPC's asynchronous API.
#include "tools/bench/controller_fleet.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace cascade::bench {
namespace {

using cascade::v1::Assignment;

// Registrations in flight at once: enough to fill the pipe, few enough that
// the controller is not handed 100,000 calls in one go.
constexpr int kRegisterWindow = 512;
constexpr int kMaxChannels = 128;

}  // namespace

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  // Each channel its own connection, not one shared subchannel.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(),
                                   args);
}

// A completion-queue tag: what to run when its operation completes.
struct Fleet::Step {
  virtual ~Step() = default;
  virtual void Done(bool ok) = 0;
};

// A step of a node's own calls.
struct Fleet::NodeStep : Step {
  NodeStep(NodeSession* n, void (NodeSession::*f)(bool)) : node(n), fn(f) {}
  void Done(bool ok) override;
  NodeSession* const node;
  void (NodeSession::*const fn)(bool);
};

struct Fleet::NodeSession {
  NodeSession(Fleet* f, std::string node_id, cascade::v1::RelayControl::Stub* s,
              grpc::CompletionQueue* q)
      : fleet(f), id(std::move(node_id)), stub(s), queue(q) {}

  void Register() {
    cascade::v1::RegisterRequest request;
    request.set_node_id(id);
    register_context.set_deadline(
        absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    register_call = stub->AsyncRegister(&register_context, request, queue);
    register_call->Finish(&register_response, &status, &registered_step);
  }
  void OnRegistered(bool) {
    register_call.reset();
    const grpc::Status result = status;
    if (result.ok()) OpenStreams();
    fleet->OnRegistered(*this, result);
  }
  void OpenStreams() {
    std::lock_guard<std::mutex> lock(mu);
    if (cancelled) return;
    fleet->AddLiveCalls(2);
    // Register renewed the lease: the first renewal to count from.
    last_send_ns.store(absl::GetCurrentTimeNanos());
    cascade::v1::WatchRequest request;
    request.set_node_id(id);
    watch = stub->AsyncWatch(&watch_context, request, queue, &watch_started);
    report_request.set_node_id(id);
    report = stub->AsyncReport(&report_context, &report_response, queue,
                               &report_started);
    streams_open = true;
  }

  void OnWatchStarted(bool ok) { ReadOrFinish(ok); }
  void OnWatchRead(bool ok) {
    if (ok) {
      std::lock_guard<std::mutex> lock(mu);
      active_parent =
          assignment.parents().empty() ? "" : assignment.parents(0).id();
      report_request.mutable_stats()->set_receiving_from(active_parent);
    }
    if (ok) fleet->OnAssignment(*this, assignment.version());
    ReadOrFinish(ok);
  }
  void ReadOrFinish(bool ok) {
    if (ok) {
      watch->Read(&assignment, &watch_read);
    } else {
      watch->Finish(&watch_status, &watch_finished);
    }
  }
  void OnWatchFinished(bool) {
    fleet->OnCallDone(*this, "Watch", watch_status);
  }

  // One write in flight: a report still on its way renews the lease too.
  // From the report thread.
  void Send() {
    std::lock_guard<std::mutex> lock(mu);
    if (!report_ready || report_busy) return;
    report_busy = true;
    last_send_ns.store(absl::GetCurrentTimeNanos());
    report->Write(report_request, &report_written);
  }
  void OnReportStarted(bool ok) { ReportIdle(ok); }
  void OnReportWritten(bool ok) { ReportIdle(ok); }
  // The report stream has nothing in flight: ready for the next write,
  // or (failed, cancelled) finished.
  void ReportIdle(bool ok) {
    std::lock_guard<std::mutex> lock(mu);
    report_busy = false;
    if (ok && !cancelled) {
      report_ready = true;
      return;
    }
    FinishReportLocked();
  }
  void FinishReportLocked() {
    if (report_finishing) return;
    report_finishing = true;
    report_ready = false;
    report_busy = true;  // no more writes
    report->Finish(&report_status, &report_finished);
  }
  void OnReportFinished(bool) {
    fleet->OnCallDone(*this, "Report", report_status);
  }

  void Cancel() {
    std::lock_guard<std::mutex> lock(mu);
    cancelled = true;
    register_context.TryCancel();
    if (!streams_open) return;
    watch_context.TryCancel();
    report_context.TryCancel();
    // An idle report stream has no operation to fail: finish it here.
    if (report_ready && !report_busy) FinishReportLocked();
  }

  Fleet* const fleet;
  const std::string id;
  cascade::v1::RelayControl::Stub* const stub;
  grpc::CompletionQueue* const queue;
  grpc::Status status;

  grpc::ClientContext register_context;
  cascade::v1::RegisterResponse register_response;
  std::unique_ptr<
      grpc::ClientAsyncResponseReader<cascade::v1::RegisterResponse>>
      register_call;
  NodeStep registered_step{this, &NodeSession::OnRegistered};

  grpc::ClientContext watch_context;
  std::unique_ptr<grpc::ClientAsyncReader<Assignment>> watch;
  Assignment assignment;
  grpc::Status watch_status;
  NodeStep watch_started{this, &NodeSession::OnWatchStarted};
  NodeStep watch_read{this, &NodeSession::OnWatchRead};
  NodeStep watch_finished{this, &NodeSession::OnWatchFinished};

  grpc::ClientContext report_context;
  cascade::v1::ReportRequest report_request;
  cascade::v1::ReportResponse report_response;
  std::unique_ptr<grpc::ClientAsyncWriter<cascade::v1::ReportRequest>> report;
  grpc::Status report_status;
  NodeStep report_started{this, &NodeSession::OnReportStarted};
  NodeStep report_written{this, &NodeSession::OnReportWritten};
  NodeStep report_finished{this, &NodeSession::OnReportFinished};
  std::atomic<int64_t> last_send_ns{0};

  std::mutex mu;  // orders the report stream's operations and Cancel
  std::string active_parent;  // guarded by mu, as report_request
  bool cancelled = false;
  bool streams_open = false;
  bool report_ready = false;  // started, no write in flight
  bool report_busy = false;
  bool report_finishing = false;
  bool assigned = false;  // guarded by the fleet's mu_
  bool silenced = false;  // guarded by the fleet's report_mu_
};

void Fleet::NodeStep::Done(bool ok) { (node->*fn)(ok); }

// An acknowledgement in flight, freed when it completes.
struct Fleet::AckCall : Step {
  explicit AckCall(NodeSession* n) : node(n) {}
  void Done(bool) override {
    node->fleet->OnCallDone(*node, "Ack", status);
    delete this;
  }
  NodeSession* const node;
  grpc::ClientContext context;
  cascade::v1::AckRequest request;
  cascade::v1::AckResponse response;
  grpc::Status status;
  std::unique_ptr<grpc::ClientAsyncResponseReader<cascade::v1::AckResponse>>
      call;
};

Fleet::Fleet(const std::string& address, const cascade::v1::Topology& topology,
             absl::Duration lease)
    : report_interval_(lease / 3) {
  const int n = topology.nodes_size();
  const int channels = std::clamp(n / kNodesPerChannel + 1, 1, kMaxChannels);
  for (int c = 0; c < channels; ++c) {
    stubs_.push_back(cascade::v1::RelayControl::NewStub(MakeChannel(address)));
  }
  for (int q = 0; q < kQueues; ++q) {
    queues_.push_back(std::make_unique<grpc::CompletionQueue>());
  }
  nodes_.reserve(n);
  for (int i = 0; i < n; ++i) {
    nodes_.push_back(std::make_unique<NodeSession>(this, topology.nodes(i).id(),
                                                   stubs_[i % channels].get(),
                                                   queues_[i % kQueues].get()));
  }
  for (auto& queue : queues_) {
    pollers_.emplace_back([queue = queue.get()] {
      void* tag = nullptr;
      bool ok = false;
      while (queue->Next(&tag, &ok)) static_cast<Step*>(tag)->Done(ok);
    });
  }
}

Fleet::~Fleet() { Shutdown(); }

int Fleet::IndexOf(const std::string& id) const {
  for (int i = 0; i < size(); ++i) {
    if (nodes_[i]->id == id) return i;
  }
  return -1;
}

absl::Status Fleet::Connect(absl::Time deadline) {
  reporter_ = std::thread([this] { ReportLoop(); });
  for (auto& node : nodes_) {
    absl::MutexLock lock(&mu_);
    auto room = [this] { return register_in_flight_ < kRegisterWindow; };
    if (!mu_.AwaitWithDeadline(absl::Condition(&room), deadline)) {
      return RegisterTimeout();
    }
    ++register_in_flight_;
    node->Register();
  }
  absl::MutexLock lock(&mu_);
  auto done = [this] { return register_in_flight_ == 0; };
  if (!mu_.AwaitWithDeadline(absl::Condition(&done), deadline)) {
    return RegisterTimeout();
  }
  if (!first_error_.empty()) return absl::UnavailableError(first_error_);
  return absl::OkStatus();
}

absl::Status Fleet::RegisterTimeout() {
  return absl::DeadlineExceededError(
      absl::StrCat("registering took too long: ", registered_, " of ", size(),
                   " nodes registered"));
}

absl::Status Fleet::AwaitAssignments(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto all = [this] { return assigned_ == size() || !first_error_.empty(); };
  mu_.AwaitWithDeadline(absl::Condition(&all), deadline);
  if (!first_error_.empty()) return absl::UnavailableError(first_error_);
  if (assigned_ < size()) {
    return absl::DeadlineExceededError(absl::StrCat(
        assigned_, " of ", size(), " nodes got an assignment in time"));
  }
  return absl::OkStatus();
}

std::vector<std::string> Fleet::ActiveParents() {
  std::vector<std::string> parents;
  parents.reserve(nodes_.size());
  for (auto& node : nodes_) {
    std::lock_guard<std::mutex> lock(node->mu);
    parents.push_back(node->active_parent);
  }
  return parents;
}

void Fleet::SetReceivingFrom(const std::vector<std::string>& parents) {
  for (size_t i = 0; i < nodes_.size() && i < parents.size(); ++i) {
    std::lock_guard<std::mutex> lock(nodes_[i]->mu);
    nodes_[i]->report_request.mutable_stats()->set_receiving_from(parents[i]);
  }
}

void Fleet::AwaitQuiet(absl::Duration quiet, absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  // A plain timed wait that releases the lock, so arrivals can move
  // last_arrival_ meanwhile.
  auto never = [] { return false; };
  while (absl::Now() < deadline) {
    const absl::Time until = last_arrival_ + quiet;
    if (absl::Now() >= until) return;
    mu_.AwaitWithDeadline(absl::Condition(&never), std::min(until, deadline));
  }
}

void Fleet::StartMeasuring() {
  absl::MutexLock lock(&mu_);
  measuring_ = true;
  measured_ = 0;
}

absl::Time Fleet::StopReporting(int node) {
  absl::MutexLock lock(&report_mu_);
  nodes_[node]->silenced = true;
  return absl::FromUnixNanos(nodes_[node]->last_send_ns.load());
}

Fleet::Arrivals Fleet::Measured() {
  absl::MutexLock lock(&mu_);
  return {measured_, first_measured_, last_measured_};
}

bool Fleet::AwaitMeasured(int64_t count, absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto enough = [&] { return measured_ >= count; };
  return mu_.AwaitWithDeadline(absl::Condition(&enough), deadline);
}

std::string Fleet::first_error() {
  absl::MutexLock lock(&mu_);
  return first_error_;
}

void Fleet::Shutdown() {
  {
    absl::MutexLock lock(&report_mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (reporter_.joinable()) reporter_.join();
  for (auto& node : nodes_) node->Cancel();
  bool idle_in_time;
  {
    absl::MutexLock lock(&mu_);
    auto idle = [this] { return live_calls_ == 0 && register_in_flight_ == 0; };
    idle_in_time = mu_.AwaitWithDeadline(absl::Condition(&idle),
                                         absl::Now() + absl::Seconds(20));
  }
  if (!idle_in_time) {
    // Operations gRPC still holds must outlive it: leak the nodes, queues
    // and their threads rather than free what a completion may touch.
    for (auto& node : nodes_) node.release();
    for (auto& stub : stubs_) stub.release();
    for (auto& queue : queues_) queue.release();
    for (std::thread& poller : pollers_) poller.detach();
    return;
  }
  for (auto& queue : queues_) queue->Shutdown();
  for (std::thread& poller : pollers_) poller.join();
}

void Fleet::OnRegistered(const NodeSession& node, const grpc::Status& status) {
  absl::MutexLock lock(&mu_);
  --register_in_flight_;
  if (status.ok()) ++registered_;
  if (!status.ok() && status.error_code() != grpc::StatusCode::CANCELLED &&
      first_error_.empty()) {
    first_error_ =
        absl::StrCat("Register ", node.id, ": ", status.error_message());
  }
}

void Fleet::AddLiveCalls(int count) {
  absl::MutexLock lock(&mu_);
  live_calls_ += count;
}

void Fleet::OnAssignment(NodeSession& node, uint64_t version) {
  const absl::Time now = absl::Now();
  auto* ack = new AckCall(&node);
  ack->request.set_node_id(node.id);
  ack->request.set_version(version);
  ack->context.set_deadline(absl::ToChronoTime(now + absl::Seconds(30)));
  {
    absl::MutexLock lock(&mu_);
    ++live_calls_;
    last_arrival_ = now;
    if (!node.assigned) {
      node.assigned = true;
      ++assigned_;
    }
    if (measuring_) {
      ++measured_;
      first_measured_ = std::min(first_measured_, now);
      last_measured_ = std::max(last_measured_, now);
    }
  }
  ack->call = node.stub->AsyncAck(&ack->context, ack->request, node.queue);
  ack->call->Finish(&ack->response, &ack->status, ack);
}

void Fleet::OnCallDone(const NodeSession& node, const char* call,
                       const grpc::Status& status) {
  absl::MutexLock lock(&mu_);
  --live_calls_;
  // Cancelled is how Shutdown ends every stream.
  if (!status.ok() && status.error_code() != grpc::StatusCode::CANCELLED &&
      first_error_.empty()) {
    first_error_ =
        absl::StrCat(call, " ", node.id, ": ", status.error_message());
  }
}

void Fleet::ReportLoop() {
  constexpr absl::Duration kSlice = absl::Milliseconds(20);
  const int per_slice = static_cast<int>(
      std::ceil(size() * absl::FDivDuration(kSlice, report_interval_)));
  int next = 0;
  absl::Time slice_end = absl::Now();
  for (;;) {
    slice_end += kSlice;
    {
      absl::MutexLock lock(&report_mu_);
      if (stopping_) return;
      for (int k = 0; k < per_slice; ++k, next = (next + 1) % size()) {
        NodeSession& node = *nodes_[next];
        if (!node.silenced) node.Send();
      }
    }
    absl::SleepFor(slice_end - absl::Now());
  }
}

}  // namespace cascade::bench
