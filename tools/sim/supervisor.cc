#include "tools/sim/supervisor.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace cascade::sim {
namespace {

// utime + stime of a live process, from /proc/PID/stat.
double ProcCpuSeconds(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string line;
  if (!std::getline(in, line)) return 0;
  // The command name may hold spaces: fields start after the last ')'.
  size_t close = line.rfind(')');
  if (close == std::string::npos) return 0;
  std::vector<std::string> fields = absl::StrSplit(line.substr(close + 2), ' ');
  // Fields 14 and 15 of stat(5); index 0 here is field 3 (state).
  if (fields.size() < 13) return 0;
  double utime = 0, stime = 0;
  if (!absl::SimpleAtod(fields[11], &utime) ||
      !absl::SimpleAtod(fields[12], &stime)) {
    return 0;
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// VmHWM (peak resident set) of a live process, in MiB.
double ProcPeakRssMb(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      std::istringstream fields(line.substr(6));
      double kb = 0;
      fields >> kb;
      return kb / 1024;
    }
  }
  return 0;
}

}  // namespace

Supervisor::~Supervisor() { StopAll(absl::Seconds(2)); }

absl::Status Supervisor::Start(const std::string& name, const std::string& kind,
                               const std::vector<std::string>& argv,
                               const std::string& log_path) {
  if (argv.empty()) return absl::InvalidArgumentError("empty command");
  if (auto it = children_.find(name);
      it != children_.end() && it->second.running) {
    return absl::AlreadyExistsError(absl::StrCat(name, " is running"));
  }
  int log_fd =
      open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    return absl::InternalError(
        absl::StrCat("cannot open ", log_path, ": ", std::strerror(errno)));
  }
  std::vector<char*> args;
  for (const std::string& arg : argv)
    args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  const pid_t parent = getpid();

  pid_t pid = fork();
  if (pid < 0) {
    close(log_fd);
    return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  }
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // the supervisor already died
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    setpgid(0, 0);  // a terminal's Ctrl-C reaches the supervisor only
    execv(args[0], args.data());
    _exit(127);
  }
  close(log_fd);
  Child& child = children_[name];
  child = Child{};
  child.kind = kind;
  child.pid = pid;
  child.running = true;
  return absl::OkStatus();
}

void Supervisor::Sample(Child* child) {
  if (!child->running) return;
  child->cpu_seconds = ProcCpuSeconds(child->pid);
  child->peak_rss_mb = ProcPeakRssMb(child->pid);
}

bool Supervisor::TryReap(Child* child, bool block) {
  int status = 0;
  rusage usage{};
  if (wait4(child->pid, &status, block ? 0 : WNOHANG, &usage) != child->pid) {
    return false;
  }
  // The kernel's own account of the finished process.
  child->cpu_seconds =
      absl::ToDoubleSeconds(absl::DurationFromTimeval(usage.ru_utime) +
                            absl::DurationFromTimeval(usage.ru_stime));
  child->peak_rss_mb = static_cast<double>(usage.ru_maxrss) / 1024;
  child->running = false;
  child->exit_status = status;
  child->unreported = true;
  return true;
}

absl::Status Supervisor::Signal(const std::string& name, int signal) {
  auto it = children_.find(name);
  if (it == children_.end() || !it->second.running) {
    return absl::NotFoundError(absl::StrCat(name, " is not running"));
  }
  if (kill(it->second.pid, signal) != 0) {
    return absl::InternalError(
        absl::StrCat("kill ", name, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status Supervisor::Kill(const std::string& name) {
  auto it = children_.find(name);
  if (it == children_.end() || !it->second.running) {
    return absl::NotFoundError(absl::StrCat(name, " is not running"));
  }
  kill(it->second.pid, SIGKILL);
  TryReap(&it->second, /*block=*/true);
  it->second.unreported = false;
  return absl::OkStatus();
}

absl::Status Supervisor::Stop(const std::string& name, absl::Duration grace) {
  auto it = children_.find(name);
  if (it == children_.end() || !it->second.running) return absl::OkStatus();
  kill(it->second.pid, SIGTERM);
  absl::StatusOr<int> exited = Wait(name, grace);
  if (exited.ok()) return absl::OkStatus();
  return Kill(name);
}

void Supervisor::StopAll(absl::Duration grace) {
  for (auto& [name, child] : children_) {
    if (child.running) kill(child.pid, SIGTERM);
  }
  const absl::Time deadline = absl::Now() + grace;
  for (auto& [name, child] : children_) {
    while (child.running && absl::Now() < deadline &&
           !TryReap(&child, /*block=*/false)) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    if (child.running) {
      kill(child.pid, SIGKILL);
      TryReap(&child, /*block=*/true);
    }
    child.unreported = false;
  }
}

bool Supervisor::Running(const std::string& name) {
  auto it = children_.find(name);
  if (it == children_.end()) return false;
  Child& child = it->second;
  return child.running && !TryReap(&child, /*block=*/false);
}

std::vector<Ended> Supervisor::ReapExited() {
  std::vector<Ended> ended;
  for (auto& [name, child] : children_) {
    if (child.running) TryReap(&child, /*block=*/false);
    if (!child.unreported) continue;
    child.unreported = false;
    const int status = child.exit_status;
    Ended& end = ended.emplace_back();
    end.name = name;
    end.kind = child.kind;
    if (WIFEXITED(status)) {
      end.code = WEXITSTATUS(status);
      end.description = absl::StrCat(name, " exited with code ", end.code);
    } else {
      end.code = 128 + WTERMSIG(status);
      end.description =
          absl::StrCat(name, " killed by signal ", WTERMSIG(status));
    }
  }
  return ended;
}

absl::StatusOr<int> Supervisor::Wait(const std::string& name,
                                     absl::Duration timeout) {
  auto it = children_.find(name);
  if (it == children_.end()) {
    return absl::NotFoundError(absl::StrCat("no process ", name));
  }
  Child& child = it->second;
  const absl::Time deadline = absl::Now() + timeout;
  while (child.running && !TryReap(&child, /*block=*/false)) {
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          name, " still running after ", absl::FormatDuration(timeout)));
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  child.unreported = false;
  if (WIFEXITED(child.exit_status)) return WEXITSTATUS(child.exit_status);
  return 128 + WTERMSIG(child.exit_status);
}

absl::flat_hash_map<std::string, KindUsage> Supervisor::UsageByKind() {
  absl::flat_hash_map<std::string, KindUsage> usage;
  for (auto& [name, child] : children_) {
    Sample(&child);
    KindUsage& kind = usage[child.kind];
    ++kind.processes;
    kind.cpu_seconds += child.cpu_seconds;
    kind.peak_rss_mb_total += child.peak_rss_mb;
    if (child.peak_rss_mb > kind.peak_rss_mb_max) {
      kind.peak_rss_mb_max = child.peak_rss_mb;
    }
  }
  return usage;
}

}  // namespace cascade::sim
