// Child processes for the harness: start, stop, and measure their CPU time.
#ifndef CASCADE_TOOLS_BENCH_PROCESS_H_
#define CASCADE_TOOLS_BENCH_PROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace cascade::bench {

// A child process whose stdout and stderr go to a log file. Stopped (SIGTERM,
// then SIGKILL after a grace period) when destroyed.
class Subprocess {
 public:
  static absl::StatusOr<std::unique_ptr<Subprocess>> Start(
      const std::vector<std::string>& argv, const std::string& log_path);
  ~Subprocess();

  pid_t pid() const { return pid_; }
  // False once the process has exited.
  bool Running();
  // SIGTERM, wait up to `grace`, then SIGKILL. Returns the exit status text.
  std::string Stop(absl::Duration grace = absl::Seconds(2));
  const std::string& log_path() const { return log_path_; }

 private:
  Subprocess(pid_t pid, std::string log_path)
      : pid_(pid), log_path_(std::move(log_path)) {}

  pid_t pid_;
  std::string log_path_;
  bool exited_ = false;
  int status_ = 0;
};

// CPU time (user + system) of every thread of `pid`, in nanoseconds, from
// /proc/PID/task/*/schedstat.
absl::StatusOr<uint64_t> ProcessCpuNanos(pid_t pid);

// The path of a binary built with the harness: beside it in its runfiles
// tree, or as a sibling in bazel-bin. `path` is workspace-relative
// ("tools/bench/fanout-baseline").
std::string FindBuiltBinary(const std::string& argv0, const std::string& path);

// The first line a command prints (stdout and stderr), or "" when it fails.
std::string FirstOutputLine(const std::string& shell_command);

// A port on 127.0.0.1 the kernel handed out and we released, for programs
// that cannot report the port they bound (gst-launch).
absl::StatusOr<int> ReserveLoopbackPort();

// The tail of a file (for error messages quoting a child's log).
std::string FileTail(const std::string& path, size_t bytes = 400);

}  // namespace cascade::bench

#endif  // CASCADE_TOOLS_BENCH_PROCESS_H_
