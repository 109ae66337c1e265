#include "tools/impair/tcp_delay/echo_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace cascade::testing_tcp {
namespace {

sockaddr_in Loopback(int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

bool SendAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t sent = send(fd, data, size, MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) continue;
    if (sent <= 0) return false;
    data += sent;
    size -= static_cast<size_t>(sent);
  }
  return true;
}

}  // namespace

EchoServer::EchoServer(std::string greeting) : greeting_(std::move(greeting)) {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address = Loopback(0);
  if (listen_fd_ < 0 ||
      bind(listen_fd_, reinterpret_cast<sockaddr*>(&address),
           sizeof(address)) != 0 ||
      listen(listen_fd_, 128) != 0) {
    return;
  }
  socklen_t length = sizeof(address);
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length);
  port_ = ntohs(address.sin_port);
  acceptor_ = std::thread([this] {
    while (true) {
      const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      absl::MutexLock lock(&mu_);
      if (stopping_) {
        if (fd >= 0) close(fd);
        return;
      }
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        return;
      }
      const size_t index = seen_.size();
      seen_.push_back(Seen{Clock::now(), Clock::now(), std::nullopt, 0});
      fds_.push_back(fd);
      threads_.emplace_back([this, fd, index] { Serve(fd, index); });
    }
  });
}

EchoServer::~EchoServer() {
  std::vector<std::thread> threads;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    for (int fd : fds_) shutdown(fd, SHUT_RDWR);
  }
  if (listen_fd_ >= 0) shutdown(listen_fd_, SHUT_RDWR);
  if (acceptor_.joinable()) acceptor_.join();
  {
    absl::MutexLock lock(&mu_);
    threads.swap(threads_);
  }
  for (std::thread& thread : threads) thread.join();
  absl::MutexLock lock(&mu_);
  for (int fd : fds_) close(fd);
  if (listen_fd_ >= 0) close(listen_fd_);
}

std::string EchoServer::address() const {
  return absl::StrCat("127.0.0.1:", port_);
}

std::vector<EchoServer::Seen> EchoServer::connections() const {
  absl::MutexLock lock(&mu_);
  return seen_;
}

void EchoServer::Serve(int fd, size_t index) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (!greeting_.empty()) {
    {
      absl::MutexLock lock(&mu_);
      seen_[index].greeted = Clock::now();
    }
    if (!SendAll(fd, greeting_.data(), greeting_.size())) return;
  }
  char buffer[16384];
  while (true) {
    const ssize_t got = recv(fd, buffer, sizeof(buffer), 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    {
      absl::MutexLock lock(&mu_);
      Seen& seen = seen_[index];
      if (!seen.first_byte) seen.first_byte = Clock::now();
      seen.bytes += static_cast<size_t>(got);
    }
    if (!SendAll(fd, buffer, static_cast<size_t>(got))) break;
  }
  // Its end of stream: everything was echoed, end ours.
  shutdown(fd, SHUT_WR);
}

Client::Client(int port) {
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address = Loopback(port);
  if (fd_ >= 0 && connect(fd_, reinterpret_cast<sockaddr*>(&address),
                          sizeof(address)) != 0) {
    close(fd_);
    fd_ = -1;
  }
  if (fd_ >= 0) {
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
}

Client::~Client() {
  if (fd_ >= 0) close(fd_);
}

bool Client::Send(const std::string& data) {
  return fd_ >= 0 && SendAll(fd_, data.data(), data.size());
}

void Client::ShutdownWrite() {
  if (fd_ >= 0) shutdown(fd_, SHUT_WR);
}

std::string Client::Read(size_t bytes, absl::Duration timeout) {
  std::string out;
  const absl::Time deadline = absl::Now() + timeout;
  char buffer[16384];
  while (fd_ >= 0 && out.size() < bytes) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) break;
    pollfd p{fd_, POLLIN, 0};
    const int ready =
        poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) break;
    const ssize_t got =
        recv(fd_, buffer, std::min(sizeof(buffer), bytes - out.size()), 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    out.append(buffer, static_cast<size_t>(got));
  }
  return out;
}

bool Client::WaitForEnd(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  char buffer[16384];
  while (fd_ >= 0) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return false;
    pollfd p{fd_, POLLIN, 0};
    const int ready =
        poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return false;
    const ssize_t got = recv(fd_, buffer, sizeof(buffer), 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return true;  // end of stream, or reset
  }
  return true;
}

std::string Pattern(size_t size, int seed) {
  std::string out(size, '\0');
  uint32_t state = 2166136261u ^ static_cast<uint32_t>(seed);
  for (size_t i = 0; i < size; ++i) {
    state = state * 16777619u + 1013904223u;
    out[i] = static_cast<char>(state >> 24);
  }
  return out;
}

}  // namespace cascade::testing_tcp
