// Child processes: the one way Cascade's tests, relay-sim's supervisor and
// relay-bench start, wait for, signal and reap them. A Subprocess owns its
// child: destroying it kills and reaps whatever still runs, so no caller
// leaves a process behind.
#ifndef CASCADE_BASE_SUBPROCESS_H_
#define CASCADE_BASE_SUBPROCESS_H_

#include <sys/resource.h>
#include <sys/types.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace cascade {

struct SubprocessOptions {
  SubprocessOptions() = default;
  SubprocessOptions(std::string stdout_path, std::string stderr_path)
      : stdout_path(std::move(stdout_path)),
        stderr_path(std::move(stderr_path)) {}

  // Files for the child's stdout and stderr; empty: this process's own.
  // The same path for both gives one file with both streams in order.
  std::string stdout_path;
  std::string stderr_path;
  // Appends to the files instead of truncating them (a log kept across
  // restarts of the same process).
  bool append = false;
  // "NAME=VALUE" entries added to this process's environment (replacing a
  // variable of the same name).
  std::vector<std::string> env;
  // Its own process group: a terminal's Ctrl-C reaches only the parent, and
  // what the child starts in its group dies with it (killed when the child
  // is killed or found to have ended).
  bool own_process_group = false;
  // SIGKILL to the child when the thread that started it exits
  // (PR_SET_PDEATHSIG): not even a kill -9 of the parent leaves it running.
  bool die_with_parent = false;
  // Descriptors of this process the child gets under numbers of its own,
  // such as the pipe a program speaks a protocol over (Chromium's
  // --remote-debugging-pipe reads fd 3 and writes fd 4). Each `child_fd` is
  // 3 or more and given once; one `fd` may be given under several numbers.
  // This process keeps its own copies open.
  struct ChildFd {
    int fd;        // this process's descriptor
    int child_fd;  // the number the child sees it under
  };
  std::vector<ChildFd> child_fds;
};

class Subprocess {
 public:
  // Starts `argv`: argv[0] is a path, or a name looked up on $PATH. stdin is
  // /dev/null (no child reads input; a terminal's stays with the parent).
  // Returns once the program runs, so an error names what failed: NotFound
  // for a missing binary, the system's reason for a file or exec failure,
  // InvalidArgument for `child_fds` numbered below 3 or twice.
  static absl::StatusOr<std::unique_ptr<Subprocess>> Start(
      const std::vector<std::string>& argv,
      const SubprocessOptions& options = {});

  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;
  // Kill() when it still runs.
  ~Subprocess();

  pid_t pid() const { return pid_; }

  // False once the child has exited (it is reaped then).
  bool Running();
  // Sends `signum` to the child only; FailedPrecondition once it is reaped
  // (its pid may name another process by then).
  absl::Status Signal(int signum) const;
  // Waits up to `timeout` for the child to exit, and leaves it running
  // after that: its exit code; Aborted when a signal ended it;
  // DeadlineExceeded while it runs. Once reaped, the same answer each time.
  absl::StatusOr<int> Wait(absl::Duration timeout);
  // SIGTERM, up to `grace` to exit, then Kill(); how it ended, as Wait().
  absl::StatusOr<int> Stop(absl::Duration grace);
  // SIGKILL (to its process group too, when it has one) and reap; how it
  // ended, as Wait().
  absl::StatusOr<int> Kill();

  // Once reaped: the signal that ended the child, 0 when it exited.
  int termination_signal() const { return termination_signal_; }
  // Once reaped: the kernel's account of the child (CPU time, peak RSS).
  const struct rusage& usage() const { return usage_; }

 private:
  Subprocess(pid_t pid, std::string program, bool own_process_group)
      : pid_(pid),
        program_(std::move(program)),
        own_process_group_(own_process_group) {}
  // Reaps the child if it has exited (waits for it when `block`), recording
  // how it ended; false while it runs.
  bool Reap(bool block);

  const pid_t pid_;
  const std::string program_;  // argv[0], for messages
  const bool own_process_group_;
  bool reaped_ = false;
  absl::StatusOr<int> ended_ = absl::UnknownError("running");
  int termination_signal_ = 0;
  struct rusage usage_ = {};
};

// "exit code N", or why there is none ("PROGRAM killed by signal N", "...
// still running after 2s"): how a process ended, for logs and messages.
std::string ExitText(const absl::StatusOr<int>& ended);

// The path of the executable `name` on $PATH (as execvp finds it);
// NotFound when there is none.
absl::StatusOr<std::string> FindOnPath(absl::string_view name);

}  // namespace cascade

#endif  // CASCADE_BASE_SUBPROCESS_H_
