// topologyd under a service manager's Type=notify protocol (sd_notify(3)):
// the test plays systemd with a datagram socket of its own in $NOTIFY_SOCKET
// and a watchdog in $WATCHDOG_USEC, and reads what a real topologyd says.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "base/files.h"
#include "base/subprocess.h"
#include "gtest/gtest.h"
#include "proto/controller.grpc.pb.h"
#include "tests/common/notify_socket.h"
#include "tests/topology/harness.h"

namespace cascade::topology::testing {
namespace {

using cascade::testing::NotifySocket;

// One GetStats, no retry and no waiting for a connection: a refused port
// fails it at once.
grpc::Status Stats(const std::string& address) {
  auto stub = cascade::v1::Admin::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  cascade::v1::StatsResponse stats;
  return stub->GetStats(&context, cascade::v1::StatsRequest(), &stats);
}

TEST(ServiceNotifyTest, ReadyOnceServingThenWatchdogAndStoppingOnSigterm) {
  const std::string dir = TestDir();
  NotifySocket manager;
  ASSERT_TRUE(manager.bound());
  const std::string port_file = dir + "/port";
  SubprocessOptions options(dir + "/topologyd.out", dir + "/topologyd.err");
  // 200 ms: topologyd pings every 100 ms.
  options.env = {manager.env(), "WATCHDOG_USEC=200000"};
  auto topologyd = Subprocess::Start(
      {"topology/topologyd", "--listen=127.0.0.1:0", "--port-file=" + port_file,
       "--insecure", "--state-dir=" + dir + "/state"},
      options);
  ASSERT_TRUE(topologyd.ok()) << topologyd.status();

  ASSERT_TRUE(manager.WaitFor("READY=1", absl::Seconds(20)))
      << ReadFile(dir + "/topologyd.err").value_or("");
  // Ready means serving: the port is known and a call answers at once.
  absl::StatusOr<std::string> written = ReadFile(port_file);
  ASSERT_TRUE(written.ok()) << written.status();
  int port = 0;
  ASSERT_TRUE(absl::SimpleAtoi(
      absl::StripAsciiWhitespace(written->substr(0, written->find('\n'))),
      &port))
      << *written;
  grpc::Status stats = Stats(absl::StrCat("127.0.0.1:", port));
  EXPECT_TRUE(stats.ok()) << stats.error_message();
  EXPECT_TRUE(
      absl::StrContains(manager.messages().back(),
                        absl::StrCat("STATUS=leading, serving on port ", port)))
      << manager.messages().back();
  EXPECT_EQ(manager.Count("READY=1"), 1);

  // The watchdog is fed, again and again, while it runs.
  EXPECT_TRUE(manager.WaitForCount("WATCHDOG=1", 5, absl::Seconds(10)));

  ASSERT_TRUE((*topologyd)->Signal(SIGTERM).ok());
  EXPECT_TRUE(manager.WaitFor("STOPPING=1", absl::Seconds(10)));
  absl::StatusOr<int> code = (*topologyd)->Wait(absl::Seconds(20));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
}

}  // namespace
}  // namespace cascade::topology::testing
