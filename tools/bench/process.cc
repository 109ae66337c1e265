#include "tools/bench/process.h"

#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/files.h"
#include "tools/impair/socket_address.h"

namespace cascade::bench {

absl::StatusOr<std::map<pid_t, uint64_t>> ThreadCpuNanos(pid_t pid) {
  const std::string task_dir = absl::StrCat("/proc/", pid, "/task");
  DIR* dir = opendir(task_dir.c_str());
  if (dir == nullptr) {
    return absl::NotFoundError(absl::StrCat("no ", task_dir));
  }
  std::map<pid_t, uint64_t> threads;
  while (dirent* entry = readdir(dir)) {
    pid_t tid = 0;
    if (!absl::SimpleAtoi(entry->d_name, &tid)) continue;
    std::ifstream schedstat(
        absl::StrCat(task_dir, "/", entry->d_name, "/schedstat"));
    uint64_t on_cpu_ns = 0;
    // A thread that exited in between contributes nothing.
    if (schedstat >> on_cpu_ns) threads[tid] = on_cpu_ns;
  }
  closedir(dir);
  return threads;
}

absl::StatusOr<uint64_t> ProcessCpuNanos(pid_t pid) {
  absl::StatusOr<std::map<pid_t, uint64_t>> threads = ThreadCpuNanos(pid);
  if (!threads.ok()) return threads.status();
  uint64_t total = 0;
  for (const auto& [tid, ns] : *threads) total += ns;
  return total;
}

ProcessMemory ReadProcessMemory(pid_t pid) {
  ProcessMemory memory;
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    int64_t* field = absl::StartsWith(line, "VmRSS:")   ? &memory.rss_kb
                     : absl::StartsWith(line, "VmHWM:") ? &memory.peak_kb
                                                        : nullptr;
    if (field == nullptr) continue;
    std::string number = line.substr(6);
    number = number.substr(0, number.find("kB"));
    if (!absl::SimpleAtoi(number, field)) *field = 0;
  }
  return memory;
}

std::string FindBuiltBinary(const std::string& argv0, const std::string& path) {
  const size_t slash = path.rfind('/');
  const std::string name = path.substr(slash + 1);
  std::vector<std::string> candidates = {
      absl::StrCat(argv0, ".runfiles/cascade/", path)};
  if (const char* runfiles = std::getenv("RUNFILES_DIR")) {
    candidates.push_back(absl::StrCat(runfiles, "/cascade/", path));
  }
  // bazel-bin/tools/bench/relay-bench -> bazel-bin/<path>
  const size_t bench = argv0.rfind("tools/bench/");
  if (bench != std::string::npos) {
    candidates.push_back(absl::StrCat(argv0.substr(0, bench), path));
  }
  for (const std::string& candidate : candidates) {
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

std::string FirstOutputLine(const std::string& shell_command) {
  FILE* pipe = popen((shell_command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return "";
  char line[512] = "";
  if (std::fgets(line, sizeof(line), pipe) == nullptr) line[0] = '\0';
  // Drain so the command is not killed by SIGPIPE mid-write.
  char rest[512];
  while (std::fgets(rest, sizeof(rest), pipe) != nullptr) {
  }
  const int status = pclose(pipe);
  if (status != 0) return "";
  std::string text(line);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
    text.pop_back();
  }
  return text;
}

absl::StatusOr<int> ReserveLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) return absl::UnavailableError("socket failed");
  SocketAddress any = *SocketAddress::Parse("127.0.0.1:0");
  SocketAddress bound;
  socklen_t length = sizeof(bound.storage);
  const bool ok = bind(fd, any.get(), any.size()) == 0 &&
                  getsockname(fd, bound.get(), &length) == 0;
  close(fd);
  if (!ok) return absl::UnavailableError("bind 127.0.0.1:0 failed");
  return bound.port();
}

std::string FileTail(const std::string& path, size_t bytes) {
  const std::string text = ReadFile(path).value_or("");
  return text.size() > bytes ? text.substr(text.size() - bytes) : text;
}

}  // namespace cascade::bench
