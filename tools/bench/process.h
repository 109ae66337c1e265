// What the harness needs around its child processes (base/subprocess.h):
// their CPU time, the binaries it runs, ports for them, their logs.
#ifndef CASCADE_TOOLS_BENCH_PROCESS_H_
#define CASCADE_TOOLS_BENCH_PROCESS_H_

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"

namespace cascade::bench {

// CPU time (user + system) of every thread of `pid`, in nanoseconds, from
// /proc/PID/task/*/schedstat: by thread id, and their sum.
absl::StatusOr<std::map<pid_t, uint64_t>> ThreadCpuNanos(pid_t pid);
absl::StatusOr<uint64_t> ProcessCpuNanos(pid_t pid);

// Resident memory of `pid` (/proc/PID/status), in KiB.
struct ProcessMemory {
  int64_t rss_kb = 0;   // VmRSS: now
  int64_t peak_kb = 0;  // VmHWM: the most it held
};
ProcessMemory ReadProcessMemory(pid_t pid);

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
