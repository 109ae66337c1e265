// Assignments offered to many Watch streams while they come and go, and
// the service or the server stopped while they flow.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/common/wait.h"
#include "topology/service.h"
#include "topology/service_test_support.h"

namespace cascade::topology {
namespace {

using ::cascade::testing::kWaitTimeout;
using ::cascade::testing::WaitUntil;

// Reads `node_id`'s Watch until version `last` arrives (0: until the
// stream ends), `max_reads` assignments came or `timeout` passed, then
// cancels; appends the versions read and returns the stream's status.
grpc::Status ReadVersions(cascade::v1::RelayControl::Stub* stub,
                          const std::string& node_id, uint64_t last,
                          int max_reads, absl::Duration timeout,
                          std::vector<uint64_t>* versions) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  cascade::v1::WatchRequest request;
  request.set_node_id(node_id);
  auto reader = stub->Watch(&context, request);
  cascade::v1::Assignment assignment;
  for (int reads = 0; reads < max_reads; ++reads) {
    if (!reader->Read(&assignment)) return reader->Finish();
    versions->push_back(assignment.version());
    if (assignment.version() == last) break;
  }
  context.TryCancel();
  return reader->Finish();
}

bool StrictlyIncreasing(const std::vector<uint64_t>& versions) {
  for (size_t i = 1; i < versions.size(); ++i) {
    if (versions[i] <= versions[i - 1]) return false;
  }
  return true;
}

TEST_F(ServiceTest, RapidOffersReachManyWatchersNewestLastNeverBackwards) {
  std::vector<std::unique_ptr<cascade::v1::RelayControl::Stub>> stubs;
  for (int i = 0; i < 4; ++i) {
    stubs.push_back(cascade::v1::RelayControl::NewStub(
        grpc::CreateChannel(address_, grpc::InsecureChannelCredentials())));
  }
  const auto template_assignment = controller_->CurrentAssignment("d1");
  ASSERT_NE(template_assignment, nullptr);
  constexpr int kOffersPerThread = 3000;
  // Newer than what the controller numbered.
  const uint64_t first = template_assignment->version() + 1;
  const uint64_t last = first + 2 * kOffersPerThread;

  // Steady watchers read to the end; churning ones cancel after a few
  // reads and come back, so streams end while their writes are queued.
  constexpr int kSteady = 40;
  constexpr int kChurning = 8;
  std::vector<std::vector<uint64_t>> steady(kSteady);
  std::vector<grpc::Status> steady_status(kSteady);
  std::vector<std::vector<std::vector<uint64_t>>> churned(kChurning);
  std::vector<std::thread> threads;
  for (int i = 0; i < kSteady; ++i) {
    threads.emplace_back([&, i] {
      steady_status[i] = ReadVersions(stubs[i % stubs.size()].get(), "d1", last,
                                      1 << 20, absl::Seconds(20), &steady[i]);
    });
  }
  // Offers made before a Watch is registered never reach it.
  ASSERT_TRUE(WaitUntil("every steady Watch is registered", kWaitTimeout, [&] {
    return service_->watcher_count() == size_t{kSteady};
  }));
  std::atomic<bool> offering{true};
  std::atomic<int> churning{kChurning};
  for (int i = 0; i < kChurning; ++i) {
    threads.emplace_back([&, i] {
      for (int round = 0; round < 20 && offering.load(); ++round) {
        churned[i].emplace_back();
        ReadVersions(stubs[i % stubs.size()].get(), "d1", last, 1 + round % 3,
                     absl::Seconds(10), &churned[i].back());
      }
      --churning;
    });
  }
  // Two offerers interleave, so older versions also reach Offer after newer
  // ones (the controller's lock serialises its offers; this is harsher).
  auto offer = [&](uint64_t version) {
    auto assignment =
        std::make_shared<cascade::v1::Assignment>(*template_assignment);
    assignment->set_version(version);
    service_->OnAssignment(std::move(assignment));
  };
  std::vector<std::thread> offerers;
  for (uint64_t parity = 0; parity < 2; ++parity) {
    offerers.emplace_back([&, parity] {
      for (int i = 0; i < kOffersPerThread; ++i) {
        offer(first + 2 * i + parity);
        // Spread over some 100 ms, so the churning streams come and go
        // while offers flow.
        if (i % 10 == 0) absl::SleepFor(absl::Microseconds(300));
      }
    });
  }
  for (std::thread& offerer : offerers) offerer.join();
  offering = false;
  offer(last);
  // A churning watcher that came back after that offer gets it too.
  for (int i = 0; i < 1000 && churning.load() > 0; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
    offer(last);
  }
  for (std::thread& thread : threads) thread.join();

  for (int i = 0; i < kSteady; ++i) {
    SCOPED_TRACE(absl::StrCat("steady watcher ", i));
    EXPECT_TRUE(StrictlyIncreasing(steady[i]));
    ASSERT_FALSE(steady[i].empty()) << steady_status[i].error_message();
    EXPECT_EQ(steady[i].back(), last) << steady_status[i].error_message();
  }
  for (int i = 0; i < kChurning; ++i) {
    for (const auto& versions : churned[i]) {
      EXPECT_TRUE(StrictlyIncreasing(versions)) << "churning watcher " << i;
    }
  }
  // Every stream ended; each leaves the service once gRPC is done with it.
  EXPECT_TRUE(WaitUntil("every Watch has left", kWaitTimeout,
                        [&] { return service_->watcher_count() == 0; }));
}

TEST_F(ServiceTest, ShutdownWhileOffersFlowEndsEveryWatch) {
  auto stub = cascade::v1::RelayControl::NewStub(
      grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
  const auto template_assignment = controller_->CurrentAssignment("d1");
  ASSERT_NE(template_assignment, nullptr);
  constexpr int kWatchers = 32;
  std::vector<std::vector<uint64_t>> versions(kWatchers);
  std::vector<grpc::Status> status(kWatchers);
  std::vector<std::thread> watchers;
  for (int i = 0; i < kWatchers; ++i) {
    watchers.emplace_back([&, i] {
      status[i] = ReadVersions(stub.get(), "d1", 0, 1 << 20, absl::Seconds(20),
                               &versions[i]);
    });
  }
  std::atomic<bool> stop{false};
  std::thread offerer([&] {
    const uint64_t first = template_assignment->version() + 1;
    for (uint64_t version = first; !stop.load() && version < first + 200000;
         ++version) {
      auto assignment =
          std::make_shared<cascade::v1::Assignment>(*template_assignment);
      assignment->set_version(version);
      service_->OnAssignment(std::move(assignment));
    }
  });
  EXPECT_TRUE(WaitUntil("every Watch is registered", kWaitTimeout, [&] {
    return service_->watcher_count() == size_t{kWatchers};
  }));
  service_->Shutdown();
  for (std::thread& watcher : watchers) watcher.join();
  stop = true;
  offerer.join();
  for (int i = 0; i < kWatchers; ++i) {
    SCOPED_TRACE(absl::StrCat("watcher ", i));
    EXPECT_EQ(status[i].error_code(), grpc::StatusCode::UNAVAILABLE)
        << status[i].error_message();
    EXPECT_TRUE(StrictlyIncreasing(versions[i]));
  }
}

// Stopping the server while reports stream in and assignments go out (what
// SIGTERM does): every stream ends with an error at its client, and no
// handler starts an operation on a completion queue already shut down
// (gRPC aborts the process on that).
TEST_F(ServiceTest, StoppingTheServerMidStreamEndsEveryCallCleanly) {
  constexpr int kRounds = 5;
  constexpr int kStreams = 16;
  const auto template_assignment = controller_->CurrentAssignment("d1");
  ASSERT_NE(template_assignment, nullptr);
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    ControllerService service(controller_.get(), options_);
    ServerHandle server;
    std::string address;
    std::unique_ptr<cascade::v1::Admin::Stub> admin;
    Serve(&service, &server, &address, &admin);
    auto stub = cascade::v1::RelayControl::NewStub(
        grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
    std::vector<grpc::Status> watched(kStreams), reported(kStreams);
    std::vector<std::thread> clients;
    std::atomic<int> reporting{0};
    for (int i = 0; i < kStreams; ++i) {
      clients.emplace_back([&, i] {
        std::vector<uint64_t> versions;
        watched[i] = ReadVersions(stub.get(), "d1", 0, 1 << 20,
                                  absl::Seconds(20), &versions);
      });
      clients.emplace_back([&, i] {
        grpc::ClientContext context;
        context.set_deadline(
            absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
        cascade::v1::ReportResponse response;
        auto writer = stub->Report(&context, &response);
        cascade::v1::ReportRequest report;
        report.set_node_id("d1");
        bool counted = false;
        for (int n = 0; n < 1000000 && writer->Write(report); ++n) {
          if (!counted) reporting.fetch_add(1);
          counted = true;
        }
        reported[i] = writer->Finish();
      });
    }
    std::atomic<bool> stop{false};
    std::thread offerer([&] {
      for (uint64_t version = template_assignment->version() + 1; !stop.load();
           ++version) {
        auto assignment =
            std::make_shared<cascade::v1::Assignment>(*template_assignment);
        assignment->set_version(version);
        service.OnAssignment(std::move(assignment));
      }
    });
    auto flowing = [&] {
      return service.watcher_count() == size_t{kStreams} &&
             reporting.load() == kStreams;
    };
    for (int i = 0; i < 1000 && !flowing(); ++i) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    EXPECT_TRUE(flowing()) << service.watcher_count() << " watchers, "
                           << reporting.load() << " reporting";
    // As topologyd's SIGTERM: the streams are told, the server goes.
    service.Shutdown();
    server.reset();
    stop = true;
    offerer.join();
    for (std::thread& client : clients) client.join();
    for (int i = 0; i < kStreams; ++i) {
      EXPECT_FALSE(watched[i].ok());
      EXPECT_FALSE(reported[i].ok());
    }
  }
}

}  // namespace
}  // namespace cascade::topology
