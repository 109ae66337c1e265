#include "tests/common/notify_socket.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace cascade::testing {
namespace {

std::atomic<int> made{0};

}  // namespace

NotifySocket::NotifySocket()
    : path_(absl::StrCat("/tmp/cascade-notify-", getpid(), "-", ++made,
                         ".sock")) {
  fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  path_.copy(address.sun_path, sizeof(address.sun_path) - 1);
  unlink(path_.c_str());
  bound_ =
      bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  // Each read waits at most this long, so no read outlasts a deadline much.
  timeval wait{0, 50'000};
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof(wait));
}

NotifySocket::~NotifySocket() {
  close(fd_);
  unlink(path_.c_str());
}

bool NotifySocket::WaitFor(absl::string_view line, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    char buffer[4096];
    const ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
    if (n <= 0) continue;
    messages_.emplace_back(buffer, n);
    if (absl::StrContains(messages_.back(), line)) return true;
  }
  return false;
}

bool NotifySocket::WaitForCount(absl::string_view line, int count,
                                absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (Count(line) < count && absl::Now() < deadline) {
    WaitFor(line, deadline - absl::Now());
  }
  return Count(line) >= count;
}

int NotifySocket::Count(absl::string_view line) const {
  int count = 0;
  for (const std::string& message : messages_) {
    count += absl::StrContains(message, line);
  }
  return count;
}

}  // namespace cascade::testing
