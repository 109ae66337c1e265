#include "tools/sim/control_plane.h"

#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <system_error>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "control/tls.h"
#include "tools/sim/files.h"
#include "tools/sim/metrics.h"

namespace cascade::sim {
namespace {

// Inside the private network nothing else binds, so addresses are fixed: a
// restarted controller is where the relays' lists name it.
constexpr char kJournalAddress[] = "127.0.0.1:7700";
constexpr const char* kEtcdControllers[] = {
    "127.0.0.11:7700", "127.0.0.12:7700", "127.0.0.13:7700"};
constexpr char kEtcdClient[] = "127.0.0.1:2379";
constexpr char kEtcdPeer[] = "127.0.0.1:2380";
// etcd's /health, over plaintext HTTP apart from its TLS client port.
constexpr char kEtcdMetrics[] = "127.0.0.1:2381";
// tcp-delay with --store-delay: the controllers' way to etcd.
constexpr char kStoreProxy[] = "127.0.0.1:12379";
constexpr absl::Duration kProxyStartTimeout = absl::Seconds(10);
// topologyd's own deadline of an etcd request (its --etcd-timeout default),
// to which --store-delay adds.
constexpr absl::Duration kEtcdTimeout = absl::Seconds(2);
constexpr absl::Duration kEtcdStartTimeout = absl::Seconds(20);
constexpr absl::Duration kControllerStartTimeout = absl::Seconds(15);
// topologyd runs at this niceness (through nice(1)): in production it has
// a machine of its own, here it shares two cores with every relayd and
// relay-probe, and its lease ticker waited up to 9 s for a CPU and
// millisecond holds of its lock stretched to half a second (docs/sim.md).
// Without the privilege to raise it, nice runs it as it is.
constexpr char kControllerNice[] = "-10";
// The first election: etcd's lease grant and a campaign, then the state
// recovered and the topology seeded.
constexpr absl::Duration kElectionTimeout = absl::Seconds(30);
constexpr absl::Duration kLeaderPoll = absl::Milliseconds(50);
constexpr absl::Duration kStatsDeadline = absl::Milliseconds(500);
// topologyd's exit code when it lost (or could not take up) its term.
constexpr int kExitNotLeader = 3;

std::unique_ptr<cascade::v1::Admin::Stub> NewAdmin(
    const std::string& address,
    const std::shared_ptr<grpc::ChannelCredentials>& credentials) {
  return cascade::v1::Admin::NewStub(grpc::CreateChannel(address, credentials));
}

}  // namespace

// The leading controller's Events feed, on a thread of its own: every
// KIND_NODE_DOWN of a relay, with the controller that sent it. It follows
// the leader relay-sim found (Follow) and, when its stream ends, tries every
// controller in turn (a follower refuses at once) until one serves it.
class ControlPlane::EventFeed {
 public:
  EventFeed(std::vector<std::string> addresses,
            std::function<bool(const std::string&)> keep,
            const std::shared_ptr<grpc::ChannelCredentials>& credentials)
      : addresses_(std::move(addresses)), keep_(std::move(keep)) {
    for (const std::string& address : addresses_) {
      stubs_.push_back(NewAdmin(address, credentials));
    }
    thread_ = std::thread([this] { Run(); });
  }
  ~EventFeed() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
      if (context_ != nullptr) context_->TryCancel();
    }
    thread_.join();
  }

  // Reads `address`'s feed from now on (its stream is cancelled and opened
  // again when it is another controller's).
  void Follow(const std::string& address) {
    absl::MutexLock lock(&mu_);
    for (size_t i = 0; i < addresses_.size(); ++i) {
      if (addresses_[i] != address) continue;
      next_ = static_cast<int>(i);
      if (current_ != next_ && context_ != nullptr) context_->TryCancel();
    }
  }

  std::vector<NodeDown> Take() {
    absl::MutexLock lock(&mu_);
    return std::move(downs_);
  }

 private:
  void Run() {
    while (true) {
      grpc::ClientContext context;
      int index = 0;
      {
        absl::MutexLock lock(&mu_);
        if (stopping_) return;
        index = next_;
        current_ = index;
        next_ = (index + 1) % static_cast<int>(addresses_.size());
        context_ = &context;
      }
      std::unique_ptr<grpc::ClientReader<cascade::v1::Event>> reader =
          stubs_[index]->Events(&context, cascade::v1::EventsRequest());
      cascade::v1::Event event;
      bool served = false;
      while (reader->Read(&event)) {
        served = true;
        if (event.kind() != cascade::v1::Event::KIND_NODE_DOWN ||
            (keep_ && !keep_(event.node_id()))) {
          continue;
        }
        absl::MutexLock lock(&mu_);
        downs_.push_back(NodeDown{absl::FromUnixMillis(event.unix_ms()),
                                  event.node_id(), event.detail(),
                                  addresses_[index]});
      }
      reader->Finish();
      absl::MutexLock lock(&mu_);
      context_ = nullptr;
      current_ = -1;
      // A follower's refusal, a dead leader: the next one shortly. A feed
      // that ended after serving (a leader that stepped down) is tried
      // again first.
      if (served &&
          next_ == (index + 1) % static_cast<int>(addresses_.size())) {
        next_ = index;
      }
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), kLeaderPoll);
    }
  }

  const std::vector<std::string> addresses_;
  const std::function<bool(const std::string&)> keep_;
  std::vector<std::unique_ptr<cascade::v1::Admin::Stub>> stubs_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // The stream being read, for cancelling it.
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
  int current_ ABSL_GUARDED_BY(mu_) = -1;
  int next_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<NodeDown> downs_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

ControlPlane::ControlPlane(const ControlPlaneOptions& options,
                           Supervisor* supervisor,
                           cascade::v1::SimControlPlane* record,
                           std::vector<std::string>* problems)
    : options_(options),
      supervisor_(supervisor),
      record_(record),
      problems_(problems) {
  if (on_etcd()) {
    for (size_t i = 0; i < std::size(kEtcdControllers); ++i) {
      Controller& controller = controllers_.emplace_back();
      controller.name = absl::StrCat("topologyd c", i + 1);
      controller.address = kEtcdControllers[i];
    }
  } else {
    Controller& controller = controllers_.emplace_back();
    controller.name = "topologyd";
    controller.address = kJournalAddress;
  }
  record_->set_store(on_etcd() ? "etcd" : "journal");
  for (const Controller& controller : controllers_) {
    record_->add_controllers(controller.address);
  }
  record_->set_store_delay_ms(absl::ToDoubleMilliseconds(options_.store_delay));
}

ControlPlane::~ControlPlane() = default;

std::string ControlPlane::Out(const std::string& relative) const {
  return absl::StrCat(options_.out_dir, "/", relative);
}

std::string ControlPlane::Addresses() const {
  std::vector<std::string> addresses;
  for (const Controller& controller : controllers_) {
    addresses.push_back(controller.address);
  }
  return absl::StrJoin(addresses, ",");
}

std::vector<std::string> ControlPlane::Hosts() const {
  std::vector<std::string> hosts;
  for (const Controller& controller : controllers_) {
    hosts.push_back(
        controller.address.substr(0, controller.address.rfind(':')));
  }
  return hosts;
}

absl::Status ControlPlane::Start() {
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      control::ClientCredentials({options_.pki.ca(),
                                  options_.pki.operator_cert(),
                                  options_.pki.operator_key()});
  if (!credentials.ok()) return credentials.status();
  credentials_ = *std::move(credentials);
  if (!on_etcd()) {
    if (absl::Status s = MakeDir(Out("controller")); !s.ok()) return s;
    StartController(&controllers_[0]);
    leader_ = 0;
    feed_ = std::make_unique<EventFeed>(
        std::vector<std::string>{controllers_[0].address}, options_.is_relay,
        credentials_);
    return absl::OkStatus();
  }
  if (absl::Status s = StartEtcd(); !s.ok()) return s;
  if (options_.store_delay > absl::ZeroDuration()) {
    if (absl::Status s = StartStoreProxy(); !s.ok()) return s;
  }
  const absl::Time start = absl::Now();
  for (Controller& controller : controllers_) StartController(&controller);
  // The first election, timed like a takeover from the controllers' start.
  takeover_ = Takeover{start, "", "first election"};
  while (takeover_.has_value()) {
    if (absl::Now() - start > kElectionTimeout) {
      return absl::DeadlineExceededError(absl::StrCat(
          "no topologyd led within ", absl::FormatDuration(kElectionTimeout),
          " of starting (see ", Out("logs/topologyd-c*.log"), ")"));
    }
    if (options_.interrupted != nullptr && options_.interrupted->load()) {
      return absl::CancelledError("interrupted");
    }
    Tick();
    absl::SleepFor(kLeaderPoll);
  }
  std::vector<std::string> addresses;
  for (const Controller& controller : controllers_) {
    addresses.push_back(controller.address);
  }
  feed_ = std::make_unique<EventFeed>(std::move(addresses), options_.is_relay,
                                      credentials_);
  feed_->Follow(controllers_[leader_].address);
  return absl::OkStatus();
}

absl::Status ControlPlane::StartStoreProxy() {
  const std::string port_file = Out("ports/tcp-delay.port");
  std::remove(port_file.c_str());
  const std::string log = Out("logs/tcp-delay.log");
  const absl::Time start = absl::Now();
  absl::Status started = supervisor_->Start(
      "tcp-delay", "tcp-delay",
      {options_.tcp_delay, absl::StrCat("--listen=", kStoreProxy),
       absl::StrCat("--target=", kEtcdClient),
       "--delay=" + absl::FormatDuration(options_.store_delay),
       "--port_file=" + port_file},
      log);
  if (!started.ok()) return started;
  absl::StatusOr<std::string> port =
      WaitForFile(port_file, start + kProxyStartTimeout, options_.interrupted);
  if (!port.ok()) {
    return absl::UnavailableError(
        absl::StrCat("tcp-delay did not listen on ", kStoreProxy, ": ",
                     port.status().message(), " (see ", log, ")"));
  }
  return absl::OkStatus();
}

std::string ControlPlane::EtcdUrl() const {
  return absl::StrCat("etcd://", options_.store_delay > absl::ZeroDuration()
                                     ? kStoreProxy
                                     : kEtcdClient);
}

absl::Status ControlPlane::StartEtcd() {
  // A fresh store each run: a leader seeds --topology only at sequence 0.
  const std::string data_dir = Out("etcd");
  std::error_code ignored;
  std::filesystem::remove_all(data_dir, ignored);
  // Mutual TLS, as a deployment runs it (docs/etcd.md): the controllers
  // present their certificates from the run's CA.
  const std::string client = absl::StrCat("https://", kEtcdClient);
  const std::string peer = absl::StrCat("http://", kEtcdPeer);
  const std::string log = Out("logs/etcd.log");
  absl::Status started = supervisor_->Start(
      "etcd", "etcd",
      {options_.etcd, "--name=sim", "--data-dir=" + data_dir,
       "--listen-client-urls=" + client, "--advertise-client-urls=" + client,
       "--listen-peer-urls=" + peer, "--initial-advertise-peer-urls=" + peer,
       "--initial-cluster=sim=" + peer, "--initial-cluster-state=new",
       "--cert-file=" + options_.pki.etcd_cert(),
       "--key-file=" + options_.pki.etcd_key(), "--client-cert-auth",
       "--trusted-ca-file=" + options_.pki.ca(),
       absl::StrCat("--listen-metrics-urls=http://", kEtcdMetrics),
       // Fast raft timings, as the etcd tests use on loopback.
       "--heartbeat-interval=50", "--election-timeout=500",
       // A national-size state is about 1.2 MB, over the 1.5 MiB default
       // once the keys are in (docs/etcd.md).
       "--max-request-bytes=8388608", "--log-level=warn", "--logger=zap"},
      log);
  if (!started.ok()) return started;
  const absl::Time deadline = absl::Now() + kEtcdStartTimeout;
  while (true) {
    absl::StatusOr<std::string> health =
        HttpGet(kEtcdMetrics, "/health", absl::Seconds(1));
    if (health.ok() && absl::StrContains(*health, "\"health\":\"true\"")) {
      return absl::OkStatus();
    }
    if (!supervisor_->Running("etcd") || absl::Now() >= deadline) {
      return absl::UnavailableError(absl::StrCat(
          "etcd did not become healthy on ", kEtcdMetrics, " within ",
          absl::FormatDuration(kEtcdStartTimeout), " (see ", log, ")"));
    }
    if (options_.interrupted != nullptr && options_.interrupted->load()) {
      return absl::CancelledError("interrupted");
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
}

void ControlPlane::StartController(Controller* controller) {
  const std::string file = absl::StrReplaceAll(controller->name, {{" ", "-"}});
  const std::string port_file = Out("ports/" + file + ".port");
  std::remove(port_file.c_str());
  controller->process =
      absl::StrCat(controller->name, "#", ++controller->starts);
  std::vector<std::string> args = {
      "/usr/bin/nice", "-n", kControllerNice, options_.topologyd,
      "--listen=" + controller->address, "--port_file=" + port_file,
      "--topology=" + options_.topology_file,
      "--lease_timeout=" + absl::FormatDuration(options_.lease_timeout),
      // A rotate_stream_key step's key is used this soon after it.
      "--stream_key_overlap=" + absl::FormatDuration(kStreamKeyOverlap),
      "--tls_cert=" + options_.pki.server_cert(),
      "--tls_key=" + options_.pki.server_key(),
      "--tls_client_ca=" + options_.pki.ca()};
  if (on_etcd()) {
    args.insert(args.end(),
                {"--store=" + EtcdUrl(), "--etcd_ca=" + options_.pki.ca(),
                 "--etcd_cert=" + options_.pki.server_cert(),
                 "--etcd_key=" + options_.pki.server_key(),
                 "--advertise=" + controller->address,
                 "--leader_ttl=" + absl::FormatDuration(options_.leader_ttl)});
    if (options_.store_delay > absl::ZeroDuration()) {
      // Each request takes the delay longer, and the first on a connection
      // waits for the HTTP/2 handshake too (the client's preface is held as
      // long): its deadline grows by two delays.
      args.push_back(
          "--etcd_timeout=" +
          absl::FormatDuration(2 * options_.store_delay + kEtcdTimeout));
    }
  } else {
    args.push_back("--state_dir=" + Out("controller"));
  }
  const absl::Time start = absl::Now();
  absl::Status started = supervisor_->Start(controller->process, "topologyd",
                                            args, Out("logs/" + file + ".log"));
  absl::StatusOr<std::string> port =
      started.ok() ? WaitForFile(port_file, start + kControllerStartTimeout,
                                 options_.interrupted)
                   : absl::StatusOr<std::string>(started);
  if (!port.ok()) {
    problems_->push_back(absl::StrCat(
        controller->process, " did not start: ", port.status().message()));
    return;
  }
  record_->add_controller_start_ms(
      absl::ToDoubleMilliseconds(absl::Now() - start));
  // A new channel: the old one may be backing off from the dead process.
  controller->admin = NewAdmin(controller->address, credentials_);
}

std::optional<std::pair<int, uint64_t>> ControlPlane::FindLeader() {
  for (size_t i = 0; i < controllers_.size(); ++i) {
    Controller& controller = controllers_[i];
    if (controller.admin == nullptr || static_cast<int>(i) == stalled_ ||
        !supervisor_->Running(controller.process)) {
      continue;
    }
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kStatsDeadline));
    cascade::v1::StatsResponse stats;
    if (controller.admin
            ->GetStats(&context, cascade::v1::StatsRequest(), &stats)
            .ok()) {
      return std::make_pair(static_cast<int>(i), stats.state_sequence());
    }
  }
  return std::nullopt;
}

cascade::v1::Admin::Stub* ControlPlane::Leader() {
  if (leader_ < 0 && on_etcd() && !takeover_.has_value()) {
    if (auto found = FindLeader()) leader_ = found->first;
  }
  if (leader_ < 0) return nullptr;
  Controller& controller = controllers_[leader_];
  if (!supervisor_->Running(controller.process)) return nullptr;
  return controller.admin.get();
}

void ControlPlane::RecordTakeover(int leader, uint64_t sequence) {
  const absl::Time now = absl::Now();
  LeaderChange& change = leader_changes_.emplace_back();
  change.at = now;
  change.from = takeover_->from;
  change.to = controllers_[leader].address;
  change.cause = takeover_->cause;
  change.takeover = now - takeover_->since;
  change.state_sequence = sequence;
  leader_ = leader;
  takeover_.reset();
  if (feed_ != nullptr) feed_->Follow(change.to);
}

absl::StatusOr<std::string> ControlPlane::KillLeader(
    absl::Duration restart_after) {
  const std::string again = absl::StrFormat(
      "started again after %.1f s", absl::ToDoubleSeconds(restart_after));
  if (!on_etcd()) {
    Controller& controller = controllers_[0];
    if (absl::Status s = supervisor_->Kill(controller.process); !s.ok()) {
      return s;
    }
    controller.restart_at = absl::Now() + restart_after;
    return absl::StrCat("kill -9 of topologyd, ", again);
  }
  const int leader = LeaderForFault();
  if (leader < 0) {
    return absl::UnavailableError("no topologyd leads: nothing to kill");
  }
  Controller& controller = controllers_[leader];
  if (absl::Status s = supervisor_->Kill(controller.process); !s.ok()) {
    return s;
  }
  controller.restart_at = absl::Now() + restart_after;
  takeover_ = Takeover{absl::Now(), controller.address,
                       "kill -9 of the leader by the scenario"};
  leader_ = -1;
  return absl::StrCat("kill -9 of the leader, ", controller.name, " (",
                      controller.address, "), ", again,
                      " once another leads (so it rejoins as a follower)");
}

int ControlPlane::LeaderForFault() {
  if (Leader() == nullptr || leader_ == stalled_) return -1;
  return leader_;
}

absl::StatusOr<std::string> ControlPlane::StallLeader(absl::Duration stall) {
  const int leader = LeaderForFault();
  if (leader < 0) {
    return absl::UnavailableError("no topologyd leads: nothing to stall");
  }
  Controller& controller = controllers_[leader];
  if (absl::Status s = supervisor_->Signal(controller.process, SIGSTOP);
      !s.ok()) {
    return s;
  }
  stalled_ = leader;
  stalled_until_ = absl::Now() + stall;
  const std::string what = absl::StrFormat(
      "SIGSTOP of the leader, %s (%s), for %.1f s", controller.name,
      controller.address, absl::ToDoubleSeconds(stall));
  if (!on_etcd()) return what;
  takeover_ = Takeover{absl::Now(), controller.address,
                       "the leader stalled (SIGSTOP) by the scenario"};
  leader_ = -1;
  return what;
}

bool ControlPlane::OnExit(const Ended& ended) {
  for (size_t i = 0; i < controllers_.size(); ++i) {
    Controller& controller = controllers_[i];
    if (controller.process != ended.name) continue;
    if (static_cast<int>(i) == leader_ && on_etcd()) {
      takeover_ =
          Takeover{absl::Now(), controller.address,
                   absl::StrCat(ended.description, " (seen by relay-sim)")};
      leader_ = -1;
    }
    if (static_cast<int>(i) == stalled_) stalled_ = -1;
    if (on_etcd() && ended.code == kExitNotLeader) {
      // It lost its term: back as a follower, as its supervisor should.
      record_->set_step_downs(record_->step_downs() + 1);
      StartController(&controller);
    } else {
      problems_->push_back(absl::StrCat(ended.description, " (unexpected; see ",
                                        options_.out_dir, "/logs)"));
    }
    return true;
  }
  return false;
}

std::optional<absl::Time> ControlPlane::NextRestart() const {
  std::optional<absl::Time> next;
  for (const Controller& controller : controllers_) {
    if (controller.restart_at && (!next || *controller.restart_at < *next)) {
      next = controller.restart_at;
    }
  }
  return next;
}

void ControlPlane::Tick() {
  const absl::Time now = absl::Now();
  if (stalled_ >= 0 && now >= stalled_until_) {
    supervisor_->Signal(controllers_[stalled_].process, SIGCONT).IgnoreError();
    stalled_ = -1;
  }
  for (Controller& controller : controllers_) {
    // Not while no one leads: a killed leader rejoins as a follower.
    if (controller.restart_at && now >= *controller.restart_at &&
        !takeover_.has_value()) {
      controller.restart_at.reset();
      StartController(&controller);
    }
  }
  if (takeover_.has_value() && now >= next_poll_) {
    next_poll_ = now + kLeaderPoll;
    if (auto found = FindLeader()) RecordTakeover(found->first, found->second);
  }
}

void ControlPlane::Stop() {
  // First: the controllers' ends are no news.
  if (feed_ != nullptr) {
    nodes_down_ = feed_->Take();
    feed_.reset();
  }
  if (stalled_ >= 0) {
    supervisor_->Signal(controllers_[stalled_].process, SIGCONT).IgnoreError();
    stalled_ = -1;
  }
  // The leader last, so no follower campaigns again meanwhile; all before
  // etcd, which the leader's resignation needs.
  for (size_t i = 0; i < controllers_.size(); ++i) {
    if (static_cast<int>(i) == leader_) continue;
    supervisor_->Stop(controllers_[i].process, absl::Seconds(2)).IgnoreError();
  }
  if (leader_ >= 0) {
    supervisor_->Stop(controllers_[leader_].process, absl::Seconds(2))
        .IgnoreError();
  }
  if (options_.store_delay > absl::ZeroDuration()) {
    supervisor_->Stop("tcp-delay", absl::Seconds(2)).IgnoreError();
    // Its counters, its last words.
    for (absl::string_view line :
         absl::StrSplit(ReadFile(Out("logs/tcp-delay.log")), '\n')) {
      if (absl::StartsWith(line, "tcp-delay: accepted=")) {
        record_->set_store_proxy_counters(
            std::string(absl::StripPrefix(line, "tcp-delay: ")));
      }
    }
  }
  if (on_etcd()) supervisor_->Stop("etcd", absl::Seconds(2)).IgnoreError();
}

void ControlPlane::RecordLeaderChanges(absl::Time media_start) {
  for (const LeaderChange& change : leader_changes_) {
    cascade::v1::SimLeaderChange* out = record_->add_leader_changes();
    out->set_at_s(absl::ToDoubleSeconds(change.at - media_start));
    out->set_from(change.from);
    out->set_to(change.to);
    out->set_cause(change.cause);
    out->set_takeover_ms(absl::ToDoubleMilliseconds(change.takeover));
    out->set_state_sequence(change.state_sequence);
    out->set_relays_back_ms(absl::ToDoubleMilliseconds(change.relays_back));
  }
  for (const NodeDown& down : nodes_down_) {
    cascade::v1::SimNodeDown* out = record_->add_nodes_down();
    out->set_at_s(absl::ToDoubleSeconds(down.at - media_start));
    out->set_node(down.node);
    out->set_why(down.why);
    out->set_controller(down.controller);
  }
}

}  // namespace cascade::sim
