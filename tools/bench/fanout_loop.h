// The bare fan-out baselines: the least a forwarder can do per packet on this
// kernel, for the harness to compare real forwarders against.
#ifndef CASCADE_TOOLS_BENCH_FANOUT_LOOP_H_
#define CASCADE_TOOLS_BENCH_FANOUT_LOOP_H_

#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tools/impair/socket_address.h"

namespace cascade::bench {

enum class FanoutMode {
  // One sendmmsg entry per (packet, child).
  kSendmmsg,
  // One UDP GSO (UDP_SEGMENT) message per (burst of equal packets, child).
  kGso,
};

absl::StatusOr<FanoutMode> ParseFanoutMode(absl::string_view text);

struct FanoutCounters {
  uint64_t received = 0;
  uint64_t sent = 0;  // datagrams the kernel accepted (GSO segments each)
  uint64_t truncated = 0;
  uint64_t send_errors = 0;
  uint64_t send_calls = 0;
};

// Receives with recvmmsg on one socket and sends every datagram to every
// child, in arrival order. One thread, blocking sockets.
class FanoutLoop {
 public:
  static constexpr int kBatch = 64;
  static constexpr size_t kMaxDatagram = 2048;

  static absl::StatusOr<std::unique_ptr<FanoutLoop>> Create(
      FanoutMode mode, const SocketAddress& listen,
      std::vector<SocketAddress> children);
  ~FanoutLoop();
  FanoutLoop(const FanoutLoop&) = delete;
  FanoutLoop& operator=(const FanoutLoop&) = delete;

  const SocketAddress& listen_address() const { return listen_address_; }

  // Forwards until `stop` is set; it is checked at least every 100 ms.
  void Run(const std::atomic<bool>& stop);
  // Only meaningful from Run's thread or after Run returned.
  const FanoutCounters& counters() const { return counters_; }

 private:
  FanoutLoop(FanoutMode mode, int fd, std::vector<SocketAddress> children);
  void SendEach(int count);
  void SendGso(int count);
  // Sends messages_[0..count), skipping any entry the kernel refuses.
  void Flush(size_t count);

  const FanoutMode mode_;
  const int fd_;
  const std::vector<SocketAddress> children_;
  SocketAddress listen_address_;
  FanoutCounters counters_;

  std::vector<char> buffers_;
  std::vector<iovec> receive_iovs_;
  std::vector<mmsghdr> receive_messages_;
  std::vector<mmsghdr> messages_;
  std::vector<uint32_t> segments_;  // datagrams carried by each message
  std::vector<iovec> send_iovs_;    // per message, GSO runs point into here
  std::vector<char> controls_;      // one UDP_SEGMENT cmsg per run
};

}  // namespace cascade::bench

#endif  // CASCADE_TOOLS_BENCH_FANOUT_LOOP_H_
