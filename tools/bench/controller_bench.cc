#include "tools/bench/controller_bench.h"

#include <grpcpp/grpcpp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "base/subprocess.h"
#include "google/protobuf/text_format.h"
#include "proto/controller.grpc.pb.h"
#include "tools/bench/process.h"

namespace cascade::bench {
namespace {

using cascade::v1::Assignment;
using cascade::v1::Node;

constexpr uint32_t kCommandKbps = 2600;  // as the reference topologies
constexpr int kDistrictsPerProvince = 27;
constexpr int kNodesPerProvince = 1650;  // its twin, districts and sites
// Registrations in flight at once: enough to fill the pipe, few enough that
// the controller is not handed 100,000 calls in one go.
constexpr int kRegisterWindow = 512;
// Nodes per channel (one HTTP/2 connection each), so no one connection
// carries every stream.
constexpr int kNodesPerChannel = 1000;
constexpr int kMaxChannels = 128;

Node MakeNode(const std::string& id, cascade::v1::Tier tier,
              const std::string& address, uint32_t max_children,
              const std::string& region) {
  Node node;
  node.set_id(id);
  node.set_tier(tier);
  node.set_media_address(absl::StrCat(address, ":5004"));
  if (max_children > 0) {
    node.mutable_capacity()->set_max_children(max_children);
    node.mutable_capacity()->set_uplink_kbps(
        static_cast<uint64_t>(max_children) * kCommandKbps);
  }
  node.set_role(cascade::v1::ROLE_ACTIVE);
  (*node.mutable_labels())["region"] = region;
  return node;
}

// topologyd on 127.0.0.1 (port chosen by the kernel) with a fresh state dir.
struct Controller {
  std::unique_ptr<Subprocess> process;
  std::string address;
  std::string log;
};

absl::StatusOr<Controller> StartController(const ControllerCaseSetup& setup,
                                           const std::string& tag,
                                           const std::string& topology_file) {
  const std::string state_dir = absl::StrCat(setup.work_dir, "/state-", tag);
  const std::string port_file = absl::StrCat(setup.work_dir, "/port-", tag);
  // The fleet shares a connection among kNodesPerChannel nodes (two streams
  // each), and a 100,000-node apply is about 7 MB: both beyond topologyd's
  // defaults, which are sized for real relays and callers.
  std::vector<std::string> argv = {
      setup.topologyd,
      "--listen=127.0.0.1:0",
      "--port-file=" + port_file,
      "--state-dir=" + state_dir,
      absl::StrCat("--lease-timeout=", absl::ToInt64Milliseconds(setup.lease),
                   "ms"),
      absl::StrCat("--max-streams-per-connection=", 4 * kNodesPerChannel),
      absl::StrCat("--max-receive-bytes=", 64 << 20)};
  // The controller's own work, not TLS's (docs/sim.md compares the two).
  argv.push_back("--insecure");
  if (!topology_file.empty()) argv.push_back("--topology=" + topology_file);
  const std::string log =
      absl::StrCat(setup.work_dir, "/topologyd-", tag, ".log");
  absl::StatusOr<std::unique_ptr<Subprocess>> process =
      Subprocess::Start(argv, {log, log});
  if (!process.ok()) return process.status();
  // Seeding 100,000 nodes from a file takes a while on a loaded machine.
  const absl::Time deadline = absl::Now() + absl::Seconds(120);
  int port = 0;
  while (port == 0) {
    std::ifstream file(port_file);
    if (!(file >> port)) port = 0;
    if (port != 0) break;
    if (!(*process)->Running() || absl::Now() > deadline) {
      return absl::UnavailableError(
          absl::StrCat("topologyd did not start: ", FileTail(log, 300)));
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  return Controller{std::move(*process), absl::StrCat("127.0.0.1:", port), log};
}

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  // Each channel its own connection, not one shared subchannel.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(),
                                   args);
}

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
        absl::Duration lease)
      : report_interval_(lease / 3) {
    const int n = topology.nodes_size();
    const int channels = std::clamp(n / kNodesPerChannel + 1, 1, kMaxChannels);
    for (int c = 0; c < channels; ++c) {
      stubs_.push_back(
          cascade::v1::RelayControl::NewStub(MakeChannel(address)));
    }
    for (int q = 0; q < kQueues; ++q) {
      queues_.push_back(std::make_unique<grpc::CompletionQueue>());
    }
    nodes_.reserve(n);
    for (int i = 0; i < n; ++i) {
      nodes_.push_back(std::make_unique<NodeSession>(
          this, topology.nodes(i).id(), stubs_[i % channels].get(),
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

  ~Fleet() { Shutdown(); }

  int size() const { return static_cast<int>(nodes_.size()); }
  int IndexOf(const std::string& id) const {
    for (int i = 0; i < size(); ++i) {
      if (nodes_[i]->id == id) return i;
    }
    return -1;
  }

  // Registers every node (a window of calls in flight) and opens its
  // streams; reports start at once.
  absl::Status Connect(absl::Time deadline) {
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

  absl::Status RegisterTimeout() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return absl::DeadlineExceededError(
        absl::StrCat("registering took too long: ", registered_, " of ", size(),
                     " nodes registered"));
  }

  // Until every node holds an assignment.
  absl::Status AwaitAssignments(absl::Time deadline) {
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

  // Until no assignment has arrived for `quiet` (bounded by `deadline`).
  void AwaitQuiet(absl::Duration quiet, absl::Time deadline) {
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

  // Arrivals from now on are counted.
  void StartMeasuring() {
    absl::MutexLock lock(&mu_);
    measuring_ = true;
    measured_ = 0;
  }

  // `node` reports no more; returns when its last report was sent.
  absl::Time StopReporting(int node) {
    absl::MutexLock lock(&report_mu_);
    nodes_[node]->silenced = true;
    return absl::FromUnixNanos(nodes_[node]->last_send_ns.load());
  }

  struct Arrivals {
    int64_t count = 0;
    absl::Time first = absl::InfiniteFuture();
    absl::Time last = absl::InfinitePast();
  };
  Arrivals Measured() {
    absl::MutexLock lock(&mu_);
    return {measured_, first_measured_, last_measured_};
  }
  // Until `count` new versions arrived since StartMeasuring.
  bool AwaitMeasured(int64_t count, absl::Time deadline) {
    absl::MutexLock lock(&mu_);
    auto enough = [&] { return measured_ >= count; };
    return mu_.AwaitWithDeadline(absl::Condition(&enough), deadline);
  }
  std::string first_error() {
    absl::MutexLock lock(&mu_);
    return first_error_;
  }

  // Cancels every call and waits (bounded) until gRPC is done with them.
  void Shutdown() {
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
      auto idle = [this] {
        return live_calls_ == 0 && register_in_flight_ == 0;
      };
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

 private:
  struct NodeSession;
  static constexpr int kQueues = 16;

  // A completion-queue tag: what to run when its operation completes.
  struct Step {
    virtual ~Step() = default;
    virtual void Done(bool ok) = 0;
  };
  // A step of a node's own calls.
  struct NodeStep : Step {
    NodeStep(NodeSession* n, void (NodeSession::*f)(bool)) : node(n), fn(f) {}
    void Done(bool ok) override { (node->*fn)(ok); }
    NodeSession* const node;
    void (NodeSession::*const fn)(bool);
  };
  // An acknowledgement in flight, freed when it completes.
  struct AckCall : Step {
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

  struct NodeSession {
    NodeSession(Fleet* f, std::string node_id,
                cascade::v1::RelayControl::Stub* s, grpc::CompletionQueue* q)
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
    bool cancelled = false;
    bool streams_open = false;
    bool report_ready = false;  // started, no write in flight
    bool report_busy = false;
    bool report_finishing = false;
    bool assigned = false;  // guarded by the fleet's mu_
    bool silenced = false;  // guarded by the fleet's report_mu_
  };

  void OnRegistered(const NodeSession& node, const grpc::Status& status) {
    absl::MutexLock lock(&mu_);
    --register_in_flight_;
    if (status.ok()) ++registered_;
    if (!status.ok() && status.error_code() != grpc::StatusCode::CANCELLED &&
        first_error_.empty()) {
      first_error_ =
          absl::StrCat("Register ", node.id, ": ", status.error_message());
    }
  }

  void AddLiveCalls(int count) {
    absl::MutexLock lock(&mu_);
    live_calls_ += count;
  }

  void OnAssignment(NodeSession& node, uint64_t version) {
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

  void OnCallDone(const NodeSession& node, const char* call,
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

  // Every node with open streams reports once per interval, spread evenly
  // over it in 20 ms slices.
  void ReportLoop() {
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

}  // namespace

namespace {

// The controller's NODE_DOWN events, followed from a thread.
class DownEvents {
 public:
  explicit DownEvents(const std::string& address)
      : stub_(cascade::v1::Admin::NewStub(MakeChannel(address))) {
    thread_ = std::thread([this] {
      std::unique_ptr<grpc::ClientReader<cascade::v1::Event>> reader =
          stub_->Events(&context_, cascade::v1::EventsRequest());
      cascade::v1::Event event;
      while (reader->Read(&event)) {
        if (event.kind() != cascade::v1::Event::KIND_NODE_DOWN) continue;
        absl::MutexLock lock(&mu_);
        downs_.emplace_back(event.node_id(), event.unix_ms());
      }
      reader->Finish();
    });
  }
  ~DownEvents() {
    context_.TryCancel();
    thread_.join();
  }

  // The time (Unix ms) of `node`'s NODE_DOWN event, once it came.
  std::optional<int64_t> Await(const std::string& node, absl::Time deadline) {
    absl::MutexLock lock(&mu_);
    std::optional<int64_t> at;
    auto seen = [&] {
      for (const auto& [id, unix_ms] : downs_) {
        if (id == node) at = unix_ms;
      }
      return at.has_value();
    };
    mu_.AwaitWithDeadline(absl::Condition(&seen), deadline);
    return at;
  }
  int OthersThan(const std::string& node) {
    absl::MutexLock lock(&mu_);
    return static_cast<int>(
        std::count_if(downs_.begin(), downs_.end(),
                      [&](const auto& down) { return down.first != node; }));
  }

 private:
  std::unique_ptr<cascade::v1::Admin::Stub> stub_;
  grpc::ClientContext context_;
  std::thread thread_;
  absl::Mutex mu_;
  std::vector<std::pair<std::string, int64_t>> downs_ ABSL_GUARDED_BY(mu_);
};

absl::StatusOr<cascade::v1::StatsResponse> GetStats(
    cascade::v1::Admin::Stub& admin) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  cascade::v1::StatsResponse stats;
  grpc::Status status =
      admin.GetStats(&context, cascade::v1::StatsRequest(), &stats);
  if (!status.ok()) {
    return absl::UnavailableError(
        absl::StrCat("GetStats: ", status.error_message()));
  }
  return stats;
}

// Plays every node, lets `victim`'s lease lapse and times the push. Fills
// the failover fields of `result`; an error says why they are missing.
absl::Status MeasureFailover(const ControllerCaseSetup& setup,
                             const std::string& address, absl::Time applied_at,
                             ControllerCaseResult& result) {
  auto admin = cascade::v1::Admin::NewStub(MakeChannel(address));
  Fleet fleet(address, setup.topology, setup.lease);
  result.watchers = fleet.size();
  result.victim = LargestProvince(setup.topology);
  const int victim = fleet.IndexOf(result.victim);
  if (victim < 0) return absl::InvalidArgumentError("no provincial node");

  // Nodes not heard from within a lease of the apply are marked down, and
  // up again when they register: the measurement starts once all are up.
  // About 450 registrations a second on this shared machine: 10 ms each
  // leaves room.
  const absl::Duration connect_limit =
      std::max(absl::Seconds(120), absl::Milliseconds(10) * fleet.size());
  if (absl::Status s = fleet.Connect(absl::Now() + connect_limit); !s.ok()) {
    return s;
  }
  if (absl::Status s = fleet.AwaitAssignments(absl::Now() + absl::Seconds(60));
      !s.ok()) {
    return s;
  }
  result.connect_s = absl::ToDoubleSeconds(absl::Now() - applied_at);
  absl::StatusOr<cascade::v1::StatsResponse> before;
  for (const absl::Time deadline = absl::Now() + absl::Seconds(30);;) {
    // Settled: no assignment for two of the controller's lease ticks.
    fleet.AwaitQuiet(std::max(setup.lease / 5, absl::Milliseconds(200)),
                     absl::Now() + absl::Seconds(30));
    before = GetStats(*admin);
    if (!before.ok()) return before.status();
    if (static_cast<int>(before->nodes_up()) == fleet.size()) break;
    if (absl::Now() > deadline) {
      return absl::FailedPreconditionError(absl::StrCat(
          "only ", before->nodes_up(), " of ", fleet.size(),
          " nodes up after connecting (leases not renewed in time on this "
          "machine; try a longer --controller_lease)"));
    }
  }

  DownEvents events(address);
  fleet.StartMeasuring();
  const absl::Time last_report = fleet.StopReporting(victim);
  const absl::Time expiry = last_report + setup.lease;
  std::optional<int64_t> down_ms =
      events.Await(result.victim, expiry + setup.lease + absl::Seconds(10));
  if (!down_ms) {
    return absl::DeadlineExceededError(
        absl::StrCat(result.victim, "'s lease expiry was never reported"));
  }
  // The expiry's recompute runs under the lock the NODE_DOWN event was
  // emitted under, so these stats include every push it made.
  absl::StatusOr<cascade::v1::StatsResponse> after = GetStats(*admin);
  if (!after.ok()) return after.status();
  result.changed = static_cast<int64_t>(after->assignments_pushed() -
                                        before->assignments_pushed());
  const bool all =
      fleet.AwaitMeasured(result.changed, absl::Now() + absl::Seconds(30));
  // Anything beyond the count would be a push we did not expect: wait a
  // tick for it.
  fleet.AwaitQuiet(std::max(setup.lease / 10, absl::Milliseconds(100)),
                   absl::Now() + absl::Seconds(5));
  const Fleet::Arrivals arrivals = fleet.Measured();
  result.received = arrivals.count;
  result.other_nodes_down = events.OthersThan(result.victim);
  if (!fleet.first_error().empty()) {
    return absl::UnavailableError(fleet.first_error());
  }
  if (!all) {
    return absl::DeadlineExceededError(
        absl::StrCat("only ", arrivals.count, " of ", result.changed,
                     " changed assignments arrived within 30 s"));
  }
  if (result.other_nodes_down > 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(result.other_nodes_down,
                     " other nodes' leases expired during the measurement "
                     "(this machine could not keep their reports flowing)"));
  }
  if (result.changed > 0) {
    const absl::Time down_at = absl::FromUnixMillis(*down_ms);
    result.push_ms = absl::ToDoubleMilliseconds(arrivals.last - down_at);
    result.first_push_ms = absl::ToDoubleMilliseconds(arrivals.first - down_at);
    result.push_from_expiry_ms =
        absl::ToDoubleMilliseconds(arrivals.last - expiry);
  }
  return absl::OkStatus();
}

}  // namespace

cascade::v1::Topology SyntheticTopology(int nodes) {
  cascade::v1::Topology topology;
  cascade::v1::Stream* command = topology.add_streams();
  command->set_id("command");
  command->set_direction(cascade::v1::DIRECTION_DOWNSTREAM);
  command->set_bitrate_kbps(kCommandKbps);
  for (const auto& [ssrc, media, type, encoding] :
       {std::tuple<uint32_t, const char*, uint32_t, const char*>{
            0x43430001, "video", 96, "H264/90000"},
        {0x43430002, "audio", 111, "opus/48000/2"}}) {
    cascade::v1::Track* track = command->add_tracks();
    track->set_ssrc(ssrc);
    track->set_media(media);
    track->set_payload_type(type);
    track->set_encoding(encoding);
  }

  const int provinces =
      std::max(1, (nodes + kNodesPerProvince - 1) / kNodesPerProvince);
  const int districts = provinces * kDistrictsPerProvince;
  const int sites = std::max(0, nodes - 2 - 2 * provinces - districts);
  const int per_district = sites / districts;
  const int extra_sites = sites % districts;  // one more for the first few

  for (const char* id : {"nat-1", "nat-2"}) {
    Node node = MakeNode(id, cascade::v1::TIER_NATIONAL,
                         id[4] == '1' ? "127.1.0.1" : "127.1.0.2",
                         2 * provinces + 8, "national");
    if (id[4] == '2') node.set_role(cascade::v1::ROLE_STANDBY);
    *topology.add_nodes() = std::move(node);
  }
  int district_index = 0, site_index = 0;
  for (int p = 0; p < provinces; ++p) {
    const std::string province = absl::StrFormat("p%02d", p + 1);
    const std::string address = absl::StrCat("127.2.", p + 1, ".");
    // The primary also stands by for the sites of two failed districts.
    Node primary =
        MakeNode(province, cascade::v1::TIER_PROVINCIAL, address + "1",
                 kDistrictsPerProvince + 2 * (per_district + 1) + 4, province);
    Node standby = MakeNode(province + "-sb", cascade::v1::TIER_PROVINCIAL,
                            address + "2", kDistrictsPerProvince + 4, province);
    standby.set_role(cascade::v1::ROLE_STANDBY);
    for (Node* node : {&primary, &standby}) {
      node->set_parent("nat-1");
      node->add_standby_parents("nat-2");
      *topology.add_nodes() = std::move(*node);
    }
    for (int d = 0; d < kDistrictsPerProvince; ++d, ++district_index) {
      const int count = per_district + (district_index < extra_sites ? 1 : 0);
      const std::string district = absl::StrFormat("%s-d%02d", province, d + 1);
      Node node = MakeNode(district, cascade::v1::TIER_DISTRICT,
                           absl::StrCat("127.3.", district_index / 250, ".",
                                        district_index % 250 + 1),
                           count + 4, province);
      node.set_parent(province);
      node.add_standby_parents(province + "-sb");
      *topology.add_nodes() = std::move(node);
      for (int s = 0; s < count; ++s, ++site_index) {
        Node site = MakeNode(
            absl::StrFormat("%s-s%03d", district, s + 1),
            cascade::v1::TIER_SITE,
            absl::StrCat("127.", 10 + site_index / 62500, ".",
                         site_index / 250 % 250, ".", site_index % 250 + 1),
            0, province);
        site.set_parent(district);
        site.add_standby_parents(province);
        *topology.add_nodes() = std::move(site);
      }
    }
  }
  return topology;
}

absl::StatusOr<cascade::v1::Topology> ReferenceTopology(
    const std::string& generator, const std::string& profile) {
  FILE* pipe =
      popen((generator + " --profile=" + profile + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return absl::UnavailableError("cannot run " + generator);
  std::string text;
  char buffer[65536];
  for (size_t n; (n = fread(buffer, 1, sizeof(buffer), pipe)) > 0;) {
    text.append(buffer, n);
  }
  if (pclose(pipe) != 0) {
    return absl::UnavailableError(
        absl::StrCat(generator, " failed: ", text.substr(0, 300)));
  }
  cascade::v1::Topology topology;
  if (!google::protobuf::TextFormat::ParseFromString(text, &topology)) {
    return absl::InvalidArgumentError(
        absl::StrCat(generator, " printed no valid topology"));
  }
  return topology;
}

std::string LargestProvince(const cascade::v1::Topology& topology) {
  absl::flat_hash_map<std::string, int> children;
  for (const Node& node : topology.nodes()) ++children[node.parent()];
  std::string largest;
  int most = -1;
  for (const Node& node : topology.nodes()) {
    if (node.tier() == cascade::v1::TIER_PROVINCIAL &&
        node.role() == cascade::v1::ROLE_ACTIVE && children[node.id()] > most) {
      most = children[node.id()];
      largest = node.id();
    }
  }
  return largest;
}

absl::StatusOr<ControllerCaseResult> RunControllerCase(
    const ControllerCaseSetup& setup) {
  if (mkdir(setup.work_dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return absl::UnavailableError(
        absl::StrCat("cannot create ", setup.work_dir));
  }
  ControllerCaseResult result;
  result.nodes = setup.topology.nodes_size();
  absl::StatusOr<Controller> controller = StartController(setup, "api", "");
  if (!controller.ok()) return controller.status();

  cascade::v1::ApplyTopologyRequest request;
  *request.mutable_topology() = setup.topology;
  request.set_source(setup.name);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(120)));
  cascade::v1::ChangeResponse response;
  auto admin = cascade::v1::Admin::NewStub(MakeChannel(controller->address));
  const absl::Time start = absl::Now();
  const grpc::Status applied =
      admin->ApplyTopology(&context, request, &response);
  absl::Time applied_at = absl::Now();
  if (applied.ok()) {
    result.apply_ms = absl::ToDoubleMilliseconds(applied_at - start);
  } else {
    result.apply_error =
        absl::StrCat("ApplyTopology refused (code ", applied.error_code(),
                     "): ", applied.error_message());
    // Seed a fresh controller from a file instead, so the rest can run.
    controller->process->Stop(absl::Seconds(2)).IgnoreError();
    const std::string file = setup.work_dir + "/topology.textproto";
    std::string text;
    google::protobuf::TextFormat::PrintToString(setup.topology, &text);
    std::ofstream(file) << text;
    const absl::Time spawn = absl::Now();
    controller = StartController(setup, "seed", file);
    if (!controller.ok()) return controller.status();
    applied_at = absl::Now();
    result.seed_ms = absl::ToDoubleMilliseconds(applied_at - spawn);
  }
  result.rss_after_apply_kb =
      ReadProcessMemory(controller->process->pid()).rss_kb;
  if (setup.failover) {
    if (absl::Status s =
            MeasureFailover(setup, controller->address, applied_at, result);
        !s.ok()) {
      result.failover_error = std::string(s.message());
    }
  }
  const ProcessMemory memory = ReadProcessMemory(controller->process->pid());
  result.rss_kb = memory.rss_kb;
  result.peak_rss_kb = memory.peak_kb;
  if (!controller->process->Running()) {
    result.failover_error =
        absl::StrCat("topologyd exited: ", FileTail(controller->log, 300));
  }
  return result;
}

}  // namespace cascade::bench
