#include "tools/sim/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace cascade::sim {
namespace {

// Waits until `fd` is ready for `events` or the deadline passes.
bool WaitFd(int fd, short events, absl::Time deadline) {
  const int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now());
  if (ms <= 0) return false;
  pollfd p{fd, events, 0};
  return poll(&p, 1, static_cast<int>(ms)) == 1;
}

}  // namespace

absl::StatusOr<std::string> HttpGet(const std::string& host_port,
                                    const std::string& path,
                                    absl::Duration timeout) {
  std::pair<std::string, std::string> parts =
      absl::StrSplit(host_port, absl::MaxSplits(':', 1));
  int port = 0;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  if (!absl::SimpleAtoi(parts.second, &port) || port <= 0 || port > 65535 ||
      inet_pton(AF_INET, parts.first.c_str(), &address.sin_addr) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("not an IPv4 HOST:PORT: ", host_port));
  }
  address.sin_port = htons(static_cast<uint16_t>(port));
  const absl::Time deadline = absl::Now() + timeout;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(std::strerror(errno));
  std::string response;
  absl::Status status = absl::OkStatus();
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) !=
          0 &&
      errno != EINPROGRESS) {
    status = absl::UnavailableError(
        absl::StrCat("connect ", host_port, ": ", std::strerror(errno)));
  }
  const std::string request =
      absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: ", host_port, "\r\n\r\n");
  size_t sent = 0;
  while (status.ok() && sent < request.size()) {
    if (!WaitFd(fd, POLLOUT, deadline)) {
      status = absl::DeadlineExceededError(absl::StrCat("GET ", host_port));
      break;
    }
    ssize_t n =
        send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN) {
      status = absl::UnavailableError(
          absl::StrCat("GET ", host_port, ": ", std::strerror(errno)));
    }
    if (n > 0) sent += static_cast<size_t>(n);
  }
  char buffer[16384];
  while (status.ok()) {
    if (!WaitFd(fd, POLLIN, deadline)) {
      status = absl::DeadlineExceededError(absl::StrCat("GET ", host_port));
      break;
    }
    ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n == 0) break;
    if (n < 0 && errno != EAGAIN) {
      status = absl::UnavailableError(
          absl::StrCat("GET ", host_port, ": ", std::strerror(errno)));
    }
    if (n > 0) response.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  if (!status.ok()) return status;
  const size_t body = response.find("\r\n\r\n");
  if (!absl::StartsWith(response, "HTTP/1.") || body == std::string::npos ||
      response.find(" 200 ") > body) {
    return absl::UnavailableError(
        absl::StrCat("GET ", host_port, path, ": not a 200 response"));
  }
  return response.substr(body + 4);
}

double MetricSum(absl::string_view text, absl::string_view name) {
  double sum = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::ConsumePrefix(&line, name)) continue;
    // The name must end here: a space or a label set follows.
    if (line.empty() || (line[0] != ' ' && line[0] != '{')) continue;
    const size_t space = line.rfind(' ');
    double value = 0;
    if (space != absl::string_view::npos &&
        absl::SimpleAtod(line.substr(space + 1), &value)) {
      sum += value;
    }
  }
  return sum;
}

}  // namespace cascade::sim
