#include "tools/sim/supervisor.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <cstdlib>
#include <string>

#include "base/files.h"

namespace cascade::sim {
namespace {

std::string TempLog(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir ? dir : "/tmp") + "/" + name + ".log";
}

TEST(SupervisorTest, ReportsExitCodeAndCapturesOutput) {
  Supervisor supervisor;
  const std::string log = TempLog("exit");
  ASSERT_TRUE(supervisor
                  .Start("exiter", "shell",
                         {"/bin/sh", "-c", "echo hello from child; exit 3"},
                         log)
                  .ok());
  absl::StatusOr<int> code = supervisor.Wait("exiter", absl::Seconds(5));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 3);
  EXPECT_EQ(ReadFile(log).value_or(""), "hello from child\n");
  EXPECT_FALSE(supervisor.Running("exiter"));
}

TEST(SupervisorTest, KillAndSignal) {
  Supervisor supervisor;
  ASSERT_TRUE(
      supervisor
          .Start("sleeper", "sleep", {"/bin/sleep", "30"}, TempLog("sleeper"))
          .ok());
  EXPECT_TRUE(supervisor.Running("sleeper"));
  EXPECT_TRUE(absl::IsAlreadyExists(supervisor.Start(
      "sleeper", "sleep", {"/bin/sleep", "1"}, TempLog("sleeper"))));
  ASSERT_TRUE(supervisor.Kill("sleeper").ok());
  EXPECT_FALSE(supervisor.Running("sleeper"));
  EXPECT_TRUE(absl::IsNotFound(supervisor.Signal("sleeper", SIGTERM)));
  EXPECT_TRUE(absl::IsNotFound(supervisor.Kill("nobody")));
}

TEST(SupervisorTest, ReapExitedReportsEachSelfEndedProcessOnce) {
  Supervisor supervisor;
  ASSERT_TRUE(supervisor
                  .Start("quitter", "shell", {"/bin/sh", "-c", "exit 3"},
                         TempLog("quitter"))
                  .ok());
  ASSERT_TRUE(
      supervisor
          .Start("victim", "sleep", {"/bin/sleep", "30"}, TempLog("victim"))
          .ok());
  ASSERT_TRUE(supervisor.Kill("victim").ok());
  // Running() noticing the exit first must not swallow it.
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (supervisor.Running("quitter") && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_FALSE(supervisor.Running("quitter"));
  std::vector<Ended> ended = supervisor.ReapExited();
  ASSERT_EQ(ended.size(), 1u);  // the killed one was asked for
  EXPECT_EQ(ended[0].name, "quitter");
  EXPECT_EQ(ended[0].kind, "shell");
  EXPECT_EQ(ended[0].code, 3);
  EXPECT_EQ(ended[0].description, "quitter exited with code 3");
  EXPECT_TRUE(supervisor.ReapExited().empty());
}

TEST(SupervisorTest, StopEscalatesToKillWhenTermIsIgnored) {
  Supervisor supervisor;
  ASSERT_TRUE(supervisor
                  .Start("stubborn", "shell",
                         {"/bin/sh", "-c", "trap '' TERM; sleep 30"},
                         TempLog("stubborn"))
                  .ok());
  absl::SleepFor(absl::Milliseconds(100));  // let the shell install its trap
  const absl::Time start = absl::Now();
  ASSERT_TRUE(supervisor.Stop("stubborn", absl::Milliseconds(300)).ok());
  EXPECT_FALSE(supervisor.Running("stubborn"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST(SupervisorTest, UsageByKindCountsCpuOfFinishedProcesses) {
  Supervisor supervisor;
  // Busy for about 0.3 s of CPU, bounded by the loop count.
  const std::string busy = "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done";
  ASSERT_TRUE(
      supervisor
          .Start("busy", "worker", {"/bin/sh", "-c", busy}, TempLog("busy"))
          .ok());
  ASSERT_TRUE(
      supervisor
          .Start("idle", "worker", {"/bin/sh", "-c", "exit 0"}, TempLog("idle"))
          .ok());
  ASSERT_TRUE(supervisor.Wait("busy", absl::Seconds(20)).ok());
  ASSERT_TRUE(supervisor.Wait("idle", absl::Seconds(5)).ok());
  auto usage = supervisor.UsageByKind();
  ASSERT_TRUE(usage.contains("worker"));
  EXPECT_EQ(usage["worker"].processes, 2);
  EXPECT_GT(usage["worker"].cpu_seconds, 0.01);
  EXPECT_GT(usage["worker"].peak_rss_mb_max, 0.1);
}

TEST(SupervisorTest, StopAllEndsEverything) {
  Supervisor supervisor;
  for (int i = 0; i < 5; ++i) {
    std::string name = "s" + std::to_string(i);
    ASSERT_TRUE(
        supervisor.Start(name, "sleep", {"/bin/sleep", "30"}, TempLog(name))
            .ok());
  }
  supervisor.StopAll(absl::Seconds(2));
  for (int i = 0; i < 5; ++i) {
    EXPECT_FALSE(supervisor.Running("s" + std::to_string(i)));
  }
}

}  // namespace
}  // namespace cascade::sim
