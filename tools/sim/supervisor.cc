#include "tools/sim/supervisor.h"

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

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
  if (auto it = children_.find(name);
      it != children_.end() && it->second.running) {
    return absl::AlreadyExistsError(absl::StrCat(name, " is running"));
  }
  SubprocessOptions options(log_path, log_path);
  options.append = true;             // a restarted process continues its log
  options.own_process_group = true;  // a terminal's Ctrl-C reaches us only
  options.die_with_parent = true;
  absl::StatusOr<std::unique_ptr<Subprocess>> process =
      Subprocess::Start(argv, options);
  if (!process.ok()) return process.status();
  Child& child = children_[name];
  child = Child{};
  child.kind = kind;
  child.process = *std::move(process);
  child.running = true;
  return absl::OkStatus();
}

void Supervisor::Sample(Child* child) {
  if (!child->running) return;
  child->cpu_seconds = ProcCpuSeconds(child->process->pid());
  child->peak_rss_mb = ProcPeakRssMb(child->process->pid());
}

bool Supervisor::HasEnded(Child* child) {
  if (!child->running) return true;
  if (child->process->Running()) return false;
  // The kernel's own account of the finished process.
  const rusage& usage = child->process->usage();
  child->cpu_seconds =
      absl::ToDoubleSeconds(absl::DurationFromTimeval(usage.ru_utime) +
                            absl::DurationFromTimeval(usage.ru_stime));
  child->peak_rss_mb = static_cast<double>(usage.ru_maxrss) / 1024;
  child->running = false;
  child->unreported = true;
  return true;
}

int Supervisor::Code(const Child& child) {
  const int signal = child.process->termination_signal();
  if (signal != 0) return 128 + signal;
  return child.process->Wait(absl::ZeroDuration()).value_or(-1);
}

absl::Status Supervisor::Signal(const std::string& name, int signal) {
  auto it = children_.find(name);
  if (it == children_.end() || !it->second.running) {
    return absl::NotFoundError(absl::StrCat(name, " is not running"));
  }
  return it->second.process->Signal(signal);
}

absl::Status Supervisor::Kill(const std::string& name) {
  auto it = children_.find(name);
  if (it == children_.end() || !it->second.running) {
    return absl::NotFoundError(absl::StrCat(name, " is not running"));
  }
  it->second.process->Kill().IgnoreError();
  HasEnded(&it->second);
  it->second.unreported = false;
  return absl::OkStatus();
}

absl::Status Supervisor::Stop(const std::string& name, absl::Duration grace) {
  auto it = children_.find(name);
  if (it == children_.end() || !it->second.running) return absl::OkStatus();
  it->second.process->Stop(grace).IgnoreError();
  HasEnded(&it->second);
  it->second.unreported = false;
  return absl::OkStatus();
}

void Supervisor::StopAll(absl::Duration grace) {
  for (auto& [name, child] : children_) {
    if (child.running) child.process->Signal(SIGTERM).IgnoreError();
  }
  const absl::Time deadline = absl::Now() + grace;
  for (auto& [name, child] : children_) {
    if (child.running) {
      child.process->Wait(deadline - absl::Now()).IgnoreError();
      child.process->Kill().IgnoreError();  // nothing when it has ended
      HasEnded(&child);
    }
    child.unreported = false;
  }
}

bool Supervisor::Running(const std::string& name) {
  auto it = children_.find(name);
  return it != children_.end() && !HasEnded(&it->second);
}

std::vector<Ended> Supervisor::ReapExited() {
  std::vector<Ended> ended;
  for (auto& [name, child] : children_) {
    HasEnded(&child);
    if (!child.unreported) continue;
    child.unreported = false;
    Ended& end = ended.emplace_back();
    end.name = name;
    end.kind = child.kind;
    end.code = Code(child);
    const int signal = child.process->termination_signal();
    end.description = signal != 0
                          ? absl::StrCat(name, " killed by signal ", signal)
                          : absl::StrCat(name, " exited with code ", end.code);
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
  if (absl::IsDeadlineExceeded(child.process->Wait(timeout).status())) {
    return absl::DeadlineExceededError(absl::StrCat(
        name, " still running after ", absl::FormatDuration(timeout)));
  }
  HasEnded(&child);
  child.unreported = false;
  return Code(child);
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
