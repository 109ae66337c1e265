// Test helpers for tcp-delay: a real TCP echo server on 127.0.0.1 (threads
// and blocking sockets, nothing shared with the proxy's loop) and a blocking
// client with bounded waits.
#ifndef CASCADE_TOOLS_IMPAIR_TCP_DELAY_ECHO_SERVER_H_
#define CASCADE_TOOLS_IMPAIR_TCP_DELAY_ECHO_SERVER_H_

#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace cascade::testing_tcp {

using Clock = std::chrono::steady_clock;

class EchoServer {
 public:
  // Listens on 127.0.0.1 with a port the kernel chose. Each connection is
  // sent `greeting` first (if any), then everything it sends comes back;
  // at its end of stream the server closes.
  explicit EchoServer(std::string greeting = "");
  // Ends every connection and joins the threads.
  ~EchoServer();
  EchoServer(const EchoServer&) = delete;
  EchoServer& operator=(const EchoServer&) = delete;

  int port() const { return port_; }
  std::string address() const;
  // When each connection's greeting was sent and its first byte arrived
  // (nullopt: none yet), in the order they were accepted.
  struct Seen {
    Clock::time_point accepted;
    Clock::time_point greeted;
    std::optional<Clock::time_point> first_byte;
    size_t bytes = 0;
  };
  std::vector<Seen> connections() const;

 private:
  void Serve(int fd, size_t index);

  const std::string greeting_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::thread acceptor_;
  mutable absl::Mutex mu_;
  std::vector<Seen> seen_ ABSL_GUARDED_BY(mu_);
  std::vector<int> fds_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

// A blocking client socket; every wait is bounded.
class Client {
 public:
  // Connects to 127.0.0.1:`port`; check connected().
  explicit Client(int port);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool connected() const { return fd_ >= 0; }
  // All of `data`; false if the connection failed.
  bool Send(const std::string& data);
  // Ends the sending side (the peer reads an end of stream).
  void ShutdownWrite();
  // Reads until `bytes` arrived, the peer ended the stream or `timeout`
  // passed: what arrived.
  std::string Read(size_t bytes, absl::Duration timeout);
  // True once the peer ended the stream or reset it, within `timeout`
  // (anything still arriving is read and dropped).
  bool WaitForEnd(absl::Duration timeout);

 private:
  int fd_ = -1;
};

// `size` bytes that differ with `seed` and position.
std::string Pattern(size_t size, int seed);

}  // namespace cascade::testing_tcp

#endif  // CASCADE_TOOLS_IMPAIR_TCP_DELAY_ECHO_SERVER_H_
