#include "base/subprocess.h"

#include <errno.h>
#include <fcntl.h>
#include <glog/logging.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "absl/cleanup/cleanup.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "base/files.h"

extern char** environ;

namespace cascade {
namespace {

// This process's environment with `extra` added, an entry of `extra`
// replacing one of the same name.
std::vector<std::string> Environment(const std::vector<std::string>& extra) {
  absl::flat_hash_set<absl::string_view> names;
  for (const std::string& entry : extra) {
    names.insert(entry.substr(0, entry.find('=')));
  }
  std::vector<std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const absl::string_view text(*entry);
    if (!names.contains(text.substr(0, text.find('=')))) env.emplace_back(text);
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

std::vector<char*> Pointers(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (std::string& s : strings) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  return pointers;
}

// In the child: makes `fd` its descriptor `target` (kept open across exec).
// Only async-signal-safe calls: the parent may have other threads.
bool Redirect(int fd, int target) {
  if (fd < 0) return true;                              // the parent's own
  if (fd == target) return fcntl(fd, F_SETFD, 0) == 0;  // drop O_CLOEXEC
  return dup2(fd, target) == target;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Subprocess>> Subprocess::Start(
    const std::vector<std::string>& argv, const SubprocessOptions& options) {
  if (argv.empty()) return absl::InvalidArgumentError("empty command");
  // Everything the child needs is made here: between fork and exec it may
  // not allocate.
  std::string path = argv[0];
  if (path.find('/') == std::string::npos) {
    absl::StatusOr<std::string> found = FindOnPath(path);
    if (!found.ok()) return found.status();
    path = *std::move(found);
  }
  std::vector<std::string> args = argv;
  std::vector<char*> arg_pointers = Pointers(args);
  std::vector<std::string> env = Environment(options.env);
  std::vector<char*> env_pointers = Pointers(env);
  // The child first copies each of `child_fds` above every number it will
  // give (`above`), so giving one number never overwrites a descriptor still
  // to be given. `copies` holds them, allocated here: the child may not.
  absl::flat_hash_set<int> child_numbers;
  int above = STDERR_FILENO + 1;
  for (const SubprocessOptions::ChildFd& passed : options.child_fds) {
    if (passed.fd < 0 || passed.child_fd <= STDERR_FILENO ||
        !child_numbers.insert(passed.child_fd).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cannot give ", path, " descriptor ", passed.fd, " as ",
          passed.child_fd, ": numbers start at 3, each given once"));
    }
    above = std::max(above, passed.child_fd + 1);
  }
  std::vector<int> copies(options.child_fds.size(), -1);

  // Descriptors opened for the child, closed here once it has its copies.
  std::vector<int> opened;
  absl::Cleanup close_opened = [&opened] {
    for (int fd : opened) close(fd);
  };
  auto open_for_child = [&opened](const std::string& file,
                                  int flags) -> absl::StatusOr<int> {
    const int fd = open(file.c_str(), flags | O_CLOEXEC, 0644);
    if (fd < 0) return ErrnoStatus("cannot open", file);
    opened.push_back(fd);
    return fd;
  };
  absl::StatusOr<int> in = open_for_child("/dev/null", O_RDONLY);
  if (!in.ok()) return in.status();
  const int output_flags =
      O_WRONLY | O_CREAT | (options.append ? O_APPEND : O_TRUNC);
  int out = -1, err = -1;  // -1: this process's own
  if (!options.stdout_path.empty()) {
    absl::StatusOr<int> fd = open_for_child(options.stdout_path, output_flags);
    if (!fd.ok()) return fd.status();
    out = *fd;
  }
  if (options.stderr_path == options.stdout_path) {
    err = out;  // one open file: the two streams interleave in order
  } else if (!options.stderr_path.empty()) {
    absl::StatusOr<int> fd = open_for_child(options.stderr_path, output_flags);
    if (!fd.ok()) return fd.status();
    err = *fd;
  }
  // The child reports a failure before exec through this pipe; exec closes
  // it, so end of file means the program runs.
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) {
    return ErrnoStatus("cannot make a pipe for", path);
  }
  opened.push_back(report[0]);

  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) {
    bool ok = true;
    if (options.die_with_parent) {
      ok = prctl(PR_SET_PDEATHSIG, SIGKILL) == 0;
      if (getppid() != parent) _exit(127);  // the parent died already
    }
    if (ok && options.own_process_group) ok = setpgid(0, 0) == 0;
    for (size_t i = 0; ok && i < copies.size(); ++i) {
      copies[i] = fcntl(options.child_fds[i].fd, F_DUPFD_CLOEXEC, above);
      ok = copies[i] >= 0;
    }
    ok = ok && Redirect(*in, STDIN_FILENO) && Redirect(out, STDOUT_FILENO) &&
         Redirect(err, STDERR_FILENO);
    for (size_t i = 0; ok && i < copies.size(); ++i) {
      ok = Redirect(copies[i], options.child_fds[i].child_fd);
    }
    if (ok) execve(path.c_str(), arg_pointers.data(), env_pointers.data());
    const int error = errno;
    (void)!write(report[1], &error, sizeof(error));
    _exit(127);
  }
  const int fork_error = errno;
  close(report[1]);
  if (pid < 0) {
    errno = fork_error;
    return ErrnoStatus("cannot fork for", path);
  }
  int error = 0;
  ssize_t n;
  while ((n = read(report[0], &error, sizeof(error))) < 0 && errno == EINTR) {
  }
  auto process = std::unique_ptr<Subprocess>(
      new Subprocess(pid, argv[0], options.own_process_group));
  if (n > 0) {
    process->Reap(/*block=*/true);
    return absl::ErrnoToStatus(error, absl::StrCat("cannot start ", path));
  }
  return process;
}

Subprocess::~Subprocess() {
  if (!reaped_) Kill().IgnoreError();
}

bool Subprocess::Reap(bool block) {
  if (reaped_) return true;
  if (own_process_group_) {
    // The group ends with its leader: what the child left running in it is
    // killed before the reap, while the leader's pid still holds the group
    // id (afterwards the id could name another group).
    siginfo_t info = {};
    int found;
    while ((found = waitid(P_PID, pid_, &info,
                           WEXITED | WNOWAIT | (block ? 0 : WNOHANG))) < 0 &&
           errno == EINTR) {
    }
    if (found == 0 && info.si_pid == 0) return false;  // still running
    if (found == 0) kill(-pid_, SIGKILL);
  }
  int status = 0;
  pid_t reaped;
  while ((reaped = wait4(pid_, &status, block ? 0 : WNOHANG, &usage_)) < 0 &&
         errno == EINTR) {
  }
  if (reaped == 0) return false;
  reaped_ = true;
  if (reaped < 0) {
    // Reaped elsewhere (SIGCHLD ignored, a stray waitpid(-1)): gone, but
    // how it ended is lost.
    ended_ = absl::ErrnoToStatus(errno, absl::StrCat("wait for ", program_));
    LOG(WARNING) << ended_.status();
  } else if (WIFSIGNALED(status)) {
    termination_signal_ = WTERMSIG(status);
    ended_ = absl::AbortedError(
        absl::StrCat(program_, " killed by signal ", termination_signal_));
  } else {
    ended_ = WEXITSTATUS(status);
  }
  return true;
}

bool Subprocess::Running() { return !Reap(/*block=*/false); }

absl::Status Subprocess::Signal(int signum) const {
  if (reaped_) {
    return absl::FailedPreconditionError(
        absl::StrCat(program_, " (pid ", pid_, ") has ended"));
  }
  if (kill(pid_, signum) != 0) {
    return ErrnoStatus(absl::StrCat("signal ", signum, " to"), program_);
  }
  return absl::OkStatus();
}

absl::StatusOr<int> Subprocess::Wait(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  // An exit raises nothing to wait on without a SIGCHLD handler (which would
  // be the whole process's): check often, more often early on, when most
  // children that are waited for end.
  absl::Duration pause = absl::Milliseconds(1);
  while (!Reap(/*block=*/false)) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(
          absl::StrCat(program_, " (pid ", pid_, ") still running after ",
                       absl::FormatDuration(timeout)));
    }
    absl::SleepFor(std::min(pause, left));
    pause = std::min(pause * 2, absl::Milliseconds(10));
  }
  return ended_;
}

absl::StatusOr<int> Subprocess::Stop(absl::Duration grace) {
  if (Running()) {
    Signal(SIGTERM).IgnoreError();  // it may end in between: Wait says how
    if (absl::IsDeadlineExceeded(Wait(grace).status())) return Kill();
  }
  return ended_;
}

absl::StatusOr<int> Subprocess::Kill() {
  if (!reaped_) {
    // The pid as well as the group: the child may have left its group.
    // Unreaped, neither id can name another process yet.
    if (own_process_group_) kill(-pid_, SIGKILL);
    kill(pid_, SIGKILL);
    Reap(/*block=*/true);
  }
  return ended_;
}

std::string ExitText(const absl::StatusOr<int>& ended) {
  if (ended.ok()) return absl::StrCat("exit code ", *ended);
  return std::string(ended.status().message());
}

absl::StatusOr<std::string> FindOnPath(absl::string_view name) {
  const char* path = std::getenv("PATH");
  for (absl::string_view dir : absl::StrSplit(
           path != nullptr ? path : "/usr/bin:/bin", ':', absl::SkipEmpty())) {
    std::string candidate = absl::StrCat(dir, "/", name);
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return absl::NotFoundError(absl::StrCat(name, " not found on PATH"));
}

}  // namespace cascade
