#include "base/subprocess.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <functional>
#include <string>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "base/files.h"

namespace cascade {
namespace {

std::string TempPath(const std::string& name) {
  return absl::StrCat(::testing::TempDir(), "/", name);
}

// Checks `condition` until it holds or `timeout` passes.
bool Eventually(const std::function<bool()>& condition,
                absl::Duration timeout = absl::Seconds(10)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

// True once `pid` no longer runs: gone, or a zombie its new parent has not
// reaped yet.
bool Ended(pid_t pid) {
  absl::StatusOr<std::string> stat =
      ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  if (!stat.ok()) return true;
  const size_t name_end = stat->rfind(')');
  return name_end != std::string::npos && stat->substr(name_end + 2, 1) == "Z";
}

absl::StatusOr<int> RunToEnd(const std::vector<std::string>& argv,
                             const SubprocessOptions& options = {}) {
  absl::StatusOr<std::unique_ptr<Subprocess>> process =
      Subprocess::Start(argv, options);
  if (!process.ok()) return process.status();
  return (*process)->Wait(absl::Seconds(10));
}

TEST(SubprocessTest, ExitCodes) {
  EXPECT_EQ(RunToEnd({"/bin/true"}).value_or(-1), 0);
  EXPECT_EQ(RunToEnd({"/bin/false"}).value_or(-1), 1);
  EXPECT_EQ(RunToEnd({"/bin/sh", "-c", "exit 7"}).value_or(-1), 7);
  // A bare name is looked up on $PATH.
  EXPECT_EQ(RunToEnd({"true"}).value_or(-1), 0);
}

TEST(SubprocessTest, WaitAfterTheEndGivesTheSameAnswer) {
  absl::StatusOr<std::unique_ptr<Subprocess>> process =
      Subprocess::Start({"/bin/sh", "-c", "exit 3"});
  ASSERT_TRUE(process.ok()) << process.status();
  EXPECT_EQ((*process)->Wait(absl::Seconds(10)).value_or(-1), 3);
  EXPECT_FALSE((*process)->Running());
  EXPECT_EQ((*process)->Wait(absl::ZeroDuration()).value_or(-1), 3);
  EXPECT_EQ((*process)->Kill().value_or(-1), 3);
  EXPECT_EQ(ExitText((*process)->Stop(absl::Seconds(1))), "exit code 3");
  EXPECT_EQ((*process)->termination_signal(), 0);
  EXPECT_TRUE(absl::IsFailedPrecondition((*process)->Signal(SIGTERM)));
}

TEST(SubprocessTest, OutputToFiles) {
  const std::string out = TempPath("out"), err = TempPath("err");
  const std::vector<std::string> argv = {"/bin/sh", "-c",
                                         "echo to-out; echo to-err >&2"};
  ASSERT_EQ(RunToEnd(argv, {out, err}).value_or(-1), 0);
  EXPECT_EQ(ReadFile(out).value_or(""), "to-out\n");
  EXPECT_EQ(ReadFile(err).value_or(""), "to-err\n");

  // One file for both, in the order written; truncated on the next start,
  // kept with `append`.
  const std::string both = TempPath("both");
  ASSERT_EQ(RunToEnd(argv, {both, both}).value_or(-1), 0);
  EXPECT_EQ(ReadFile(both).value_or(""), "to-out\nto-err\n");
  ASSERT_EQ(RunToEnd(argv, {both, both}).value_or(-1), 0);
  EXPECT_EQ(ReadFile(both).value_or(""), "to-out\nto-err\n");
  SubprocessOptions append(both, both);
  append.append = true;
  ASSERT_EQ(RunToEnd(argv, append).value_or(-1), 0);
  EXPECT_EQ(ReadFile(both).value_or(""), "to-out\nto-err\nto-out\nto-err\n");
}

TEST(SubprocessTest, ExtraEnvironmentAddsAndReplaces) {
  ASSERT_EQ(setenv("CASCADE_SUBPROCESS_TEST_KEPT", "kept", 1), 0);
  ASSERT_EQ(setenv("CASCADE_SUBPROCESS_TEST_REPLACED", "old", 1), 0);
  SubprocessOptions options(TempPath("env"), "");
  options.env = {"CASCADE_SUBPROCESS_TEST_REPLACED=new",
                 "CASCADE_SUBPROCESS_TEST_ADDED=added"};
  ASSERT_EQ(RunToEnd({"/bin/sh", "-c",
                      "echo $CASCADE_SUBPROCESS_TEST_KEPT "
                      "$CASCADE_SUBPROCESS_TEST_REPLACED "
                      "$CASCADE_SUBPROCESS_TEST_ADDED; env | grep -c "
                      "CASCADE_SUBPROCESS_TEST_REPLACED"},
                     options)
                .value_or(-1),
            0);
  EXPECT_EQ(ReadFile(options.stdout_path).value_or(""), "kept new added\n1\n");
}

TEST(SubprocessTest, StdinIsEmpty) {
  const std::string out = TempPath("stdin");
  ASSERT_EQ(RunToEnd({"/bin/sh", "-c", "wc -c"}, {out, ""}).value_or(-1), 0);
  EXPECT_EQ(absl::StripAsciiWhitespace(ReadFile(out).value_or("")), "0");
}

// All a pipe's reader gets until every writer has closed it.
std::string ReadToEnd(int fd) {
  std::string text;
  char buffer[256];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof(buffer))) > 0) text.append(buffer, n);
  return text;
}

TEST(SubprocessTest, ChildFdsReachTheChildUnderTheirNumbers) {
  // Two pipes whose write ends sit at 100 and 101 here and are given
  // crosswise: a naive dup2 of the first would overwrite the second.
  int first[2], second[2];
  ASSERT_EQ(pipe2(first, O_CLOEXEC), 0);
  ASSERT_EQ(pipe2(second, O_CLOEXEC), 0);
  ASSERT_EQ(dup3(first[1], 100, O_CLOEXEC), 100);
  ASSERT_EQ(dup3(second[1], 101, O_CLOEXEC), 101);
  close(first[1]);
  close(second[1]);
  SubprocessOptions options;
  options.child_fds = {{100, 101}, {101, 100}, {101, 7}};
  absl::StatusOr<int> ended =
      RunToEnd({"/bin/bash", "-c",  // dash takes one digit after >&
                "echo to-100 >&100; echo to-101 >&101; echo to-7 >&7"},
               options);
  // Ours closed, the child's ended with it: the readers see the end.
  close(100);
  close(101);
  EXPECT_EQ(ended.value_or(-1), 0) << ended.status();
  EXPECT_EQ(ReadToEnd(first[0]), "to-101\n");
  EXPECT_EQ(ReadToEnd(second[0]), "to-100\nto-7\n");
  close(first[0]);
  close(second[0]);

  // A number below 3, or one given twice, is refused before anything runs.
  options.child_fds = {{100, 2}};
  EXPECT_TRUE(absl::IsInvalidArgument(
      Subprocess::Start({"/bin/true"}, options).status()));
  options.child_fds = {{100, 5}, {101, 5}};
  EXPECT_TRUE(absl::IsInvalidArgument(
      Subprocess::Start({"/bin/true"}, options).status()));
  // A descriptor this process does not have fails the start, saying why.
  options.child_fds = {{100, 3}};
  absl::StatusOr<std::unique_ptr<Subprocess>> closed =
      Subprocess::Start({"/bin/true"}, options);
  EXPECT_EQ(closed.status().code(), absl::StatusCode::kFailedPrecondition)
      << closed.status();
}

TEST(SubprocessTest, WaitTimesOutAndLeavesTheChildRunning) {
  absl::StatusOr<std::unique_ptr<Subprocess>> sleeper =
      Subprocess::Start({"/bin/sleep", "30"});
  ASSERT_TRUE(sleeper.ok()) << sleeper.status();
  const absl::Time start = absl::Now();
  absl::StatusOr<int> waited = (*sleeper)->Wait(absl::Milliseconds(200));
  const absl::Duration took = absl::Now() - start;
  EXPECT_TRUE(absl::IsDeadlineExceeded(waited.status())) << waited.status();
  EXPECT_GE(took, absl::Milliseconds(200));
  EXPECT_LT(took, absl::Milliseconds(700));
  EXPECT_TRUE((*sleeper)->Running());
  EXPECT_TRUE(absl::IsDeadlineExceeded(
      (*sleeper)->Wait(absl::ZeroDuration()).status()));
}

TEST(SubprocessTest, SignalEndsTheChild) {
  absl::StatusOr<std::unique_ptr<Subprocess>> sleeper =
      Subprocess::Start({"/bin/sleep", "30"});
  ASSERT_TRUE(sleeper.ok()) << sleeper.status();
  ASSERT_TRUE((*sleeper)->Signal(SIGTERM).ok());
  absl::StatusOr<int> ended = (*sleeper)->Wait(absl::Seconds(10));
  EXPECT_TRUE(absl::IsAborted(ended.status())) << ended.status();
  EXPECT_EQ(ExitText(ended), "/bin/sleep killed by signal 15");
  EXPECT_EQ((*sleeper)->termination_signal(), SIGTERM);
  EXPECT_GT((*sleeper)->usage().ru_maxrss, 0);
}

TEST(SubprocessTest, StopTermsThenKills) {
  absl::StatusOr<std::unique_ptr<Subprocess>> polite =
      Subprocess::Start({"/bin/sleep", "30"});
  ASSERT_TRUE(polite.ok()) << polite.status();
  EXPECT_TRUE((*polite)->Running());
  EXPECT_EQ(ExitText((*polite)->Stop(absl::Seconds(10))),
            "/bin/sleep killed by signal 15");
  EXPECT_EQ((*polite)->termination_signal(), SIGTERM);
  EXPECT_FALSE((*polite)->Running());

  // An ignored signal stays ignored across fork and exec: the child ignores
  // SIGTERM from its first instruction, with no race to wait out.
  struct sigaction ignore = {}, previous = {};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(sigaction(SIGTERM, &ignore, &previous), 0);
  absl::StatusOr<std::unique_ptr<Subprocess>> stubborn =
      Subprocess::Start({"/bin/sleep", "30"});
  ASSERT_EQ(sigaction(SIGTERM, &previous, nullptr), 0);
  ASSERT_TRUE(stubborn.ok()) << stubborn.status();
  const absl::Time start = absl::Now();
  absl::StatusOr<int> stopped = (*stubborn)->Stop(absl::Milliseconds(200));
  const absl::Duration took = absl::Now() - start;
  EXPECT_EQ(ExitText(stopped), "/bin/sleep killed by signal 9");
  EXPECT_GE(took, absl::Milliseconds(200));
  EXPECT_LT(took, absl::Seconds(1));
}

TEST(SubprocessTest, DestructorKillsAndReapsARunningChild) {
  pid_t pid = -1;
  {
    absl::StatusOr<std::unique_ptr<Subprocess>> sleeper =
        Subprocess::Start({"/bin/sleep", "30"});
    ASSERT_TRUE(sleeper.ok()) << sleeper.status();
    pid = (*sleeper)->pid();
    ASSERT_EQ(kill(pid, 0), 0);
  }
  // Reaped: not even a zombie is left.
  EXPECT_EQ(kill(pid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
  EXPECT_EQ(waitpid(pid, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

TEST(SubprocessTest, DestructorKillsTheProcessGroup) {
  const std::string grandchild_pid = TempPath("grandchild");
  pid_t pid = -1;
  pid_t grandchild = 0;
  SubprocessOptions group;
  group.own_process_group = true;
  {
    absl::StatusOr<std::unique_ptr<Subprocess>> shell = Subprocess::Start(
        {"/bin/sh", "-c",
         "/bin/sleep 30 & echo $! > " + grandchild_pid + ".tmp && mv " +
             grandchild_pid + ".tmp " + grandchild_pid + "; wait"},
        group);
    ASSERT_TRUE(shell.ok()) << shell.status();
    pid = (*shell)->pid();
    EXPECT_EQ(getpgid(pid), pid);
    ASSERT_TRUE(Eventually([&] {
      return absl::SimpleAtoi(
          absl::StripAsciiWhitespace(ReadFile(grandchild_pid).value_or("")),
          &grandchild);
    }));
    ASSERT_EQ(getpgid(grandchild), pid);
  }
  EXPECT_EQ(kill(pid, 0), -1);
  // The grandchild is not ours to reap: it is killed, then its new parent
  // reaps it.
  EXPECT_TRUE(Eventually([&] { return Ended(grandchild); }));
}

TEST(SubprocessTest, WhatAChildLeftInItsGroupEndsWithIt) {
  const std::string grandchild_pid = TempPath("left-behind");
  SubprocessOptions group;
  group.own_process_group = true;
  absl::StatusOr<std::unique_ptr<Subprocess>> shell = Subprocess::Start(
      {"/bin/sh", "-c",
       "/bin/sleep 30 & echo $! > " + grandchild_pid + "; exit 4"},
      group);
  ASSERT_TRUE(shell.ok()) << shell.status();
  EXPECT_EQ((*shell)->Wait(absl::Seconds(10)).value_or(-1), 4);
  pid_t grandchild = 0;
  ASSERT_TRUE(absl::SimpleAtoi(
      absl::StripAsciiWhitespace(ReadFile(grandchild_pid).value_or("")),
      &grandchild));
  EXPECT_TRUE(Eventually([&] { return Ended(grandchild); }));
}

TEST(SubprocessTest, DiesWithTheThreadThatStartedIt) {
  std::unique_ptr<Subprocess> sleeper;
  SubprocessOptions options;
  options.die_with_parent = true;
  std::thread([&] {
    absl::StatusOr<std::unique_ptr<Subprocess>> started =
        Subprocess::Start({"/bin/sleep", "30"}, options);
    ASSERT_TRUE(started.ok()) << started.status();
    sleeper = *std::move(started);
  }).join();
  ASSERT_NE(sleeper, nullptr);
  EXPECT_EQ(ExitText(sleeper->Wait(absl::Seconds(10))),
            "/bin/sleep killed by signal 9");
}

TEST(SubprocessTest, MissingOrUnrunnableProgramsFailClearly) {
  absl::StatusOr<std::unique_ptr<Subprocess>> missing =
      Subprocess::Start({"/nonexistent/program", "--flag"});
  EXPECT_TRUE(absl::IsNotFound(missing.status())) << missing.status();
  EXPECT_NE(missing.status().message().find("/nonexistent/program"),
            std::string::npos)
      << missing.status();

  absl::StatusOr<std::unique_ptr<Subprocess>> unknown =
      Subprocess::Start({"cascade-no-such-program"});
  EXPECT_TRUE(absl::IsNotFound(unknown.status())) << unknown.status();
  EXPECT_EQ(unknown.status().message(),
            "cascade-no-such-program not found on PATH");

  const std::string not_executable = TempPath("not-executable");
  ASSERT_TRUE(WriteFileAtomically(not_executable, "#!/bin/sh\n", 0644).ok());
  absl::StatusOr<std::unique_ptr<Subprocess>> denied =
      Subprocess::Start({not_executable});
  EXPECT_TRUE(absl::IsPermissionDenied(denied.status())) << denied.status();

  absl::StatusOr<std::unique_ptr<Subprocess>> unwritable =
      Subprocess::Start({"/bin/true"}, {"/nonexistent/dir/out", ""});
  EXPECT_FALSE(unwritable.ok());
  EXPECT_NE(unwritable.status().message().find("/nonexistent/dir/out"),
            std::string::npos)
      << unwritable.status();

  EXPECT_TRUE(absl::IsInvalidArgument(Subprocess::Start({}).status()));
}

TEST(SubprocessTest, FindOnPath) {
  absl::StatusOr<std::string> sh = FindOnPath("sh");
  ASSERT_TRUE(sh.ok()) << sh.status();
  EXPECT_EQ(access(sh->c_str(), X_OK), 0);
  EXPECT_TRUE(absl::IsNotFound(FindOnPath("cascade-no-such-program").status()));
}

}  // namespace
}  // namespace cascade
