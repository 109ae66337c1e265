// The controller benchmark's cases: topologyd started and applied to, every
// node played, and the push after one node's lease lapses timed.
#include "tools/bench/controller_bench.h"

#include <grpcpp/grpcpp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "base/subprocess.h"
#include "google/protobuf/text_format.h"
#include "proto/controller.grpc.pb.h"
#include "tools/bench/controller_fleet.h"
#include "tools/bench/process.h"

namespace cascade::bench {
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

// Fails the largest province through the Admin API: the plan of an expiry
// without the watchers (nobody is connected to push to).
absl::Status MeasureAdminFailover(const ControllerCaseSetup& setup,
                                  cascade::v1::Admin::Stub& admin,
                                  ControllerCaseResult& result) {
  result.victim = LargestProvince(setup.topology);
  cascade::v1::FailoverRequest request;
  request.set_id(result.victim);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(120)));
  cascade::v1::ChangeResponse response;
  const absl::Time start = absl::Now();
  const grpc::Status status = admin.Failover(&context, request, &response);
  if (!status.ok()) {
    return absl::UnavailableError(absl::StrCat(
        "Admin Failover of ", result.victim, ": ", status.error_message()));
  }
  result.admin_failover_ms = absl::ToDoubleMilliseconds(absl::Now() - start);
  result.changed = response.assignments_changed();
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TopologydProcess> StartTopologyd(
    const ControllerCaseSetup& setup, const std::string& tag,
    const std::string& topology_file, const std::vector<std::string>& flags) {
  const std::string state_dir = absl::StrCat(setup.work_dir, "/state-", tag);
  const std::string port_file = absl::StrCat(setup.work_dir, "/port-", tag);
  // A restart's: the last process's port is not this one's.
  std::remove(port_file.c_str());
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
  argv.insert(argv.end(), flags.begin(), flags.end());
  const std::string log =
      absl::StrCat(setup.work_dir, "/topologyd-", tag, ".log");
  absl::StatusOr<std::unique_ptr<Subprocess>> process =
      Subprocess::Start(argv, {log, log});
  if (!process.ok()) return process.status();
  // Seeding 100,000 nodes from a file takes a while on a loaded machine,
  // 1,000,000 longer still.
  const absl::Time deadline =
      absl::Now() +
      absl::Seconds(std::max(120, setup.topology.nodes_size() / 5000));
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
  return TopologydProcess{std::move(*process), absl::StrCat("127.0.0.1:", port),
                          log, port_file};
}

absl::StatusOr<ControllerCaseResult> RunControllerCase(
    const ControllerCaseSetup& setup) {
  if (mkdir(setup.work_dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return absl::UnavailableError(
        absl::StrCat("cannot create ", setup.work_dir));
  }
  ControllerCaseResult result;
  result.nodes = setup.topology.nodes_size();
  absl::StatusOr<TopologydProcess> controller =
      StartTopologyd(setup, "api", "", {});
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
    controller = StartTopologyd(setup, "seed", file, {});
    if (!controller.ok()) return controller.status();
    admin = cascade::v1::Admin::NewStub(MakeChannel(controller->address));
    applied_at = absl::Now();
    result.seed_ms = absl::ToDoubleMilliseconds(applied_at - spawn);
  }
  result.rss_after_apply_kb =
      ReadProcessMemory(controller->process->pid()).rss_kb;
  if (absl::Status s =
          setup.failover
              ? MeasureFailover(setup, controller->address, applied_at, result)
              : MeasureAdminFailover(setup, *admin, result);
      !s.ok()) {
    result.failover_error = std::string(s.message());
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
