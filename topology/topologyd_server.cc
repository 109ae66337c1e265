#include "topology/topologyd_server.h"

#include <glog/logging.h>

#include <atomic>
#include <iostream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/clock.h"
#include "base/files.h"
#include "console/group.h"
#include "topology/etcd/etcd_store.h"
#include "topology/etcd/leader.h"
#include "topology/etcd/leader_record.h"
#include "topology/etcd_startup.h"
#include "topology/journal.h"
#include "topology/metrics_server.h"
#include "topology/service_notify.h"

namespace cascade::topology {
namespace {

// Applies the topology file to an empty state (sequence 0); nothing when
// there is none or the state already holds one.
absl::Status SeedTopology(Controller* controller, const std::string& file,
                          const std::string& where) {
  if (file.empty()) return absl::OkStatus();
  if (controller->Sequence() > 0) {
    LOG(INFO) << "state in " << where << " already exists; --topology " << file
              << " ignored (use relayctl apply)";
    return absl::OkStatus();
  }
  absl::StatusOr<TopologyText> parsed = ReadSeedTopology(file);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(parsed.status().message());
  }
  cascade::v1::Change change;
  *change.mutable_apply()->mutable_topology() = std::move(parsed->topology);
  change.mutable_apply()->set_source(file);
  absl::StatusOr<cascade::v1::ChangeResponse> applied =
      controller->Submit(std::move(change));
  if (!applied.ok()) return absl::InternalError(applied.status().message());
  return absl::OkStatus();
}

// Written whole then renamed, so a reader never sees a partial number: the
// gRPC port on the first line, then `more` (metrics=PORT).
absl::Status WritePortFile(const std::string& port_file, int port,
                           const std::string& more) {
  if (port_file.empty()) return absl::OkStatus();
  if (absl::Status written =
          WriteFileAtomically(port_file, absl::StrCat(port, "\n", more));
      !written.ok()) {
    return absl::InternalError(
        absl::StrCat("--port-file: ", written.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<ServerHandle> Start(ControllerService* service,
                                   const TopologydOptions& options, int* port) {
  absl::StatusOr<ServerHandle> server =
      StartServer(service, options.listen, options.credentials, port);
  if (!server.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--listen: ", server.status().message()));
  }
  return server;
}

void StopServer(ControllerService* service, grpc::Server* server) {
  service->Shutdown();
  server->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
  server->Wait();
}

// The admin services, whose health says whether this controller leads.
void SetLeading(grpc::Server* server, bool leading) {
  for (const char* name : {"cascade.v1.Admin", "cascade.v1.RelayControl"}) {
    server->GetHealthCheckService()->SetServingStatus(name, leading);
  }
}

}  // namespace

absl::StatusOr<TopologyText> ReadSeedTopology(const std::string& file) {
  absl::StatusOr<TopologyText> parsed = ReadTopologyFile(file);
  if (!parsed.ok()) return parsed.status();
  absl::Status valid =
      ValidateTopology(parsed->topology, file, parsed->node_lines);
  if (!valid.ok()) return valid;
  return parsed;
}

absl::Status ServeJournal(SignalWaiter* signals,
                          const TopologydOptions& options,
                          const std::string& state_dir) {
  SystemClock clock;
  JournalStore store(state_dir);
  Controller controller(&clock, &store, options.controller);
  if (absl::Status status = controller.Recover(); !status.ok()) {
    return absl::InternalError(absl::StrCat("cannot recover state from ",
                                            state_dir, ": ", status.message()));
  }
  if (!controller.RecoveryNote().empty()) {
    std::cerr << "topologyd: WARNING: " << controller.RecoveryNote() << "\n";
  }
  const bool restarted = controller.Sequence() > 0;
  if (absl::Status seeded =
          SeedTopology(&controller, options.topology_file, state_dir);
      !seeded.ok()) {
    return seeded;
  }

  ControllerService service(&controller, options.service);
  int port = 0;
  absl::StatusOr<ServerHandle> server = Start(&service, options, &port);
  if (!server.ok()) return server.status();
  // A single controller leads from every start: said each time (KIND_LEADER),
  // naming the trail's last leader, so a restart is in the event feed.
  const std::string address = absl::StrCat(
      options.listen.substr(0, options.listen.rfind(':')), ":", port);
  if (absl::Status recorded =
          etcd::RecordLeader(&controller, address,
                             restarted ? "single controller, journal, restarted"
                                       : "single controller, journal",
                             "");
      !recorded.ok()) {
    LOG(ERROR) << "cannot record the lead: " << recorded;
  }
  const PeriodicWarning warning(options.insecure_warning, absl::Minutes(1));
  MetricsEndpoint metrics(&service, /*always_leading=*/true);
  if (absl::Status s = StartMetricsFromFlags(&metrics); !s.ok()) {
    return absl::InvalidArgumentError(s.message());
  }
  std::unique_ptr<console::ConsoleServer> console;
  if (absl::Status s = StartConsoleFromFlags(&service, server->get(),
                                             options.console_tls, &console);
      !s.ok()) {
    return absl::InvalidArgumentError(s.message());
  }
  if (absl::Status written = WritePortFile(
          options.port_file, port,
          metrics.PortFileLine() + ConsolePortFileLine(console.get()));
      !written.ok()) {
    return written;
  }
  LOG(INFO) << "topologyd serving on port " << port << ", state sequence "
            << controller.Sequence();
  ServiceNotify notify(&service, port, /*leading=*/true);
  Lifecycle lifecycle;
  signals->Start(&lifecycle);
  {
    LeaseTicker ticker(&controller, options.controller.lease_timeout);
    lifecycle.WaitUntilDone();
  }
  notify.Stopping();
  LOG(INFO) << "signal " << lifecycle.signal_number() << ": shutting down";
  console.reset();  // its Admin calls end before the service does
  StopServer(&service, server->get());
  return absl::OkStatus();
}

absl::Status ServeEtcd(SignalWaiter* signals, TopologydOptions options,
                       EtcdServingOptions etcd_options) {
  const std::string leader_key = etcd_options.prefix + "leader";
  const std::string hint = EtcdTlsHint(etcd_options.client.tls);
  absl::StatusOr<std::unique_ptr<etcd::EtcdClient>> client =
      etcd::EtcdClient::Create(std::move(etcd_options.client));
  if (!client.ok()) {
    return absl::InternalError(
        absl::StrCat("--store: ", client.status().message()));
  }
  if (absl::Status reached = ReachEtcd(client->get(), leader_key);
      !reached.ok()) {
    return absl::InternalError(
        absl::StrCat("cannot reach etcd at ", etcd_options.url, ": ",
                     reached.message(), " (", hint, ")"));
  }
  Lifecycle lifecycle;
  SystemClock clock;
  std::string& advertise = etcd_options.advertise;
  // Declared before the service, which calls into them until destroyed.
  std::unique_ptr<etcd::EtcdStore> store;
  std::unique_ptr<Controller> controller;
  std::atomic<etcd::LeaderElection*> election_for_service{nullptr};
  // Never this controller itself: elected but still recovering, or just
  // stepped down, it names no one and callers retry.
  options.service.leader_address = [&election_for_service, &advertise] {
    etcd::LeaderElection* election = election_for_service.load();
    if (election == nullptr) return std::string();
    std::string leader = election->Status().leader;
    return leader == advertise ? std::string() : leader;
  };
  ControllerService service(nullptr, options.service);
  int port = 0;
  absl::StatusOr<ServerHandle> server = Start(&service, options, &port);
  if (!server.ok()) return server.status();
  SetLeading(server->get(), false);
  const PeriodicWarning warning(options.insecure_warning, absl::Minutes(1));
  if (advertise.empty()) {
    advertise = absl::StrCat(
        options.listen.substr(0, options.listen.rfind(':')), ":", port);
  }
  MetricsEndpoint metrics(&service, /*always_leading=*/false);
  absl::Status started = StartMetricsFromFlags(&metrics);
  std::unique_ptr<console::ConsoleServer> console;
  if (started.ok()) {
    started = StartConsoleFromFlags(&service, server->get(),
                                    options.console_tls, &console);
  }
  if (!started.ok()) started = absl::InvalidArgumentError(started.message());
  if (started.ok()) {
    started = WritePortFile(
        options.port_file, port,
        metrics.PortFileLine() + ConsolePortFileLine(console.get()));
  }
  if (!started.ok()) {
    console.reset();
    StopServer(&service, server->get());
    return started;
  }
  ServiceNotify notify(&service, port, /*leading=*/false);

  etcd::LeaderElectionOptions election_options;
  election_options.key = leader_key;
  election_options.address = advertise;
  election_options.ttl = etcd_options.leader_ttl;
  if (console != nullptr) {
    console->SetUrl(etcd_options.console_url);
    election_options.member_value = console->Url();
  }
  std::string lost;
  {
    etcd::LeaderElection election(client->get(), election_options,
                                  notify.Leader(metrics.Leader(&lifecycle)));
    election_for_service.store(&election);
    if (console != nullptr) {
      console->SetGroup(console::ElectionGroup(&election));
    }
    signals->Start(&lifecycle);
    election.Start();
    LOG(INFO) << "topologyd on port " << port << " (advertised as " << advertise
              << "), following; campaigning on " << etcd_options.url << " "
              << election_options.key;
    if (lifecycle.WaitUntilElected()) {
      const etcd::LeaderStatus status = election.Status();
      etcd::EtcdStoreOptions store_options;
      store_options.prefix = etcd_options.prefix + "state/";
      store_options.fence_key = election_options.key;
      store_options.fence_revision = status.term;
      store_options.on_refused = [&lifecycle](const absl::Status& refusal) {
        lifecycle.Lose(
            absl::StrCat("etcd refused a write: ", refusal.message()));
      };
      store = std::make_unique<etcd::EtcdStore>(client->get(), store_options);
      controller =
          std::make_unique<Controller>(&clock, store.get(), options.controller);
      absl::Status recovered = controller->Recover();
      absl::Status seeded;
      if (!status.leading) {
        lifecycle.Lose("the term ended before the state was recovered");
      } else if (!recovered.ok()) {
        lifecycle.Lose(absl::StrCat("cannot recover the state from etcd: ",
                                    recovered.message()));
      } else if (seeded = SeedTopology(controller.get(), options.topology_file,
                                       etcd_options.url);
                 !seeded.ok()) {
        std::cerr << "topologyd: " << seeded.message() << "\n";
        lifecycle.Lose("cannot seed --topology into the store");
      } else if (absl::Status recorded =
                     etcd::RecordLeader(controller.get(), advertise,
                                        absl::StrCat("etcd term ", status.term),
                                        status.previous_leader);
                 !recorded.ok()) {
        lifecycle.Lose(
            absl::StrCat("cannot record the lead: ", recorded.message()));
      } else {
        LOG(INFO) << "leading (term " << status.term << "), state sequence "
                  << controller->Sequence();
        service.Lead(controller.get());
        SetLeading(server->get(), true);
        LeaseTicker ticker(controller.get(), options.controller.lease_timeout);
        lost = lifecycle.WaitUntilDone();
        // Before the ticker stops: relays move on at once.
        service.Shutdown();
      }
      if (lost.empty()) lost = lifecycle.WaitUntilDone();
    }
    // Whatever ended it, this controller serves no more from here on (a
    // second Shutdown does nothing new).
    notify.Stopping();
    SetLeading(server->get(), false);
    service.Shutdown();
    console.reset();  // before the election it asks
    election_for_service.store(nullptr);
  }  // Resigns: a follower takes over at once.
  StopServer(&service, server->get());
  if (lost.empty()) {
    LOG(INFO) << "signal " << lifecycle.signal_number() << ": shutting down";
    return absl::OkStatus();
  }
  return absl::AbortedError(absl::StrCat("no longer the leader (", lost, ")"));
}

}  // namespace cascade::topology
